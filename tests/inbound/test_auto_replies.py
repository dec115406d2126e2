"""HELP/INFO get SMS_HELP_REPLY, an opt-out gets SMS_STOP_REPLY once (product.md §6): inbound
callbacks over HTTP to the real app; the sandbox shows the exact text each phone received."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import requests

from bot.testing.app import SMS_CHANNEL, RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.waiting import wait_for

PHONE = "27821234567"


def _texts(app: RunningApp, key: str, text: str, at: datetime | None = None) -> None:
    params = mo_params(key, PHONE, text, at=at)
    post(requests.Session(), app.url + "/clickatell/mo", params, app.callback_auth)


def _received(app: RunningApp) -> list[tuple[str, str]]:
    return [(m.to, m.text) for m in app.sandbox.messages()]


def _shown(app: RunningApp) -> str:
    return json.dumps(app.fake.posts(SMS_CHANNEL), ensure_ascii=False)


def test_help_gets_the_default_reply_naming_the_team(app: RunningApp) -> None:
    wait_for(app.inbound.workspace.known, what="the workspace's name")
    _texts(app, "mo-help", "help?")
    wait_for(lambda: _received(app), what="the help reply")
    expected = "Example texts you from Slack. Reply STOP to opt out, START to opt back in."
    assert _received(app) == [(PHONE, expected)]
    wait_for(lambda: "Answered automatically" in _shown(app), what="the note in Slack")
    assert expected in _shown(app)
    # It is a recorded send like any other (so /sms log lists it).
    assert [e.text for e in app.storage.sends.recent_log(PHONE)] == [expected]


def test_help_reply_set_and_empty(make_app) -> None:
    custom = make_app(env={"SMS_HELP_REPLY": "Acme support: call 0800 123. STOP to end."})
    _texts(custom, "mo-info", "INFO")
    wait_for(lambda: _received(custom), what="the custom help reply")
    assert _received(custom) == [(PHONE, "Acme support: call 0800 123. STOP to end.")]

    silent = make_app(env={"SMS_HELP_REPLY": ""})
    _texts(silent, "mo-help2", "HELP")
    wait_for(lambda: silent.storage.inbound.recent(PHONE), what="the HELP routed")
    silent.wait_idle()
    assert _received(silent) == []


def test_stop_reply_is_sent_once_per_opt_out(make_app) -> None:
    app = make_app(env={"SMS_STOP_REPLY": "You will get no more texts from Acme."})
    start = datetime.now(UTC)
    _texts(app, "mo-stop", "Stop.", at=start)
    _texts(app, "mo-stop", "Stop.", at=start)  # the same callback delivered twice
    wait_for(lambda: _received(app), what="the confirmation")
    _texts(app, "mo-stop-again", "STOP please", at=start + timedelta(seconds=1))  # already out
    app.wait_idle()
    assert _received(app) == [(PHONE, "You will get no more texts from Acme.")]
    assert app.storage.opt_outs.is_opted_out(PHONE)
    # Opting in and out again is a new opt-out: confirmed again.
    _texts(app, "mo-start", "START", at=start + timedelta(seconds=2))
    _texts(app, "mo-stop-3", "unsubscribe", at=start + timedelta(seconds=3))
    wait_for(lambda: len(_received(app)) == 2, what="the second confirmation")
    app.wait_idle()
    assert len(_received(app)) == 2


def test_no_stop_reply_by_default(app: RunningApp) -> None:
    _texts(app, "mo-stop", "STOP")
    wait_for(lambda: app.storage.opt_outs.is_opted_out(PHONE), what="the opt-out")
    app.wait_idle()
    assert _received(app) == []


def test_an_opted_out_phone_asking_for_help_is_still_answered(make_app) -> None:
    app = make_app(env={"SMS_HELP_REPLY": "Acme: reply START to get texts again."})
    app.storage.opt_outs.opt_out(PHONE, "STOP")
    _texts(app, "mo-help-out", "help")
    wait_for(lambda: _received(app), what="the help reply")
    assert _received(app) == [(PHONE, "Acme: reply START to get texts again.")]
    assert app.storage.opt_outs.is_opted_out(PHONE)  # asking for help opts nobody in
