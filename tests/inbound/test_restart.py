"""Nothing acknowledged is lost, and nothing is posted twice, across a SIGKILL: a real
`python -m bot serve` subprocess (environment pointing at a fake Slack on loopback, the built-in
sandbox, a temporary database) is killed between answering a callback 200 and delivering it to
Slack, then started again."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from bot.testing.callbacks import mo_params, post
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for

pytestmark = pytest.mark.slow

SMS_CHANNEL = "C0SMS"
AUTH = ("clickatell", "restart-test-password")
ROOT = Path(__file__).resolve().parents[2]
_SERVING = re.compile(r"serving on (http://127\.0\.0\.1:\d+)")


class Server:
    """One `python -m bot serve` process; its URL is read from the start-up line."""

    def __init__(self, env: dict[str, str], cwd: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
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
            found = _SERVING.search(line)
            if found and not self.url:
                self.url = found.group(1)
                self._url.set()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def serve(tmp_path: Path, slack: FakeSlack) -> Iterator[Callable[[], Server]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-restart-test",
        "SLACK_SIGNING_SECRET": "restart-test-secret",
        "SLACK_API_URL": slack.api_url,
        "SMS_CHANNEL": SMS_CHANNEL,
        "SMS_BOT_DB": str(tmp_path / "bot.sqlite3"),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "CLICKATELL_CALLBACK_USER": AUTH[0],
        "CLICKATELL_CALLBACK_PASSWORD": AUTH[1],
    }
    started: list[Server] = []

    def start() -> Server:
        server = Server(env, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def pending(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "bot.sqlite3") as db:
        return db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]


def shown(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.channel_messages(SMS_CHANNEL)]


def send_mo(server: Server, momsgid: str, text: str) -> None:
    answer = post(
        requests.Session(),
        server.url + "/clickatell/mo",
        mo_params(momsgid, "27821234567", text),
        AUTH,
    )
    assert answer.status_code == 200, answer.text


def test_killed_before_slack_accepted_delivers_after_restart(
    serve: Callable[[], Server], slack: FakeSlack, tmp_path: Path
) -> None:
    slack.fail("chat.postMessage", status=503, times=1_000_000)  # Slack is down
    first = serve()
    send_mo(first, "mo-kill-1", "survives a kill")
    slack.wait_for_call("chat.postMessage", timeout=20)  # taken from the inbox, not delivered
    first.kill()
    assert shown(slack) == []
    slack.release_failures()
    serve()
    wait_for(lambda: shown(slack), timeout=20, what="the post after the restart")
    wait_for(lambda: pending(tmp_path) == 0, timeout=20, what="the outbox to empty")
    assert len(shown(slack)) == 1 and "survives a kill" in shown(slack)[0]


def test_killed_after_slack_accepted_is_not_posted_again(
    serve: Callable[[], Server], slack: FakeSlack, tmp_path: Path
) -> None:
    slack.hold("chat.postMessage")  # Slack takes the post but the answer never gets back
    first = serve()
    send_mo(first, "mo-kill-2", "exactly once")
    wait_for(slack.holding.is_set, timeout=20, what="Slack to hold the answer")
    first.kill()
    slack.release()
    assert len(shown(slack)) == 1
    serve()
    wait_for(lambda: pending(tmp_path) == 0, timeout=20, what="the outbox to empty")
    assert len(shown(slack)) == 1 and "exactly once" in shown(slack)[0]
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert slack.calls_to("conversations.history")  # it looked before posting again
