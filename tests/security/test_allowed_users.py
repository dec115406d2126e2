"""Users outside SMS_ALLOWED_USERS are refused on every command path — each slash command, the
compose form (open and submit), the card's Cancel button and thread replies — with no gateway
call (every request the sandbox handles is counted) and no change to the durable state; only
admins redeem vouchers. Through the real app over loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bot.blocks.card import CANCEL_ACTION
from bot.blocks.compose import (
    COMPOSE_TEXT_ACTION,
    RECIPIENTS_BLOCK,
    TEXT_BLOCK,
    VALUE_ACTION,
    WHEN_BLOCK,
    compose_view,
)
from bot.testing.app import RunningApp
from bot.testing.sandbox import GatewayCalls
from bot.testing.signing import (
    CHANNEL,
    block_action,
    modal_state,
    slash_command,
    view_action,
    view_submission,
)
from bot.testing.waiting import wait_for
from tests.security.support import ErrorLog

ALICE, ADMIN, MALLORY = "U0ALICE", "U0ADMIN", "U0MALLORY"
BOB = "27821234567"
ECHO = "27825550103"
VOUCHER = "1234567890123456"


@pytest.fixture
def guarded(make_app: Callable[..., RunningApp]) -> RunningApp:
    return make_app(env={"SMS_ALLOWED_USERS": ALICE, "SMS_ADMINS": ADMIN})


def _command(app: RunningApp, text: str, user: str, name: str) -> None:
    request = slash_command(
        text, user_id=user, trigger_id=name, response_url=app.fake.response_url(name)
    )
    assert app.post(request).status_code == 200


def _answer(app: RunningApp, name: str) -> str:
    calls = app.fake.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
    return json.dumps(calls[0].params, ensure_ascii=False)


def _alices_scheduled_card(app: RunningApp) -> Any:
    """Alice's contact and a scheduled SMS whose card has a Cancel button and a thread."""
    _command(app, f"contact add bob {BOB}", ALICE, "setup-contact")
    _answer(app, "setup-contact")
    app.send(f"send --at +2h {ECHO} see you tomorrow")
    send = wait_for(
        lambda: (s := app.storage.sends.get(1)) and s.card_ts and s.recipients[0].status and s,
        what="the scheduled send's result and its report (011, queued for later delivery)",
    )
    app.wait_idle()
    return send


def _view(user_channel: str, to: str, text: str, view_id: str) -> dict[str, Any]:
    values = {
        RECIPIENTS_BLOCK: (VALUE_ACTION, to),
        TEXT_BLOCK: (COMPOSE_TEXT_ACTION, text),
        WHEN_BLOCK: (VALUE_ACTION, None),
    }
    view = compose_view(user_channel, max_parts=3, sandbox=True)
    return {**view, "id": view_id, "hash": "1.2", "state": modal_state(values)}


def test_someone_not_allowed_is_refused_everywhere_without_gateway_call_or_change(
    guarded: RunningApp, errors: ErrorLog
) -> None:
    app = guarded
    send = _alices_scheduled_card(app)
    apimsgid = send.recipients[0].apimsgid
    gateway = GatewayCalls(app.sandbox)
    before = app.state.snapshot()
    messages_before = app.sandbox.messages()
    slack_before = {m: len(app.fake.calls_to(m)) for m in ("views.open", "chat.postMessage")}

    # Every slash command.
    commands = {
        "send": f"send {BOB} hello",
        "send-contact": "send bob hello",
        "status": f"status {apimsgid}",
        "cancel": f"cancel {apimsgid}",
        "charge": f"charge {apimsgid}",
        "balance": "balance",
        "coverage": f"coverage {BOB}",
        "redeem": f"redeem {VOUCHER}",
        "ping": "ping",
        "contact-add": "contact add eve 27821234568",
        "contact-remove": "contact remove bob",
        "contacts": "contacts",
        "log": "log",
        "log-number": "log bob",
        "compose-open": "",
    }
    for name, text in commands.items():
        _command(app, text, MALLORY, f"m-{name}")
    for name in commands:
        answer = _answer(app, f"m-{name}")
        assert "not allowed" in answer and "SMS_ALLOWED_USERS" in answer, (name, answer)

    # The compose form's submit: refused next to the field, the modal stays open.
    submitted = app.post(view_submission(_view(CHANNEL, BOB, "hi", "V0MALLORY"), user_id=MALLORY))
    assert submitted.status_code == 200
    body = submitted.json()
    assert body["response_action"] == "errors"
    assert "not allowed" in json.dumps(body)

    # The card's Cancel button.
    click = block_action(
        response_url=app.fake.response_url("m-click"),
        action_id=CANCEL_ACTION,
        value=str(send.id),
        channel_id=send.card_channel,
        message_ts=send.card_ts,
        user_id=MALLORY,
    )
    assert app.post(click).status_code == 200
    assert "not allowed" in _answer(app, "m-click")

    # A reply in the card's thread.
    answer, _ = app.reply_in_thread("cancel that", send.card_ts, user=MALLORY)
    assert answer.status_code == 200
    note = app.fake.wait_for_call("chat.postEphemeral", lambda c: c.params["user"] == MALLORY)
    assert "not allowed" in note[0].params["text"]

    # The compose preview (of a form opened before they were taken off the list) stays as is.
    typing = view_action(
        _view(CHANNEL, BOB, "hi", "V0MALLORY"),
        action_id=COMPOSE_TEXT_ACTION,
        block_id=TEXT_BLOCK,
        value="hi",
        user_id=MALLORY,
    )
    assert app.post(typing).status_code == 200

    app.services.executor.stop()  # every accepted job has finished
    app.wait_idle()
    assert app.fake.calls_to("views.update") == []
    assert gateway.commands == []
    after = app.state.snapshot()
    assert after == before, repr([(before[t], after[t]) for t in before if before[t] != after[t]])
    assert app.sandbox.messages() == messages_before
    assert {m: len(app.fake.calls_to(m)) for m in slack_before} == slack_before  # no card, form
    errors.assert_clean("refusing an intruder")


def test_the_same_paths_work_for_an_allowed_user(guarded: RunningApp) -> None:
    """The control: the counter and the snapshot do see what an allowed user causes."""
    app = guarded
    _alices_scheduled_card(app)
    gateway = GatewayCalls(app.sandbox)
    before = app.state.snapshot()
    _command(app, "balance", ALICE, "a-balance")
    assert "Credit" in _answer(app, "a-balance")
    _command(app, "contact add eve 27821234568", ALICE, "a-contact")
    _answer(app, "a-contact")
    assert gateway.commands  # getbalance (after auth)
    assert app.state.snapshot() != before


@pytest.mark.parametrize("user", [ALICE, MALLORY])
def test_only_admins_redeem(guarded: RunningApp, user: str) -> None:
    app = guarded
    gateway = GatewayCalls(app.sandbox)
    _command(app, f"redeem {VOUCHER}", user, "redeem")
    answer = _answer(app, "redeem")
    reason = "Only admins may redeem" if user == ALICE else "not allowed"
    assert reason in answer, answer
    app.services.executor.stop()
    assert gateway.commands == []
    assert app.sandbox.balance == 100.0


def test_an_admin_redeems(guarded: RunningApp) -> None:
    """The control: an admin (not in SMS_ALLOWED_USERS) reaches token_pay."""
    app = guarded
    gateway = GatewayCalls(app.sandbox)
    _command(app, f"redeem {VOUCHER}", ADMIN, "redeem")
    assert "605" in _answer(app, "redeem") or "redeemed" in _answer(app, "redeem").lower()
    assert "token_pay" in gateway.commands
