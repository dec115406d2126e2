"""The App Home tab: signed `app_home_opened` events and Home buttons over real HTTP; what is
asserted is the `views.publish` the fake Slack received (and keeps as each person's Home)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.blocks.home import HOME_CANCEL_ACTION, HOME_COMPOSE_ACTION
from bot.testing.app import ALERTS, FAST, RunningApp
from bot.testing.signing import app_home_opened, interactive
from bot.testing.waiting import wait_for

ECHO = "27825550103"  # received, then texts back "Got it: ..."
QUIET_PHONE = "27821234567"
HOME_OPTIONS = dataclasses.replace(FAST, home_debounce=0.05)


@pytest.fixture
def app(make_app: Callable[..., RunningApp]) -> RunningApp:
    return make_app(inbound=HOME_OPTIONS)


def _home(app: RunningApp, user: str = "U0ALICE", containing: str = "") -> str:
    def shown() -> str | None:
        view = app.fake.home_of(user)
        text = json.dumps(view, ensure_ascii=False) if view else ""
        return text if view and containing in text else None

    return wait_for(shown, 10, f"{user}'s Home showing {containing!r}")


def _open(app: RunningApp, user: str = "U0ALICE", event_id: str = "EvHome1") -> None:
    assert app.post(app_home_opened(user_id=user, event_id=event_id)).status_code == 200


def _click(app: RunningApp, action_id: str, value: str, user: str = "U0ALICE") -> int:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM", "domain": "example"},
        "api_app_id": "A0SMSBOT",
        "trigger_id": "1337.45.home",
        "container": {"type": "view", "view_id": "VH0000001"},
        "view": {"id": "VH0000001", "type": "home", "callback_id": "home"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": "1700000900.000001",
            }
        ],
    }
    return app.post(interactive(payload)).status_code


def test_opening_home_publishes_balance_and_the_compose_button(app: RunningApp) -> None:
    _open(app)
    shown = _home(app, containing="Balance")
    call = app.fake.calls_to("views.publish")[0]
    assert call.params["user_id"] == "U0ALICE"
    assert json.loads(shown)["type"] == "home"
    assert "credits" in shown  # the sandbox's legacy account counts credits
    assert HOME_COMPOSE_ACTION in shown
    assert "Opted out" not in shown  # not an admin


def test_conversations_show_last_message_direction_and_a_thread_link(app: RunningApp) -> None:
    app.send(f"send {QUIET_PHONE} we wrote first")
    app.send(f"send {ECHO} please answer")
    app.advance(5)  # the echo phone texts back
    app.wait_idle()
    _open(app)
    shown = _home(app, containing="Got it")
    assert shown.index("Got it") < shown.index("we wrote first")  # unanswered first
    assert "Waiting for an answer" in shown and "we wrote" in shown
    assert "https://example.slack.com/archives/" in shown  # a permalink to each thread


def test_home_is_refreshed_when_something_changes(app: RunningApp) -> None:
    _open(app)
    _home(app, containing="No SMS conversations yet")
    app.send(f"send {QUIET_PHONE} fresh news")
    _home(app, containing="fresh news")  # republished without opening again


def test_scheduled_sends_can_be_cancelled_from_home(app: RunningApp) -> None:
    app.send(f"send --at +2h {QUIET_PHONE} see you later")
    wait_for(lambda: app.sandbox.messages(), 10, "the scheduled SMS at the gateway")
    app.wait_idle()
    _open(app)
    shown = _home(app, containing="see you later")
    send_id = str(app.storage.sends.scheduled_by("U0ALICE")[0].id)
    assert HOME_CANCEL_ACTION in shown
    assert _click(app, HOME_CANCEL_ACTION, send_id) == 200
    wait_for(lambda: app.sandbox.messages()[0].status == "006", 10, "cancelled at the gateway")
    _home(app, containing="Nothing scheduled")


def test_someone_else_cannot_cancel_my_scheduled_send(app: RunningApp) -> None:
    app.send(f"send --at +2h {QUIET_PHONE} mine")
    wait_for(lambda: app.sandbox.messages(), 10, "the scheduled SMS")
    app.wait_idle()
    send_id = str(app.storage.sends.scheduled_by("U0ALICE")[0].id)
    assert _click(app, HOME_CANCEL_ACTION, send_id, user="U0MALLORY") == 200
    told = app.fake.wait_for_call("chat.postEphemeral")[0]
    assert "sender or an admin" in json.dumps(told.params)
    assert app.sandbox.messages()[0].status != "006"


def test_the_compose_button_opens_the_form_for_sms_channel(app: RunningApp) -> None:
    assert _click(app, HOME_COMPOSE_ACTION, "compose") == 200
    call = app.fake.wait_for_call("views.open")[0]
    view: Any = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "compose" and ALERTS in view["private_metadata"]


def test_admins_see_the_opt_out_list(make_app: Callable[..., RunningApp]) -> None:
    app = make_app(inbound=HOME_OPTIONS, env={"SMS_ADMINS": "U0ADMIN"})
    app.storage.opt_outs.opt_out(QUIET_PHONE, "STOP")
    _open(app, user="U0ADMIN")
    assert "+27 82 123 4567" in _home(app, "U0ADMIN", containing="Opted out")
    _open(app, user="U0ALICE", event_id="EvHome2")
    assert "Opted out" not in _home(app, containing="Balance")


def test_someone_not_allowed_sees_only_that(make_app: Callable[..., RunningApp]) -> None:
    app = make_app(inbound=HOME_OPTIONS, env={"SMS_ALLOWED_USERS": "U0SOMEONE"})
    _open(app)
    shown = _home(app, containing="not allowed")
    assert "Balance" not in shown and HOME_COMPOSE_ACTION not in shown
