"""The send card: the one channel message that shows a `/sms send` and is updated in place.

`card_message(send)` renders a stored send (`bot.domain.records.Send`) as it stands: who sent it, to
whom (contact names where known), the text, parts and encoding, one status line per recipient, or a
tally when there are many, the message IDs, a Sandbox marker, and a Cancel button while a scheduled
message can still be stopped. Whoever updates the card (the send flow, delivery reports) renders
the latest stored state with this same function, so every update shows everything at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot.blocks.base import (
    Block,
    Message,
    clip,
    code,
    context,
    escape,
    local_time,
    quote,
    section,
)
from bot.domain.delivery import (
    ALREADY_SENT,
    HELD,
    OPTED_OUT,
    OUTCOME_UNKNOWN,
    RESENT,
    UNSETTLED,
    DeliveryState,
    DeliveryStatus,
)
from bot.sms.numbers import display_number

CANCEL_ACTION = "cancel_send"
SEND_AGAIN_ACTION = "send_again"
TALLY_OVER = 10  # more recipients than this: one tally line instead of a line each
LISTED_PROBLEMS = 10  # failures still named individually under a tally

State = Literal[
    "sending",
    "scheduled",
    "on_the_way",
    "received",
    "failed",
    "cancelled",
    "unknown",
    "repeated",
    "skipped",
    "resent",
]

_ICONS: dict[State, str] = {
    "sending": ":hourglass_flowing_sand:",
    "scheduled": ":clock3:",
    "on_the_way": ":outbox_tray:",
    "received": ":white_check_mark:",
    "failed": ":x:",
    "cancelled": ":no_entry_sign:",
    "unknown": ":warning:",
    "repeated": ":repeat:",
    "skipped": ":no_entry:",
    "resent": ":arrows_counterclockwise:",
}
_TALLY_WORDS: dict[State, str] = {
    "received": "received",
    "on_the_way": "on the way",
    "scheduled": "scheduled",
    "sending": "sending",
    "cancelled": "cancelled",
    "failed": "failed",
    "unknown": "outcome unknown",
    "repeated": "already sent before",
    "skipped": "skipped (opted out)",
    "resent": "sent again",
}
ENCODING_NAMES = {"gsm7": "GSM 7-bit", "ucs2": "Unicode (UCS-2)"}


class RecipientRow(Protocol):
    msisdn: str
    contact_name: str | None
    apimsgid: str | None
    climsgid: str
    status: str | None
    state: DeliveryState | None
    status_words: str | None
    error_code: str | None
    error_description: str | None  # plain words: why the gateway did not take it
    text: str | None  # its own text (a template filled in per contact); None: the send's


class SendRow(Protocol):
    id: int
    slack_user: str
    text: str
    encoding: str
    parts: int
    scheduled_at: datetime | None
    sandbox: bool
    cancelled_at: datetime | None
    asked_at: datetime | None  # set when quiet hours moved the send from it

    @property
    def recipients(self) -> tuple[RecipientRow, ...]: ...


@dataclass(frozen=True)
class Line:
    state: State
    words: str  # plain words for the state, e.g. "Received by recipient"
    at: datetime | None = None  # "Scheduled for" this moment, shown in each reader's zone

    def markdown(self) -> str:
        return escape(self.words) + (f" for {local_time(self.at)}" if self.at else "")


# What a bare "Delivery failed" means: the network had the message but could not hand it over.
UNDELIVERED = (
    "the network could not get it to the phone (switched off or out of reach for too long, or "
    "the number is no longer in service); check the number, or try again later"
)


def recipient_line(recipient: RecipientRow, scheduled: datetime | None, cancelled: bool) -> Line:
    """Where one recipient's message is, in plain words."""
    if recipient.error_code in (OUTCOME_UNKNOWN, UNSETTLED):
        return Line("unknown", recipient.error_description or "Outcome unknown")
    if recipient.error_code == OPTED_OUT:
        return Line("skipped", recipient.error_description or "Opted out: not sent")
    if recipient.error_code == RESENT:
        return Line("resent", recipient.error_description or "Sent again as a new message")
    if recipient.error_code == ALREADY_SENT:
        return Line("repeated", recipient.error_description or "Already sent; not sent again")
    if recipient.error_code or (recipient.error_description and not recipient.apimsgid):
        words = recipient.error_description or "the gateway did not take it."
        suffix = f" (code {recipient.error_code})" if recipient.error_code else ""
        return Line("failed", f"Not sent: {words}{suffix}")
    status = _status(recipient)
    if status is not None and status.final:
        state = _FINAL_STATES.get(status.state, "failed")
        return Line(state, _failure_words(status) if state == "failed" else status.words)
    if cancelled:
        return Line("cancelled", "Cancelled")
    if _scheduled(status) or (recipient.apimsgid and scheduled and status is None):
        return Line("scheduled", "Scheduled", scheduled)
    if status is not None:
        return Line("on_the_way", status.words)
    if recipient.apimsgid:
        return Line("on_the_way", "Accepted by the gateway")
    return Line("sending", "Sending…")


_FINAL_STATES: dict[DeliveryState, State] = {
    DeliveryState.DELIVERED: "received",
    DeliveryState.CANCELLED: "cancelled",
}


def _status(recipient: RecipientRow) -> DeliveryStatus | None:
    """The recipient's stored status as the gateway reported it (None before any)."""
    if recipient.status is None or recipient.state is None:
        return None
    return DeliveryStatus(recipient.status, recipient.state, recipient.status_words or "")


def _scheduled(status: DeliveryStatus | None) -> bool:
    return status is not None and status.state is DeliveryState.SCHEDULED


def _failure_words(status: DeliveryStatus) -> str:
    """A failure with its reason: the gateway's words when they say why ("Failed: out of
    credit"), else what an undelivered message means; and the status code, to look up."""
    words = status.words or "Failed"
    reason = words if ":" in words else f"{words.rstrip('.')}: {UNDELIVERED}"
    return f"{reason} (status {status.code})"


def _who(recipient: RecipientRow) -> str:
    number = escape(display_number(recipient.msisdn))
    if recipient.contact_name:
        return f"*{escape(recipient.contact_name)}* ({number})"
    return number


def _detail_line(recipient: RecipientRow, line: Line) -> str:
    ident = f" · {code(recipient.apimsgid)}" if recipient.apimsgid else ""
    return f"{_ICONS[line.state]} {_who(recipient)} — {line.markdown()}{ident}"


def cancellable(send: SendRow) -> bool:
    """A scheduled send not cancelled yet, with a recipient the gateway (or, for a gateway that
    cannot hold messages, sms-bot itself) still holds."""
    if send.scheduled_at is None or send.cancelled_at is not None:
        return False
    return any((r.apimsgid and not _final(r)) or _held(r) for r in send.recipients)


def _held(recipient: RecipientRow) -> bool:
    """Held by sms-bot until due: not handed to the gateway yet, nor refused."""
    return (
        recipient.status == HELD.code
        and not recipient.apimsgid
        and not recipient.error_code
        and not recipient.error_description
    )


def _final(recipient: RecipientRow) -> bool:
    status = _status(recipient)
    return status is not None and status.final


def card_message(send: SendRow) -> Message:
    lines = [
        recipient_line(r, send.scheduled_at, send.cancelled_at is not None) for r in send.recipients
    ]
    personal = any(r.text is not None for r in send.recipients)
    shown = quote(send.text) or ">"
    blocks: list[Block] = [
        section(_heading(send)),
        section(f"_From a template, filled in per recipient:_\n{shown}" if personal else shown),
        context(_facts(send)),
    ]
    blocks.extend(_recipient_blocks(send, lines, personal))
    if cancellable(send):
        blocks.append(_cancel_actions(send))
    elif offers_send_again(send):
        blocks.append(_send_again_actions(send))
    return Message(_fallback(send, lines), blocks)


def _heading(send: SendRow) -> str:
    count = len(send.recipients)
    whom = "1 recipient" if count == 1 else f"{count} recipients"
    marker = "  ·  :test_tube: *Sandbox* (no real SMS is sent)" if send.sandbox else ""
    return f":incoming_envelope: *SMS* from <@{send.slack_user}> to {whom}{marker}"


def _facts(send: SendRow) -> str:
    parts = "1 part" if send.parts == 1 else f"{send.parts} parts"
    facts = [parts, ENCODING_NAMES.get(send.encoding, send.encoding)]
    if send.scheduled_at:
        facts.append(f"scheduled for {local_time(send.scheduled_at)}")
        if send.asked_at is not None and send.asked_at != send.scheduled_at:
            facts.append(f"moved from {local_time(send.asked_at)} by quiet hours")
    if send.cancelled_at:
        facts.append(f"cancelled at {local_time(send.cancelled_at)}")
    return " · ".join(facts)


def _recipient_blocks(send: SendRow, lines: list[Line], personal: bool = False) -> list[Block]:
    pairs = list(zip(send.recipients, lines, strict=True))
    if len(pairs) <= TALLY_OVER and personal:
        # Each line with the text that person got: ten of them fit a section at 250 characters.
        return [
            section(
                "\n".join(
                    f"{_detail_line(r, line)}\n{quote(_own(send, r), 250)}" for r, line in pairs
                )
            )
        ]
    if len(pairs) <= TALLY_OVER:
        return [section("\n".join(_detail_line(r, line) for r, line in pairs))]
    tally = Counter(line.state for line in lines)
    summary = " · ".join(
        f"{_ICONS[state]} {tally[state]} {_TALLY_WORDS[state]}"
        for state in _TALLY_WORDS
        if tally[state]
    )
    blocks = [section(f"*Status:* {summary}")]
    problems = [(r, line) for r, line in pairs if line.state in ("failed", "unknown")]
    if problems:
        shown = [_detail_line(r, line) for r, line in problems[:LISTED_PROBLEMS]]
        if len(problems) > LISTED_PROBLEMS:
            shown.append(f"…and {len(problems) - LISTED_PROBLEMS} more; see `/sms log NUMBER`.")
        blocks.append(section("\n".join(shown)))
    more = " and the text each got" if personal else ""
    blocks.append(context(f"Message IDs{more} per number: `/sms log NUMBER`"))
    return blocks


def _own(send: SendRow, recipient: RecipientRow) -> str:
    return send.text if recipient.text is None else recipient.text


def offers_send_again(send: SendRow) -> bool:
    """Some message's outcome stayed unknown past the window (and the gateway cannot be asked):
    a person may send it again, once."""
    return send.cancelled_at is None and any(r.error_code == UNSETTLED for r in send.recipients)


def _send_again_actions(send: SendRow) -> Block:
    unsettled = sum(1 for r in send.recipients if r.error_code == UNSETTLED)
    whom = "this message" if unsettled == 1 else f"the {unsettled} unconfirmed messages"
    return {
        "type": "actions",
        "block_id": f"again-{send.id}",
        "elements": [
            {
                "type": "button",
                "action_id": SEND_AGAIN_ACTION,
                "text": {"type": "plain_text", "text": "Send again", "emoji": True},
                "value": str(send.id),
                "confirm": {
                    "title": {"type": "plain_text", "text": "Send it again?"},
                    "text": {
                        "type": "mrkdwn",
                        "text": f"No delivery report came for {whom}; it may have reached the "
                        "phone all the same. Send it once more as a new message?",
                    },
                    "confirm": {"type": "plain_text", "text": "Send again"},
                    "deny": {"type": "plain_text", "text": "Leave it"},
                },
            }
        ],
    }


def _cancel_actions(send: SendRow) -> Block:
    return {
        "type": "actions",
        "block_id": f"card-{send.id}",
        "elements": [
            {
                "type": "button",
                "action_id": CANCEL_ACTION,
                "text": {"type": "plain_text", "text": "Cancel", "emoji": True},
                "style": "danger",
                "value": str(send.id),
                "confirm": {
                    "title": {"type": "plain_text", "text": "Cancel this SMS?"},
                    "text": {
                        "type": "mrkdwn",
                        "text": "The scheduled message will not be sent.",
                    },
                    "confirm": {"type": "plain_text", "text": "Cancel it"},
                    "deny": {"type": "plain_text", "text": "Keep it"},
                },
            }
        ],
    }


def _fallback(send: SendRow, lines: list[Line]) -> str:
    """Notification text: who, to whom, what state; plain text (no blocks needed to read it)."""
    count = len(send.recipients)
    if count == 1:
        whom = send.recipients[0].contact_name or display_number(send.recipients[0].msisdn)
    else:
        whom = f"{count} recipients"
    states = Counter(line.state for line in lines)
    state = " / ".join(_TALLY_WORDS[s] for s in _TALLY_WORDS if states[s])
    sandbox = " [sandbox]" if send.sandbox else ""
    return escape(clip(f"SMS to {whom}{sandbox} ({state}): {send.text}", 300))
