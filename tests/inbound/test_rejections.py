"""Rejected requests: one log line each, rate-limited per reason, never a secret — over HTTP
(signed Slack requests to the real app, callbacks to the real endpoints), and the rate limit
with an injected clock."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from bot.gateway.clickatell_http.decoder import ClickatellHttpCallbacks
from bot.inbound.endpoints import CallbackEndpoints, Credentials
from bot.inbound.rejections import RejectionLog
from bot.serve import HttpServer
from bot.storage.sqlite import SqliteStorage
from bot.testing.app import RunningApp
from bot.testing.callbacks import post, status_params
from bot.testing.clocks import ManualClock
from bot.testing.signing import slash_command
from bot.web import STATUS_PATH, WebApp

PASSWORD = "s3cret-callback-password"
TOKEN = "t0ken-in-the-url"
API_ID = "3123456"


def _rejected(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.rejected"]


# --- the rate limit ---------------------------------------------------------------------------


def test_each_reason_logs_a_few_lines_a_minute_then_says_how_many_were_held_back(caplog):
    clock = ManualClock(1000.0)
    rejections = RejectionLog(per_window=2, window=60, clock=clock)
    with caplog.at_level(logging.WARNING, "bot.rejected"):
        for _ in range(5):
            rejections.rejected("bad signature", "/slack/events from 10.0.0.1")
        rejections.rejected("foreign api_id")  # another reason has its own allowance
        assert _rejected(caplog) == [
            "rejected: bad signature (/slack/events from 10.0.0.1)",
            "rejected: bad signature (/slack/events from 10.0.0.1)",
            "rejected: foreign api_id",
        ]
        clock.advance(61)
        rejections.rejected("foreign api_id")  # any later rejection brings the summary out
    assert _rejected(caplog)[3:] == [
        "rejected: bad signature … and 3 more in the last 61 s",
        "rejected: foreign api_id",
    ]


# --- Slack ------------------------------------------------------------------------------------


def test_bad_signature_and_stale_timestamp_are_logged_without_the_signature(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "bot.rejected"):
        request = slash_command("balance", response_url=app.fake.response_url())
        assert app.post(request, secret="not-the-secret").status_code == 401
        stale = slash_command("balance", response_url=app.fake.response_url())
        assert app.post(stale, timestamp=int(time.time()) - 6 * 60).status_code == 401
        unsigned = requests.post(f"{app.url}/slack/events", data=b"x=1")
        assert unsigned.status_code == 401
    lines = _rejected(caplog)
    assert len(lines) == 3
    assert lines[0].startswith("rejected: Slack request with a bad signature")
    assert "SLACK_SIGNING_SECRET" in lines[0] and "/slack/events from 127.0.0.1" in lines[0]
    assert lines[1].startswith("rejected: Slack request with a stale timestamp (+36")
    assert "check the server clock" in lines[1]
    assert lines[2].startswith("rejected: Slack request without a signature")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "v0=" not in text and app.settings.slack_signing_secret not in text


# --- callbacks --------------------------------------------------------------------------------


@pytest.fixture
def endpoint_url(tmp_path: Path) -> Iterator[str]:
    storage = SqliteStorage(tmp_path / "db.sqlite3")
    endpoints = CallbackEndpoints(
        storage,
        decoder=ClickatellHttpCallbacks(API_ID),
        credentials=Credentials("clickatell", PASSWORD, TOKEN),
    )
    server = HttpServer("127.0.0.1", 0, threads=2)
    server.serve(WebApp(endpoints.routes(STATUS_PATH, "/clickatell/mo")))
    try:
        yield server.url + STATUS_PATH
    finally:
        server.stop()
        storage.close()


def test_callbacks_without_or_with_wrong_credentials_or_for_another_account_are_logged(
    endpoint_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with requests.Session() as http, caplog.at_level(logging.WARNING, "bot.rejected"):
        params = status_params("a" * 32, "004", api_id=API_ID)
        assert post(http, endpoint_url, params, None).status_code == 401
        assert post(http, endpoint_url, params, ("clickatell", "guess")).status_code == 401
        wrong_token = f"{endpoint_url}?token=guessed-{TOKEN}"
        assert post(http, wrong_token, params, None).status_code == 401
        foreign = status_params("b" * 32, "004", api_id="999")
        assert post(http, endpoint_url, foreign, ("clickatell", PASSWORD)).status_code == 403
    lines = _rejected(caplog)
    assert [line.split(" (")[0] for line in lines] == [
        "rejected: callback without credentials",
        "rejected: callback with wrong credentials",
        "rejected: callback with a wrong token",
        "rejected: callback for another account",
    ]
    assert all("/clickatell/status from 127.0.0.1" in line for line in lines)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in text and TOKEN not in text and "guess" not in text


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 30)), max_size=60))
def test_every_rejection_is_either_logged_or_counted_in_a_summary(calls):
    clock = ManualClock(0.0)
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger(f"test.rejections.{id(lines)}")
    logger.addHandler(Capture())
    logger.propagate = False
    rejections = RejectionLog(per_window=3, window=60, clock=clock, logger=logger)
    for reason, pause in calls:
        clock.advance(pause)
        rejections.rejected(reason)
    clock.advance(61)
    rejections.rejected("d")  # after every window has closed: the last summaries come out
    summarised = sum(int(line.split("and ")[1].split()[0]) for line in lines if "more in" in line)
    logged = sum(1 for line in lines if "more in" not in line)
    assert logged + summarised == len(calls) + 1
