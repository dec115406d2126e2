"""An unknown outcome with a Clickatell Portal API key (product.md §4, §8): never sent again, stored
as unknown, shown at once on the card, and settled by the status callback that carries the
message's clientMessageId, even when that report outruns the Portal's (late) answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from bot.domain.delivery import OPTED_OUT, OUTCOME_UNKNOWN, RESENT, UNSETTLED, DeliveryState
from bot.domain.outbox import OutboxKind
from bot.domain.records import NewRecipient
from bot.testing.app import RunningApp
from bot.testing.sandbox import Gate
from bot.testing.signing import block_action
from bot.testing.waiting import wait_for
from bot.usecases.resending import send_again
from bot.usecases.unsettled import RESEND_WINDOW

SILENT = "27825550107"  # accepted, then never a report
PHONE = "27821234567"
STOPPED = "27821234500"


@pytest.fixture
def slow_portal(make_app: Callable[..., RunningApp]) -> Iterator[tuple[RunningApp, Gate]]:
    """The Portal sandbox takes each message at once but holds its answer past the timeout."""
    gate = Gate()
    app = make_app(
        env={"CLICKATELL_API_KEY": "k", "CLICKATELL_TIMEOUT": "0.2"},
        portal_sandbox=True,
        sandbox_options={"reply_delay": 10.0, "sleep": gate.sleep, "quirk_every": 0},
    )
    try:
        yield app, gate
    finally:
        app.stop()
        gate.drain()


def _recipient(app: RunningApp) -> Any:
    entries = app.services.storage.sends.recent_log()
    send = app.services.storage.sends.get(entries[0].send_id) if entries else None
    return send.recipients[0] if send else None


def _card_says(app: RunningApp, words: str) -> list[Any]:
    return [c for c in app.fake.calls_to("chat.update") if words in json.dumps(c.params)]


def test_unknown_is_stored_shown_never_resent_and_settled_by_its_report(slow_portal) -> None:
    app, _gate = slow_portal
    _, name = app.command(f"send {SILENT} did it go?")
    note = app.wait_response(name)["text"]
    assert "may or may not have taken" in note and "not sent again" in note
    recipient = wait_for(
        lambda: (r := _recipient(app)) and r.error_code == OUTCOME_UNKNOWN and r,
        10,
        "the unknown outcome",
    )
    wait_for(lambda: _card_says(app, "Outcome unknown"), 10, "the card")
    assert len(app.sandbox.messages()) == 1  # never sent again
    # The Portal's status callback carrying the clientMessageId (no number: One API) settles it.
    token = app.services.settings.callback_token
    update = {
        "messageId": "portal-msg-1",
        "clientMessageId": recipient.climsgid,
        "statusCode": 4,
        "status": "SENT_TO_SUPPLIER",
        "timestamp": 1506607698000,
    }
    body = json.dumps({"event": {"messageStatusUpdate": [update]}})
    answer = requests.post(f"{app.url}/clickatell/status?token={token}", data=body, timeout=10)
    assert answer.status_code == 200
    settled = wait_for(
        lambda: (r := _recipient(app)) and r.state is DeliveryState.SENT and r, 10, "settled"
    )
    assert (settled.error_code, settled.apimsgid) == (None, "portal-msg-1")
    wait_for(lambda: _card_says(app, "Sent to the network"), 10, "the card to follow")


def test_a_report_that_outruns_the_late_answer_settles_it_at_once(slow_portal) -> None:
    app, _gate = slow_portal
    app.command(f"send {PHONE} hello")
    delivered = wait_for(
        lambda: (r := _recipient(app)) and r.state is DeliveryState.DELIVERED and r,
        10,
        "the sandbox's own reports",
    )
    assert delivered.error_code is None
    assert delivered.apimsgid == app.sandbox.messages()[0].apimsgid


def _offer_items(app: RunningApp) -> list[Any]:
    storage = app.services.storage
    found = (storage.outbox.get(item_id) for item_id in range(1, 60))
    return [item for item in found if item is not None and item.kind == OutboxKind.OFFER_RESEND]


def _click_send_again(app: RunningApp, send: Any, name: str, action_ts: str) -> None:
    request = block_action(
        action_id="send_again",
        value=str(send.id),
        channel_id=send.card_channel,
        message_ts=send.card_ts,
        action_ts=action_ts,
        response_url=app.fake.response_url(name),
    )
    assert app.post(request).status_code == 200


def test_after_the_window_the_card_offers_send_again_once(slow_portal) -> None:
    app, gate = slow_portal
    app.command(f"send {SILENT} did it go?")
    storage = app.services.storage
    wait_for(lambda: (r := _recipient(app)) and r.error_code == OUTCOME_UNKNOWN, 10, "the unknown")
    (offer,) = wait_for(lambda: _offer_items(app), 10, "the queued offer")
    waits = offer.not_before - offer.created_at
    assert abs(waits - RESEND_WINDOW).total_seconds() < 1
    assert not _card_says(app, "send_again")  # not before the window has passed
    storage.outbox.reschedule(offer, datetime.now(UTC), count_attempt=False)  # 15 minutes on
    app.services.inbound.outbox_worker.wake()
    wait_for(lambda: _card_says(app, "send_again"), 10, "the Send again button")
    original = storage.sends.get(_recipient(app).send_id)
    assert original.recipients[0].error_code == UNSETTLED
    gate.open()  # the next send is answered in time
    _click_send_again(app, original, "again1", "1700000400.000001")
    wait_for(lambda: len(app.sandbox.messages()) == 2, 10, "the message sent again")
    first, second = app.sandbox.messages()
    assert first.climsgid != second.climsgid and second.to == SILENT  # a new message
    wait_for(
        lambda: storage.sends.get(original.id).recipients[0].error_code == RESENT, 10, "resent"
    )
    _click_send_again(app, original, "again2", "1700000500.000001")  # a second click
    note = app.wait_response("again2")
    assert "already sent again" in json.dumps(note)
    assert len(app.sandbox.messages()) == 2


def test_send_again_skips_a_recipient_who_opted_out_meanwhile(
    make_app: Callable[..., RunningApp],
) -> None:
    app = make_app(
        env={"CLICKATELL_API_KEY": "k"}, portal_sandbox=True, sandbox_options={"quirk_every": 0}
    )
    storage = app.services.storage
    send = storage.sends.record(
        slack_user="U0ALICE",
        channel="C0GENERAL",
        text="did it go?",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient(PHONE, "cli-a"), NewRecipient(STOPPED, "cli-b")],
    )
    for recipient in send.recipients:
        storage.sends.record_result(
            recipient.id, apimsgid=None, error_code=UNSETTLED, error_description="unsettled"
        )
    storage.opt_outs.opt_out(STOPPED)  # texted STOP after the first attempt
    outcome = send_again(app.services, storage.sends.get(send.id), "U0ALICE")
    assert outcome is not None
    (message,) = wait_for(lambda: app.sandbox.messages(), 10, "the message sent again")
    assert message.to == PHONE
    old = {r.msisdn: r.error_code for r in storage.sends.get(send.id).recipients}
    assert old == {PHONE: RESENT, STOPPED: OPTED_OUT}  # no "Send again" left on the old card
    new = {r.msisdn: r.error_code for r in outcome.send.recipients}
    assert new[STOPPED] == OPTED_OUT
