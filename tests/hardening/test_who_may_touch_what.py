"""Who may touch what (issue 16, case 8). Every member allowed to use /sms is not every member's
keeper: a scheduled SMS is cancelled by its sender or an admin only (Cancel button and
`/sms cancel ID`); `/sms log` shows what was sent from the channel it is asked in (texts sent
from a private channel or a DM stay there; admins may ask for `log all`); and replacing a contact
someone else saved says so to both, while the card always shows the number under the name. The
real app over loopback with the sandbox gateway (every command it receives counted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.blocks.card import CANCEL_ACTION
from bot.sms.numbers import display_number
from tests.hardening.support import (
    GatewayCounter,
    InboundHarness,
    answer,
    block_action,
    command,
    slash_command,
    wait_for,
)

ALICE, MALLORY, ADMIN = "U0ALICE", "U0MALLORY", "U0ADMIN"
GENERAL, ALICES_DM = "C0GENERAL", "D0ALICE"
ECHO = "27825550103"
BOSS, ELSEWHERE = "27821110001", "27829990009"


@pytest.fixture
def team(make_app: Callable[..., InboundHarness]) -> InboundHarness:
    return make_app(SMS_ADMINS=ADMIN)


def _in(app: InboundHarness, text: str, name: str, *, user: str, channel: str) -> None:
    request = slash_command(
        text,
        user_id=user,
        channel_id=channel,
        trigger_id=name,
        response_url=app.fake.response_url(name),
    )
    assert app.post(request).status_code == 200


def _scheduled(app: InboundHarness) -> Any:
    """Alice's scheduled SMS in #general: accepted by the gateway, its card with Cancel."""
    app.send(f"send --at +2h {ECHO} see you tomorrow", user=ALICE)
    return wait_for(
        lambda: (s := app.storage.sends.get(1)) and s.card_ts and s.recipients[0].apimsgid and s,
        what="the scheduled send",
    )


def _click_cancel(app: InboundHarness, send: Any, user: str, name: str) -> None:
    click = block_action(
        response_url=app.fake.response_url(name),
        action_id=CANCEL_ACTION,
        value=str(send.id),
        channel_id=send.card_channel,
        message_ts=send.card_ts,
        user_id=user,
    )
    assert app.post(click).status_code == 200


def test_only_the_sender_or_an_admin_cancels(team: InboundHarness) -> None:
    app = team
    send = _scheduled(app)
    apimsgid = send.recipients[0].apimsgid
    gateway = GatewayCounter(app.sandbox)
    _click_cancel(app, send, MALLORY, "mallory-click")
    said = answer(app, "mallory-click")
    assert "Only" in said and "sent it" in said and "admin" in said, said
    command(app, f"cancel {apimsgid}", "mallory-cancel", user=MALLORY)
    said = answer(app, "mallory-cancel")
    assert "Only" in said and "admin" in said, said
    app.services.executor.stop()  # every accepted job has finished
    assert "delmsg" not in gateway.commands
    assert app.storage.sends.get(send.id).recipients[0].state != "cancelled"


def test_an_admin_cancels_someone_elses_send(team: InboundHarness) -> None:
    app = team
    send = _scheduled(app)
    _click_cancel(app, send, ADMIN, "admin-click")
    wait_for(
        lambda: app.storage.sends.get(send.id).recipients[0].state == "cancelled",
        what="the admin's cancel",
    )


def test_the_log_shows_what_was_sent_from_the_channel_it_is_asked_in(
    team: InboundHarness,
) -> None:
    app = team
    app.send(f"send {ECHO} the secret plan", user=ALICE, channel=ALICES_DM)
    app.send(f"send {ECHO} lunch at one", user=ALICE, channel=GENERAL)
    _in(app, "log", "mallory-log", user=MALLORY, channel=GENERAL)
    said = answer(app, "mallory-log")
    assert "lunch at one" in said and "secret plan" not in said, said
    _in(app, "log all", "mallory-all", user=MALLORY, channel=GENERAL)
    assert "Only admins" in answer(app, "mallory-all")
    _in(app, "log", "alice-dm", user=ALICE, channel=ALICES_DM)
    said = answer(app, "alice-dm")
    assert "secret plan" in said and "lunch at one" not in said, said
    _in(app, "log all", "admin-all", user=ADMIN, channel=GENERAL)
    said = answer(app, "admin-all")
    assert "secret plan" in said and "lunch at one" in said, said


def test_replacing_someone_elses_contact_says_so_to_both(team: InboundHarness) -> None:
    app = team
    command(app, f"contact add boss {BOSS}", "alice-adds", user=ALICE)
    answer(app, "alice-adds")
    command(app, f"contact add Boss {ELSEWHERE}", "mallory-replaces", user=MALLORY)
    said = answer(app, "mallory-replaces")
    assert f"<@{ALICE}>" in said and display_number(BOSS) in said, said
    assert display_number(ELSEWHERE) in said
    (note,) = app.fake.wait_for_call("chat.postMessage", lambda c: c.params["channel"] == ALICE)
    words = json.dumps(note.params, ensure_ascii=False)
    assert f"<@{MALLORY}>" in words and display_number(ELSEWHERE) in words, words
    assert display_number(BOSS) in words
    # Alice's next send to "boss" shows whom it really went to.
    card = app.send("send boss are we still on?", user=ALICE)
    shown = json.dumps(card, ensure_ascii=False)
    assert "Boss" in shown and display_number(ELSEWHERE) in shown, shown


def test_updating_your_own_contact_tells_nobody_else(team: InboundHarness) -> None:
    app = team
    command(app, f"contact add boss {BOSS}", "first", user=ALICE)
    answer(app, "first")
    command(app, f"contact add boss {ELSEWHERE}", "second", user=ALICE)
    assert "<@" not in answer(app, "second")
    app.services.executor.stop()
    assert not [c for c in app.fake.calls_to("chat.postMessage") if c.params["channel"] == ALICE]
