"""The send pipeline's wording of gateway errors (what the person is told, ephemerally)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.blocks.base import Message
from bot.blocks.send_report import problems_message
from bot.gateway.base import GatewayError, OutcomeUnknown
from bot.gateway.clickatell_http.codes import gateway_error
from bot.sms.encoding import encode_text
from bot.usecases.sending import PreparedSend, SendIntent, Target, outcome_of


@dataclass(frozen=True)
class Rcpt:
    """A stored recipient: a refusal is stored with its code and plain words."""

    msisdn: str
    error_code: str | None = None
    wire_description: str | None = None
    apimsgid: str | None = None

    @property
    def error_description(self) -> str | None:
        if self.error_code is None:
            return self.wire_description
        return gateway_error(self.error_code, self.wire_description or "").explanation


@dataclass(frozen=True)
class Sent:
    recipients: tuple[Rcpt, ...] = field(default_factory=tuple)


def _problems(sent: Sent, failure: GatewayError | None, prepared: PreparedSend) -> Message | None:
    return problems_message(outcome_of(sent, None, failure, prepared))  # type: ignore[arg-type]


def _prepared(text: str = "hello") -> PreparedSend:
    intent = SendIntent("U0ALICE", "C0GENERAL", ("27821234567",), text, "k")
    return PreparedSend(intent, (Target("27821234567", None),), encode_text(text))


def test_everything_accepted_says_nothing() -> None:
    assert _problems(Sent((Rcpt("27821234567", apimsgid="x"),)), None, _prepared()) is None


def test_invalid_destination_names_the_number() -> None:
    sent = Sent((Rcpt("27821234567", "105", "Invalid Destination Address"),))
    message = _problems(sent, None, _prepared())
    assert message is not None
    assert "+27 82 123 4567" in message.text
    assert "105" in message.text
    assert "country code" in message.text  # what to do


def test_no_credit_says_how_to_top_up() -> None:
    message = _problems(Sent(), gateway_error("301", "No Credit Left"), _prepared())
    assert message is not None
    assert "(gateway code 301)" in message.text
    assert "/sms redeem" in message.text and "Top up" in message.text


def test_too_many_parts_says_how_long_the_text_is() -> None:
    text = "x" * 400
    message = _problems(Sent(), gateway_error("113", "Max message parts exceeded"), _prepared(text))
    assert message is not None
    assert "400 GSM characters, 3 parts" in message.text
    assert "113" in message.text


def test_unknown_outcome_says_to_check_before_resending() -> None:
    message = _problems(Sent(), OutcomeUnknown("no reply"), _prepared())
    assert message is not None
    assert "/sms status" in message.text and "before sending again" in message.text


def test_one_failed_code_is_mentioned_once() -> None:
    sent = Sent((Rcpt("27825550102", "114", "Cannot route message"),))
    message = _problems(sent, None, _prepared())
    assert message is not None
    assert message.text.count("114") == 1, message.text
    assert "(gateway code 114)" in message.text


def test_different_codes_are_named_once_each_beside_their_number() -> None:
    sent = Sent(
        (
            Rcpt("27825550102", "114", "Cannot route message"),
            Rcpt("27821234567", "105", "Invalid Destination Address"),
        )
    )
    message = _problems(sent, None, _prepared())
    assert message is not None
    assert message.text.count("114") == 1 and message.text.count("105") == 1, message.text
    assert "+27 82 555 0102" in message.text and "(code 114)" in message.text
