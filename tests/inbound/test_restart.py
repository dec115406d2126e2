"""Nothing acknowledged is lost, and nothing is posted twice, across a SIGKILL: a real
`python -m bot serve` subprocess (`ServedApp`: environment pointing at a fake Slack on loopback,
the built-in sandbox, a temporary database) is killed between answering a callback 200 and
delivering it to Slack, then started again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from bot.testing.app import SMS_CHANNEL, AppOptions, database_path
from bot.testing.callbacks import mo_params, post
from bot.testing.process import ServedApp
from bot.testing.slack import FakeSlack
from bot.testing.state import AppState
from bot.testing.waiting import wait_for

pytestmark = pytest.mark.slow

AUTH = ("clickatell", "restart-test-password")
OPTIONS = AppOptions(
    sms_channel=SMS_CHANNEL,
    env={"CLICKATELL_CALLBACK_USER": AUTH[0], "CLICKATELL_CALLBACK_PASSWORD": AUTH[1]},
)


@pytest.fixture
def serve(tmp_path: Path, slack: FakeSlack) -> Iterator[Callable[[], ServedApp]]:
    started: list[ServedApp] = []

    def start() -> ServedApp:
        server = ServedApp(slack.api_url, tmp_path, OPTIONS)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def pending(tmp_path: Path) -> int:
    with AppState.opened(database_path(tmp_path)) as state:
        return state.outbox_pending()


def shown(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.channel_messages(SMS_CHANNEL)]


def send_mo(server: ServedApp, momsgid: str, text: str) -> None:
    answer = post(
        requests.Session(),
        server.url + "/clickatell/mo",
        mo_params(momsgid, "27821234567", text),
        AUTH,
    )
    assert answer.status_code == 200, answer.text


def test_killed_before_slack_accepted_delivers_after_restart(
    serve: Callable[[], ServedApp], slack: FakeSlack, tmp_path: Path
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
    serve: Callable[[], ServedApp], slack: FakeSlack, tmp_path: Path
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
