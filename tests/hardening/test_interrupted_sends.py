"""A send cut off by the process ending (SIGKILL, or SIGTERM while the gateway does not answer)
is settled at the next start: the gateway is asked by the send's client ID; sent or "not sent",
the card says which and the sender is told. SIGTERM gives work in flight a bounded grace, well
under a container's 10 s, and leaves the rest to that recovery (issue 16, case 3). Real
`python -m bot serve` processes against a gateway stand-in that never answers the send."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.hardening.rawgateway import RawGateway, whole
from tests.hardening.support import (
    ROOT,
    HistorySlack,
    post_signed,
    real_gateway_env,
    slash_command,
    wait_for,
)

pytestmark = pytest.mark.slow

SECRET = "interrupted-send-secret"
CHANNEL = "C0GENERAL"
GRACE = 0.5  # the SIGTERM grace the test gives the process (production: bot.serve.STOP_GRACE)
_SERVING = re.compile(r"serving on (http://127\.0\.0\.1:\d+)")
# `sms-bot serve`, with a shorter SIGTERM grace so the test does not wait the real one out.
_SERVE = (
    "import sys, bot.serve, bot.cli; bot.serve.STOP_GRACE = float(sys.argv[1]); "
    "sys.exit(bot.cli.main(['serve']))"
)


class Serve:
    """One serve process; its URL read from the start-up line."""

    def __init__(self, env: dict[str, str], cwd: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(GRACE)],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._url = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self._url.wait(30):
            self.kill()
            raise AssertionError("serve did not start:\n" + "".join(self.lines[-20:]))

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if (found := _SERVING.search(line)) and not self.url:
                self.url = found.group(1)
                self._url.set()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def gateway() -> Iterator[RawGateway]:
    with RawGateway() as stand_in:
        yield stand_in


@pytest.fixture
def env(tmp_path: Path, slack: HistorySlack, gateway: RawGateway) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-interrupted",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "SMS_CHANNEL": "C0SMS",
        "SMS_BOT_DB": str(tmp_path / "bot.sqlite3"),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "CLICKATELL_TIMEOUT": "30",  # the send hangs for the whole test: nothing times out
        **real_gateway_env(gateway.url),
    }


@pytest.fixture
def processes() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for process in started:
        process.kill()


def _never_answered(gateway: RawGateway) -> None:
    """sendmsg is taken in and never answered (until the stand-in closes)."""
    gateway.on("sendmsg", lambda sock: gateway.release.wait())


def _send_from_slack(server: Serve, slack: HistorySlack) -> str:
    """`/sms send` typed in Slack; returns the card's ts once the gateway has the request."""
    request = slash_command(
        "send 27821234567 see you at noon", response_url=slack.response_url("send")
    )
    with requests.Session() as http:
        assert post_signed(http, server.url, request, secret=SECRET).status_code == 200
    (card,) = wait_for(lambda: slack.posts(CHANNEL), what="the card")
    return str(card["ts"]) if "ts" in card else max(ts for (ch, ts) in slack.messages)


def _card(slack: HistorySlack) -> str:
    ts = max(ts for (channel, ts) in slack.messages if channel == CHANNEL)
    return json.dumps(slack.message(CHANNEL, ts), ensure_ascii=False)


def _told(slack: HistorySlack) -> list[str]:
    return [json.dumps(c.params, ensure_ascii=False) for c in slack.calls_to("chat.postEphemeral")]


def _restart(env: dict[str, str], tmp_path: Path, processes: list[Serve]) -> Serve:
    """The next start, with a short gateway timeout: the settler waits that long (the gateway
    may still be finishing what the last process asked) before calling a send not sent."""
    server = Serve({**env, "CLICKATELL_TIMEOUT": "0.5"}, tmp_path)
    processes.append(server)
    return server


def test_sigterm_exits_within_its_grace_and_the_next_start_says_not_sent(
    env: dict[str, str],
    tmp_path: Path,
    slack: HistorySlack,
    gateway: RawGateway,
    processes: list[Serve],
) -> None:
    _never_answered(gateway)
    first = Serve(env, tmp_path)
    processes.append(first)
    _send_from_slack(first, slack)
    wait_for(lambda: "sendmsg" in gateway.commands, what="the send to reach the gateway")
    started = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    first.process.wait(10)
    took = time.monotonic() - started
    assert took < GRACE + 3, f"SIGTERM took {took:.1f} s"
    assert "Sending" in _card(slack)
    gateway.on("querymsg", whole(b"ERR: 104, Unknown client message ID"))
    _restart(env, tmp_path, processes)
    wait_for(lambda: "Not sent" in _card(slack), timeout=20, what="the card to say not sent")
    assert "sms-bot stopped before the gateway answered" in _card(slack)
    (told,) = wait_for(lambda: _told(slack), timeout=20, what="the sender to be told")
    assert "restarted while sending" in told and "were not sent" not in told
    assert "had not and was not sent" in told


def test_a_send_killed_after_the_gateway_took_it_is_shown_sent(
    env: dict[str, str],
    tmp_path: Path,
    slack: HistorySlack,
    gateway: RawGateway,
    processes: list[Serve],
) -> None:
    _never_answered(gateway)
    first = Serve(env, tmp_path)
    processes.append(first)
    _send_from_slack(first, slack)
    wait_for(lambda: "sendmsg" in gateway.commands, what="the send to reach the gateway")
    first.kill()  # SIGKILL: the gateway has the message, the process never heard
    gateway.on("querymsg", whole(b"ID: 5c7a51e2b5a1e3fa1e5d5b2c3d4e5f60 Status: 003"))
    _restart(env, tmp_path, processes)
    wait_for(
        lambda: "Delivered to gateway" in _card(slack), timeout=20, what="the card to say sent"
    )
    (told,) = wait_for(lambda: _told(slack), timeout=20, what="the sender to be told")
    assert "are on their way" in told
