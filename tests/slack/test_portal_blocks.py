"""What Slack shows for an API-key account, rendered from stored state: money, statuses from
reports, the commands offered, held and unsettled messages and their buttons."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from bot.blocks.card import CANCEL_ACTION, SEND_AGAIN_ACTION, card_message
from bot.blocks.help import help_message, offered_commands
from bot.blocks.inbound import low_balance_alert
from bot.blocks.results import balance_message, reported_status_message
from bot.domain.delivery import HELD, RESENT, UNSETTLED, DeliveryState
from bot.domain.records import Recipient, Send
from bot.gateway.base import Balance, Capabilities
from bot.gateway.clickatell_platform.codes import one_api_status

AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def _text(message) -> str:
    return json.dumps([message.text, message.blocks], ensure_ascii=False)


def _recipient(**fields) -> Recipient:
    base = Recipient(
        1, 1, "27821234567", None, "cid1", None, None, None, None, None, None, None, None
    )
    return replace(base, **fields)


def _send(*recipients: Recipient, scheduled_at: datetime | None = None) -> Send:
    return Send(
        1,
        AT,
        "U1",
        "C1",
        "hello",
        "gsm7",
        1,
        None,
        scheduled_at,
        False,
        None,
        None,
        "C1",
        "1.1",
        None,
        recipients,
    )


def test_money_with_its_currency():
    assert "ZAR 1,267.93" in _text(balance_message(Balance(1267.92865, "ZAR")))
    assert "12.5" in _text(balance_message(Balance(12.5)))
    alert = _text(low_balance_alert(8.5, 10, False, "ZAR"))
    assert "ZAR 8.50" in alert and "redeem" not in alert
    assert "credits" in _text(low_balance_alert(8.5, 10, False))


def test_a_status_from_a_report_says_so():
    said = _text(reported_status_message("m1", one_api_status(5, "DEVICE_ACK")))
    assert "Received by the phone" in said and "latest delivery report" in said
    assert "no delivery report has come" in _text(reported_status_message("m1", None))


def test_help_lists_only_what_the_gateway_offers():
    portal = offered_commands(Capabilities(query=True))
    assert "status" in portal and not {"cancel", "charge", "coverage", "redeem"} & set(portal)
    text = _text(help_message(False, portal))
    assert "/sms coverage" not in text and "/sms status" in text and "compose form" in text
    everything = offered_commands(Capabilities(True, True, True, True, True, True, True, True))
    assert {"cancel", "charge", "coverage", "redeem"} <= set(everything)


def test_a_held_message_is_scheduled_and_cancellable():
    held = _recipient(status=HELD.code, state=DeliveryState.SCHEDULED, status_words=HELD.words)
    card = _text(card_message(_send(held, scheduled_at=AT)))
    assert f"Scheduled for <!date^{int(AT.timestamp())}^" in card and CANCEL_ACTION in card
    assert "|2030-01-01 12:00 UTC>" in card  # the fallback of clients that cannot format it


def test_an_unsettled_message_offers_send_again_and_a_resent_one_does_not():
    unsettled = _recipient(error_code=UNSETTLED, error_description="Outcome unknown: no report")
    card = _text(card_message(_send(unsettled)))
    assert SEND_AGAIN_ACTION in card and "Outcome unknown" in card
    resent = _recipient(error_code=RESENT, error_description="sent again as a new message")
    after = _text(card_message(_send(resent)))
    assert SEND_AGAIN_ACTION not in after and "sent again" in after
