"""Scheduled sends with a Clickatell Portal API key (clickatell-platform.md §2 Decision): the
Portal cannot hold a message, so sms-bot holds it, shows it scheduled with a Cancel button,
cancels it without any gateway call, and hands it over when due with the client IDs recorded at
the start; an interrupted handover is never repeated blindly."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.blocks.home import HOME_CANCEL_ACTION
from bot.domain.delivery import HELD, OPTED_OUT, OUTCOME_UNKNOWN, DeliveryState
from bot.domain.outbox import OutboxKind
from bot.testing.app import RunningApp
from bot.testing.signing import app_home_opened, block_action, interactive
from bot.testing.waiting import wait_for
from bot.usecases.holding import hand_over

PHONE = "27821234567"
STOPPED = "27821234500"  # texted STOP before the send


@pytest.fixture
def portal(make_app: Callable[..., RunningApp]) -> RunningApp:
    return make_app(
        env={"CLICKATELL_API_KEY": "k"}, portal_sandbox=True, sandbox_options={"quirk_every": 0}
    )


def _blocks(params: dict[str, Any]) -> str:
    blocks = params.get("blocks") or []
    return json.dumps(json.loads(blocks) if isinstance(blocks, str) else blocks)


def _held_send(app: RunningApp) -> Any:
    app.command(f"send --at +2h {PHONE} see you tomorrow")
    storage = app.services.storage

    def ready() -> Any:
        entries = storage.sends.recent_log()
        send = storage.sends.get(entries[0].send_id) if entries else None
        return send if send and send.card_ts and send.recipients[0].status == HELD.code else None

    send = wait_for(ready, 10, "the held send")
    wait_for(
        lambda: [
            c
            for c in app.fake.calls_to("chat.update")
            if "cancel_send" in _blocks(c.params) and "Scheduled" in _blocks(c.params)
        ],
        10,
        "the scheduled card with its Cancel button",
    )
    return send


def _items(app: RunningApp) -> list[Any]:
    storage = app.services.storage
    return [
        item
        for item_id in range(1, 50)
        if (item := storage.outbox.get(item_id)) is not None and item.kind == OutboxKind.HELD
    ]


def test_a_scheduled_send_is_held_by_sms_bot_not_sent(portal: RunningApp) -> None:
    send = _held_send(portal)
    assert portal.sandbox.messages() == []  # nothing reached the gateway
    (item,) = _items(portal)
    assert item.state == "pending" and item.not_before == send.scheduled_at
    assert send.recipients[0].state is DeliveryState.SCHEDULED


def test_the_cancel_button_withdraws_it_without_a_gateway_call(portal: RunningApp) -> None:
    send = _held_send(portal)
    request = block_action(
        action_id="cancel_send",
        value=str(send.id),
        channel_id=send.card_channel,
        message_ts=send.card_ts,
        response_url=portal.fake.response_url("click"),
    )
    assert portal.post(request).status_code == 200
    wait_for(
        lambda: portal.services.storage.sends.get(send.id).cancelled_at, 10, "the cancellation"
    )
    wait_for(
        lambda: [
            c
            for c in portal.fake.calls_to("chat.update")
            if "Cancelled" in _blocks(c.params) and "cancel_send" not in _blocks(c.params)
        ],
        10,
        "the card without its button",
    )
    hand_over(portal.services.storage, portal.services.gateway, send.id)  # when it falls due
    assert portal.sandbox.messages() == []


def test_cancel_by_client_id_and_what_cannot_be_cancelled(portal: RunningApp) -> None:
    send = _held_send(portal)
    _, name = portal.command(f"cancel {send.recipients[0].climsgid}")
    assert "cancelled; it will not be sent" in json.dumps(portal.wait_response(name))
    (recipient,) = portal.services.storage.sends.get(send.id).recipients
    assert recipient.state is DeliveryState.CANCELLED
    _, other = portal.command("cancel someothermessage1")
    assert "not available with a Clickatell Portal API key" in json.dumps(
        portal.wait_response(other)
    )


def test_when_due_the_outbox_hands_it_over_with_the_recorded_client_id(
    portal: RunningApp,
) -> None:
    send = _held_send(portal)
    storage = portal.services.storage
    (item,) = _items(portal)
    # Its time has come: the outbox's own worker picks it up and hands it over.
    storage.outbox.reschedule(item, datetime.now(UTC), count_attempt=False)
    portal.services.inbound.outbox_worker.wake()
    (message,) = wait_for(lambda: portal.sandbox.messages(), 10, "the handover")
    assert message.climsgid == send.recipients[0].climsgid and message.to == PHONE
    delivered = wait_for(
        lambda: (
            (r := portal.services.storage.sends.get(send.id).recipients[0]).state
            is DeliveryState.DELIVERED
            and r
        ),
        10,
        "its delivery report",
    )
    assert delivered.apimsgid == message.apimsgid
    wait_for(lambda: storage.outbox.get(item.id).state == "done", 10, "the item completed")


def test_an_interrupted_handover_is_marked_unknown_not_sent_again(portal: RunningApp) -> None:
    send = _held_send(portal)
    storage = portal.services.storage
    storage.values.set(f"held.inflight.{send.id}", "sending")  # a crash mid-handover
    hand_over(storage, portal.services.gateway, send.id)
    assert portal.sandbox.messages() == []
    (recipient,) = storage.sends.get(send.id).recipients
    assert recipient.error_code == OUTCOME_UNKNOWN


def _home(app: RunningApp, containing: str) -> str:
    def shown() -> str | None:
        view = app.fake.home_of("U0ALICE")
        text = json.dumps(view, ensure_ascii=False) if view else ""
        return text if view and containing in text else None

    return wait_for(shown, 10, f"the Home showing {containing!r}")


def test_a_held_send_is_on_the_home_tab_and_cancelled_from_there(portal: RunningApp) -> None:
    send = _held_send(portal)
    assert portal.post(app_home_opened(user_id="U0ALICE")).status_code == 200
    assert HOME_CANCEL_ACTION in _home(portal, "see you tomorrow")
    click = {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM", "domain": "example"},
        "api_app_id": "A0SMSBOT",
        "trigger_id": "1337.45.home",
        "container": {"type": "view", "view_id": "VH0000001"},
        "view": {"id": "VH0000001", "type": "home", "callback_id": "home"},
        "actions": [
            {
                "type": "button",
                "action_id": HOME_CANCEL_ACTION,
                "block_id": "b",
                "value": str(send.id),
                "action_ts": "1700000900.000001",
            }
        ],
    }
    assert portal.post(interactive(click)).status_code == 200
    wait_for(
        lambda: portal.services.storage.sends.get(send.id).cancelled_at, 10, "the cancellation"
    )
    _home(portal, "Nothing scheduled")
    assert portal.sandbox.messages() == []  # withdrawn: no gateway call


def test_an_opted_out_recipient_is_neither_held_nor_handed_over(portal: RunningApp) -> None:
    storage = portal.services.storage
    storage.opt_outs.opt_out(STOPPED)
    portal.command(f"send --at +2h {PHONE},{STOPPED} see you tomorrow")

    def held() -> Any:
        entries = storage.sends.recent_log()
        send = storage.sends.get(entries[0].send_id) if entries else None
        return send if send and any(r.status == HELD.code for r in send.recipients) else None

    send = wait_for(held, 10, "the held send")
    by_number = {r.msisdn: r for r in send.recipients}
    assert by_number[PHONE].status == HELD.code
    assert by_number[STOPPED].error_code == OPTED_OUT and by_number[STOPPED].status is None
    hand_over(storage, portal.services.gateway, send.id)
    (message,) = portal.sandbox.messages()
    assert message.to == PHONE


def test_a_number_that_texts_stop_while_held_is_not_sent_to_when_due(portal: RunningApp) -> None:
    """A held send waits hours (quiet hours can move it later still): a STOP that arrives in
    between is honoured when it falls due, never texted over, and the card says why."""
    send = _held_send(portal)
    storage = portal.services.storage
    storage.opt_outs.opt_out(PHONE)
    hand_over(storage, portal.services.gateway, send.id)
    assert portal.sandbox.messages() == []
    (recipient,) = storage.sends.get(send.id).recipients
    assert recipient.error_code == OPTED_OUT and recipient.apimsgid is None


def test_an_interrupted_handover_stays_unknown_even_if_the_number_stopped_since(
    portal: RunningApp,
) -> None:
    """The interrupted attempt may have reached the phone: its outcome is unknown, never
    "opted out: not sent"."""
    send = _held_send(portal)
    storage = portal.services.storage
    storage.values.set(f"held.inflight.{send.id}", "sending")
    storage.opt_outs.opt_out(PHONE)
    hand_over(storage, portal.services.gateway, send.id)
    assert portal.sandbox.messages() == []
    (recipient,) = storage.sends.get(send.id).recipients
    assert recipient.error_code == OUTCOME_UNKNOWN
