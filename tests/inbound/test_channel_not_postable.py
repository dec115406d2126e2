"""SMS_CHANNEL cannot be posted in (product.md §3, §6): serve says so at start-up, /healthz names
it without failing, inbound SMS wait in the database (listed by /sms log) and are posted once the
channel works again. Over the real app, the fake Slack refusing posts in that channel."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
import requests

from bot.testing.app import RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for

PHONE = "27821234567"


def _health(app: RunningApp) -> tuple[int, dict]:
    answer = requests.get(app.url + "/healthz", timeout=5)
    return answer.status_code, answer.json()


def _sms_channel(app: RunningApp) -> str:
    return app.settings.sms_channel or ""


@pytest.mark.parametrize("error", ["not_in_channel", "is_archived", "channel_not_found"])
def test_start_up_says_what_to_do_and_healthz_names_it(
    error: str, slack: FakeSlack, make_app: Callable[..., RunningApp], caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.inbound.slack_health")
    probe = make_app()
    channel = _sms_channel(probe)
    probe.stop()
    slack.close_channel(channel, error)
    app = make_app()
    status, body = wait_for(
        lambda: (h := _health(app))[1].get("channels_not_postable") and h, what="the report"
    )
    assert status == 200 and body["ok"] is True
    assert body["channels_not_postable"] == {channel: error} and body["slack"] == "ok"
    said = [r.getMessage() for r in caplog.records if channel in r.getMessage()]
    assert len(said) == 1 and error in said[0]
    assert {"not_in_channel": "/invite", "is_archived": "unarchive"}.get(
        error, "SMS_CHANNEL"
    ) in said[0]


def test_inbound_sms_wait_in_the_database_and_follow_when_posting_works(
    slack: FakeSlack, make_app: Callable[..., RunningApp]
) -> None:
    probe = make_app()
    channel = _sms_channel(probe)
    probe.stop()
    slack.close_channel(channel, "not_in_channel")
    app = make_app()
    for n in range(2):
        params = mo_params(f"mo-{n}", PHONE, f"anyone there {n}?")
        post(requests.Session(), app.url + "/clickatell/mo", params, app.callback_auth)
    wait_for(lambda: len(app.storage.inbound.recent(PHONE)) == 2, what="both SMS stored")
    wait_for(lambda: slack.calls_to("chat.postMessage"), what="a refused post")
    # Nothing failed for good; /sms log (in that channel) lists them as waiting.
    assert app.storage.outbox.count("failed") == 0
    _, name = app.command("log", channel=channel)
    listed = json.dumps(app.wait_response(name), ensure_ascii=False)
    assert listed.count("waiting to be posted in Slack") == 2
    slack.open_channel(channel)
    wait_for(
        lambda: (
            len([m for m in slack.channel_messages(channel) if "anyone there" in m["text"]]) == 2
        ),
        timeout=30,
        what="both SMS posted once the channel works",
    )
    wait_for(lambda: "channels_not_postable" not in _health(app)[1], what="the report cleared")
