"""The Block Kit builders are pure functions: plain data in, Slack JSON out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.base import MAX_BLOCKS, SECTION_LIMIT, escape, unescape
from bot.blocks.card import CANCEL_ACTION, UNDELIVERED, card_message, recipient_line
from bot.blocks.compose import compose_view, preview, read_channel, read_values
from bot.blocks.contacts import contacts_message
from bot.blocks.errors import error_message, usage_message
from bot.blocks.help import help_message
from bot.blocks.log import LOG_MORE_ACTION, LogAsked, log_message, parse_more_value
from bot.domain.delivery import OUTCOME_UNKNOWN, DeliveryState
from bot.gateway.clickatell_http.codes import delivery_status
from bot.grammar import USAGE
from bot.usecases.message_log import LogLine, LogPage

WHEN = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Rcpt:
    """A stored recipient: a status is stored as its code, state and words (legacy codes here)."""

    msisdn: str = "27821234567"
    contact_name: str | None = None
    apimsgid: str | None = None
    climsgid: str = "abc123"
    status: str | None = None
    error_code: str | None = None
    error_description: str | None = None
    text: str | None = None

    @property
    def state(self) -> DeliveryState | None:
        return delivery_status(self.status).state if self.status else None

    @property
    def status_words(self) -> str | None:
        return delivery_status(self.status).words if self.status else None


@dataclass(frozen=True)
class SendRow:
    id: int = 7
    slack_user: str = "U0ALICE"
    text: str = "Hello"
    encoding: str = "gsm7"
    parts: int = 1
    scheduled_at: datetime | None = None
    sandbox: bool = False
    cancelled_at: datetime | None = None
    recipients: tuple[Rcpt, ...] = field(default_factory=lambda: (Rcpt(),))
    asked_at: datetime | None = None


def _dump(message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def _sizes_ok(blocks: list[dict]) -> bool:
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    return len(blocks) <= MAX_BLOCKS and all(len(t) <= SECTION_LIMIT for t in texts)


# --------------------------------------------------------------------------- card


def test_card_shows_sender_recipient_text_parts_encoding_and_id() -> None:
    send = SendRow(recipients=(Rcpt(contact_name="Thandi", apimsgid="a1b2", status="003"),))
    card = card_message(send)
    shown = _dump(card)
    assert "<@U0ALICE>" in shown
    assert "*Thandi* (+27 82 123 4567)" in shown
    assert ">Hello" in shown
    assert "1 part · GSM 7-bit" in shown
    assert "Delivered to gateway" in shown and "`a1b2`" in shown
    assert "Sandbox" not in shown
    assert CANCEL_ACTION not in shown
    assert "Thandi" in card.text and "Hello" in card.text


def test_card_marks_the_sandbox() -> None:
    assert "Sandbox" in _dump(card_message(SendRow(sandbox=True)))
    assert "[sandbox]" in card_message(SendRow(sandbox=True)).text


def test_recipient_lines_in_plain_words() -> None:
    cases = {
        Rcpt(): ("sending", "Sending…"),
        Rcpt(apimsgid="x"): ("on_the_way", "Accepted by the gateway"),
        Rcpt(apimsgid="x", status="004"): ("received", "Received by recipient"),
        Rcpt(apimsgid="x", status="007"): (
            "failed",
            f"Delivery failed: {UNDELIVERED} (status 007)",
        ),
        Rcpt(apimsgid="x", status="009"): (
            "failed",
            "Failed: cannot route to this number (status 009)",
        ),
        Rcpt(apimsgid="x", status="006"): ("cancelled", "Cancelled"),
        Rcpt(error_code="114", error_description="Cannot route message"): ("failed", None),
        Rcpt(error_code=OUTCOME_UNKNOWN, error_description="Outcome unknown: x"): (
            "unknown",
            "Outcome unknown: x",
        ),
    }
    for recipient, (state, words) in cases.items():
        line = recipient_line(recipient, None, False)
        assert line.state == state, recipient
        if words:
            assert line.words == words
    refused = recipient_line(Rcpt(error_code="114", error_description="Cannot route"), None, False)
    assert refused.words.startswith("Not sent: ") and refused.words.endswith("(code 114)")
    scheduled = recipient_line(Rcpt(apimsgid="x"), WHEN, False)
    assert (scheduled.words, scheduled.at) == ("Scheduled", WHEN)
    # Each reader sees the time in their own zone; clients that cannot format it see UTC.
    assert scheduled.markdown() == (
        f"Scheduled for <!date^{int(WHEN.timestamp())}^{{date_short_pretty}} {{time}}"
        "|2025-03-01 09:30 UTC>"
    )
    assert recipient_line(Rcpt(apimsgid="x", status="003"), WHEN, True).state == "cancelled"


def test_scheduled_card_has_a_cancel_button_until_cancelled_or_final() -> None:
    send = SendRow(scheduled_at=WHEN, recipients=(Rcpt(apimsgid="x"),))
    shown = _dump(card_message(send))
    assert CANCEL_ACTION in shown and "scheduled for <!date^1740821400^" in shown
    button = card_message(send).blocks[-1]["elements"][0]
    assert button["value"] == "7" and "confirm" in button
    assert CANCEL_ACTION not in _dump(card_message(replace(send, cancelled_at=WHEN)))
    final = replace(send, recipients=(Rcpt(apimsgid="x", status="004"),))
    assert CANCEL_ACTION not in _dump(card_message(final))
    never_sent = replace(send, recipients=(Rcpt(error_code="301"),))
    assert CANCEL_ACTION not in _dump(card_message(never_sent))


def test_many_recipients_are_a_tally_naming_the_failures() -> None:
    ok = [Rcpt(msisdn=f"2782123{i:04d}", apimsgid=f"id{i}", status="004") for i in range(30)]
    bad = [Rcpt(msisdn=f"2782555{i:04d}", error_code="114") for i in range(12)]
    card = card_message(SendRow(recipients=tuple(ok + bad)))
    shown = _dump(card)
    assert "30 received" in shown and "12 failed" in shown
    assert shown.count("code 114") == 10
    assert "…and 2 more" in shown
    assert "id5" not in shown  # IDs of many recipients are left to /sms log
    assert _sizes_ok(card.blocks)


def test_card_text_is_escaped_and_fits() -> None:
    card = card_message(SendRow(text="<!channel> hi & <@U123> " + "x" * 5000))
    shown = _dump(card)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "<@U123>" not in shown
    assert "<!channel>" not in card.text
    assert _sizes_ok(card.blocks)


@given(st.text())
def test_escape_leaves_no_control_sequences_and_round_trips(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert unescape(escaped) == text


# --------------------------------------------------------------------------- others


def test_help_lists_every_command_of_the_grammar() -> None:
    shown = _dump(help_message())
    for word, _, _ in USAGE:
        assert f"/sms {word}" in shown
    assert "sandbox" in _dump(help_message(sandbox=True))


def test_error_message_carries_the_code_and_hint() -> None:
    message = error_message("Credit ran out.", code="301", hint="Try /sms redeem")
    assert "(gateway code 301)" in message.text and "Try /sms redeem" in message.text
    usage = usage_message("send needs a text.", "/sms send TO TEXT")
    assert "Usage: /sms send TO TEXT" in _dump(usage)


def test_usage_that_is_the_help_itself_is_said_once() -> None:
    shown = _dump(usage_message("Unknown command 'sned'.", "/sms help"))
    assert shown.count("/sms help") == 1, shown
    assert "lists every command" in shown


def test_contacts_and_log() -> None:
    @dataclass
    class Contact:
        name: str
        msisdn: str

    shown = _dump(contacts_message([Contact("<b>Ann", "27821234567")]))
    assert "&lt;b&gt;Ann" in shown and "+27 82 123 4567" in shown
    assert "No contacts yet" in contacts_message([]).text

    line = LogLine(
        at=WHEN,
        inbound=False,
        msisdn="27821234567",
        contact_name="Ann",
        text="hi\nthere <!channel>",
        sender="U0ALICE",
        state="Received by recipient",
        message_id="abc",
        channel="C1",
        thread_ts="1700000000.000100",
    )
    heard = replace(line, inbound=True, sender="phone", message_id=None, thread_ts=None)
    many = LogPage((line, heard) * 50, page=1, has_more=True)
    message = log_message(many, LogAsked(None, None), "https://example.slack.com/")
    shown = _dump(message)
    assert "Received by recipient" in shown and "`abc`" in shown and "hi there" in shown
    assert "&lt;!channel&gt;" in shown  # a phone's or a person's text is shown literally
    assert "https://example.slack.com/archives/C1/p1700000000000100" in shown
    assert "<@U0ALICE> → Ann (+27 82 123 4567)" in shown and "Ann (+27 82 123 4567) → us" in shown
    assert "<!date^1740821400^" in shown  # each viewer reads their own time
    assert _sizes_ok(message.blocks)
    more = message.blocks[-1]["elements"][0]
    assert more["action_id"] == LOG_MORE_ACTION and parse_more_value(more["value"]) == (None, 2)
    later = replace(line, state="Scheduled", scheduled_at=WHEN, message_id=None)
    assert "Scheduled for <!date^1740821400^" in _dump(
        log_message(LogPage((later,), 1, False), LogAsked(None, None), "")
    )
    others = LogPage((replace(line, sender="~cli"), replace(line, sender="")), 1, False)
    shown = _dump(log_message(others, LogAsked(None, None), "https://example.slack.com/"))
    assert "the command line → Ann" in shown and "automatic reply → Ann" in shown
    empty = log_message(LogPage((), 1, False), LogAsked("+27821234567", "27821234567"), "")
    assert "No messages with +27 82 123 4567" in empty.text


def test_compose_view_and_preview() -> None:
    view = compose_view("C1", max_parts=3, sandbox=False)
    assert view["callback_id"] == "compose"
    assert read_channel(view) == "C1"
    text_input = next(b for b in view["blocks"] if b.get("block_id") == "text")
    assert text_input["dispatch_action"] is True
    assert preview("Hello", 3).startswith("5 characters · 1 part")
    assert "2 parts" in preview("a" * 161, 3)
    assert "over the limit of 1 parts" in preview("a" * 161, 1)
    assert "UCS-2" in preview("日本", 3)
    state = {"values": {"recipients": {"value": {"value": "bob"}}, "text": {"x": {"value": "t"}}}}
    values = read_values({"state": state})
    assert (values.recipients, values.text, values.when) == ("bob", "t", "")
    assert read_channel({"private_metadata": "not json"}) is None
