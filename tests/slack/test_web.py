"""The WSGI application over real HTTP: routing, limits, signatures, health."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
import requests

from bot.testing.app import RunningApp
from bot.testing.signing import FORM, SECRET, SlackRequest, event_callback, slash_command
from bot.web import BODY_KEY, MAX_BODY, MO_PATH, STATUS_PATH, build_web_app, not_ready


def test_health_is_ok_with_database_and_workers(app: RunningApp) -> None:
    answer = requests.get(f"{app.url}/healthz", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    assert body["database"] is True
    assert body["workers"]["work-executor"] is True
    assert all(body["workers"].values())
    assert body["gateway"] == "sandbox"


def test_health_is_503_when_a_worker_stopped(app: RunningApp) -> None:
    app.services.executor.stop()
    answer = requests.get(f"{app.url}/healthz", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["ok"] is False


def test_unknown_path_is_404(app: RunningApp) -> None:
    assert requests.get(f"{app.url}/nope", timeout=10).status_code == 404
    assert requests.post(f"{app.url}/slack/eventsX", data=b"x", timeout=10).status_code == 404


def test_slack_path_needs_post(app: RunningApp) -> None:
    assert requests.get(f"{app.url}/slack/events", timeout=10).status_code == 405


def test_body_over_64_kib_is_413(app: RunningApp) -> None:
    big = slash_command("send 27821234567 " + "x" * MAX_BODY, response_url=app.fake.response_url())
    answer = app.post(big)
    assert answer.status_code == 413
    assert app.fake.calls_to("response_url") == []


def test_body_of_exactly_64_kib_is_read(app: RunningApp) -> None:
    request = slash_command("help", response_url=app.fake.response_url())
    padded = SlackRequest(request.body + b"&pad=" + b"x" * (MAX_BODY - len(request.body) - 5), FORM)
    assert len(padded.body) == MAX_BODY
    assert app.post(padded).status_code == 200


def test_bad_signature_is_401(app: RunningApp) -> None:
    answer = app.post(
        slash_command("balance", response_url=app.fake.response_url()), secret="not-the-secret"
    )
    assert answer.status_code == 401
    assert app.sandbox.messages() == []


def test_stale_timestamp_is_401(app: RunningApp) -> None:
    answer = app.post(
        slash_command("balance", response_url=app.fake.response_url()),
        timestamp=int(time.time()) - 6 * 60,
    )
    assert answer.status_code == 401


def test_timestamp_within_five_minutes_is_accepted(app: RunningApp) -> None:
    answer = app.post(
        slash_command("help", response_url=app.fake.response_url()),
        timestamp=int(time.time()) - 4 * 60,
    )
    assert answer.status_code == 200


def test_missing_or_malformed_signature_headers_are_401(app: RunningApp) -> None:
    body = slash_command("balance", response_url=app.fake.response_url()).body
    url = f"{app.url}/slack/events"
    cases: list[dict[str, str]] = [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time()))},
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
        {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=00"},
    ]
    for headers in cases:
        answer = requests.post(url, data=body, headers={"Content-Type": FORM, **headers})
        assert answer.status_code == 401, headers


def test_signed_garbage_is_400_not_500(app: RunningApp) -> None:
    for body, kind in [
        (b"payload=%7Bnot+json", FORM),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe", FORM),
    ]:
        headers = SlackRequest(body, kind).headers(SECRET)  # signed over the raw bytes
        answer = requests.post(f"{app.url}/slack/events", data=body, headers=headers, timeout=10)
        assert answer.status_code == 400, body


def test_url_verification_challenge_is_answered(app: RunningApp) -> None:
    body = json.dumps({"token": "t", "challenge": "abc123", "type": "url_verification"}).encode()
    answer = app.post(SlackRequest(body, "application/json"))
    assert answer.status_code == 200
    assert answer.json() == {"challenge": "abc123"}


def test_message_events_reach_the_inbound_seam(
    app: RunningApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(app.services.inbound.relay, "handle_event", seen.append)
    event = {
        "type": "message",
        "channel": "C0GENERAL",
        "user": "U0ALICE",
        "text": "on my way",
        "ts": "1700000500.000100",
        "thread_ts": "1700000000.000001",
        "channel_type": "channel",
    }
    answer = app.post(event_callback(event, event_id="Ev42"))
    assert answer.status_code == 200
    from bot.testing.waiting import wait_for

    wait_for(lambda: seen, 10, "the message event")
    assert seen[0]["event_id"] == "Ev42"
    assert seen[0]["event"]["text"] == "on my way"


# --------------------------------------------------------------------------- callback seam


def _call(app_callable: Any, method: str, query: str = "", body: bytes = b"") -> tuple[str, bytes]:
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": STATUS_PATH,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    chunks = app_callable(environ, lambda status, headers: statuses.append(status))
    return statuses[0], b"".join(chunks)


def test_not_ready_callbacks_answer_the_url_check_only() -> None:
    environ_app = build_web_app(_NoServices(), None, {STATUS_PATH: not_ready, MO_PATH: not_ready})
    assert _call(environ_app, "GET")[0].startswith("200")
    assert _call(environ_app, "POST")[0].startswith("200")
    assert _call(environ_app, "GET", query="apiMsgId=1&status=004")[0].startswith("503")
    assert _call(environ_app, "POST", body=b"apiMsgId=1")[0].startswith("503")


def test_callback_routes_receive_the_bounded_body() -> None:
    received: list[bytes] = []

    def handler(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        received.append(environ[BODY_KEY])
        assert environ["wsgi.input"].read() == environ[BODY_KEY]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    web = build_web_app(_NoServices(), None, {STATUS_PATH: handler})
    status, body = _call(web, "POST", body=b"apiMsgId=abc&status=003")
    assert status.startswith("200") and body == b"ok"
    assert received == [b"apiMsgId=abc&status=003"]
    # In Socket Mode (no Bolt app over HTTP) /slack/events does not exist.
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "wsgi.input": io.BytesIO()}
    statuses: list[str] = []
    web(environ, lambda status, headers: statuses.append(status))
    assert statuses[0].startswith("404")


class _NoServices:
    """Just enough of Services for routing tests without a database."""

    class settings:  # mimics Services.settings
        slack_signing_secret = SECRET

    @staticmethod
    def health() -> tuple[bool, dict[str, Any]]:
        return True, {}
