"""Builders for what inbound SMS and thread replies put in Slack (product.md §6).

Pure functions from plain data to `Message`. Text that came from a phone is shown literally: it
is escaped (&, <, > — so `<!channel>`, `<@U…>` and `<url|x>` are never executed) and placed in
`plain_text` objects, which Slack does not format as mrkdwn (no bold, links or mentions), with
emoji codes left as typed. Only text we write ourselves uses mrkdwn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.blocks.base import Block, Message, clip, context, escape, escaped_pieces, section
from bot.domain.bulk import BulkMessage
from bot.sms.numbers import display_number

# Slack allows 3000 characters in one section text; a long reassembled SMS (up to 255 parts)
# is shown over several sections rather than cut.
_CHUNK = 2900
_MAX_TEXT_BLOCKS = 40
_FALLBACK_LIMIT = 300
_QUOTE_LIMIT = 80  # a bulk message quoted in a note: enough to recognise it


@dataclass(frozen=True)
class Missing:
    """Parts of a multi-part SMS that never arrived (posted incomplete after the wait)."""

    total: int
    sequences: tuple[int, ...]


def who(msisdn: str, contact_name: str | None) -> str:
    """'Alice (+27 82 555 0103)' or '+27 82 555 0103', escaped for mrkdwn."""
    number = escape(display_number(msisdn))
    return f"*{escape(contact_name)}* ({number})" if contact_name else number


def _plain_sections(text: str) -> list[Block]:
    chunks = escaped_pieces(text, _CHUNK)[:_MAX_TEXT_BLOCKS] if text else [" "]
    return [
        {"type": "section", "text": {"type": "plain_text", "text": chunk, "emoji": False}}
        for chunk in chunks
    ]


def _missing_note(missing: Missing) -> str:
    parts = ", ".join(str(s) for s in missing.sequences)
    plural = "s" if len(missing.sequences) != 1 else ""
    return (
        f":warning: *Incomplete:* part{plural} {parts} of {missing.total} never arrived "
        "(gaps marked […])."
    )


def sms_message(
    msisdn: str,
    contact_name: str | None,
    text: str,
    *,
    starts_conversation: bool,
    missing: Missing | None = None,
    notes: Sequence[str] = (),
) -> Message:
    """An SMS from a phone: the first message of a new conversation, or a post in a thread."""
    sender = who(msisdn, contact_name)
    heading = (
        f":speech_balloon: *New SMS conversation* with {sender}"
        if starts_conversation
        else f":speech_balloon: SMS from {sender}"
    )
    blocks: list[Block] = [section(heading), *_plain_sections(text)]
    extra = ([_missing_note(missing)] if missing else []) + list(notes)
    if starts_conversation:
        extra.append(
            "Reply in this thread to text back; start a reply with `note:` to keep it here."
        )
    if extra:
        blocks.append(context(*extra))
    name = contact_name or display_number(msisdn)
    fallback = escape(clip(f"SMS from {name}: {text}", _FALLBACK_LIMIT))
    return Message(fallback, blocks)


def bulk_answered_note(answered: BulkMessage) -> str:
    """Said when a new conversation answers a bulk message: which run, and its words."""
    text = escape(clip(answered.text, _QUOTE_LIMIT))
    return f":mailbox_with_mail: In reply to bulk SMS `{escape(answered.bulk_id)}`: “{text}”"


def first_reply_mention(user: str) -> str:
    """Said once, with the first SMS that answers a card: its sender is told."""
    return f"<@{user}>, the phone answered your SMS."


def backlog_message(waiting: int, newest: str) -> Message:
    """One summary when inbound SMS queue up behind Slack's pacing in a channel. `newest` is the
    newest waiting post's notification text (already escaped)."""
    head = f"{waiting} new SMS are waiting to be shown here"
    later = f"{waiting} seconds" if waiting < 120 else f"{round(waiting / 60)} minutes"
    newest = clip(newest, _FALLBACK_LIMIT)
    return Message(
        f"{head}. The newest: {newest}",
        [
            section(
                f":hourglass_flowing_sand: *{head}.* Slack takes about one message a second per "
                f"channel, so they follow in order over the next {later}."
            ),
            context(f"The newest: {newest}"),
        ],
    )


def opt_out_note(msisdn: str, keyword: str) -> str:
    return (
        f":no_entry: {escape(display_number(msisdn))} opted out (texted {escape(keyword)}): "
        "sends to this number are refused until it texts START."
    )


def opt_in_note(msisdn: str) -> str:
    return (
        f":arrow_forward: {escape(display_number(msisdn))} texted START: sending is allowed again."
    )


def auto_reply_note(text: str) -> str:
    """Beside a keyword SMS: what sms-bot texted back on its own."""
    return f":robot_face: Answered automatically: “{escape(text)}”"


def note_message(markdown: str) -> Message:
    """A short note of ours in a thread or channel (mrkdwn we wrote; callers escape data)."""
    return Message(_strip_markup(markdown), [section(markdown)])


def relay_failed(msisdn: str, words: str, code: str | None) -> Message:
    suffix = f" (code {escape(code)})" if code else ""
    return note_message(
        f":x: This reply was not delivered to {escape(display_number(msisdn))}: "
        f"{escape(words)}{suffix}"
    )


def relay_changed(deleted: bool) -> Message:
    """A relayed reply was edited or deleted in Slack: an SMS cannot be taken back or changed."""
    if deleted:
        change = "Deleting it here does not take it back."
    else:
        change = "The edit is not sent; post a new reply to text the change."
    return note_message(
        f":information_source: That reply was already texted, and the phone keeps the original. "
        f"{change}"
    )


def ask_to_use_send(recipients: Sequence[str]) -> str:
    numbers = ", ".join(display_number(r) for r in recipients[:5])
    more = f" and {len(recipients) - 5} more" if len(recipients) > 5 else ""
    return (
        f"This card went to several numbers ({escape(numbers)}{more}) and none has replied yet, "
        "so it is not clear who should get your reply. Use `/sms send NUMBER TEXT` instead."
    )


def refused_opted_out(msisdn: str) -> str:
    return (
        f"Not sent: {escape(display_number(msisdn))} opted out (texted STOP). "
        "Nothing can be sent to it until it texts START."
    )


def refused_not_allowed() -> str:
    return "Not sent: you are not allowed to send SMS (SMS_ALLOWED_USERS). Ask an admin."


def refused_text(reason: str) -> str:
    return f"Not sent: {escape(reason)}"


def low_balance_alert(
    balance: float, threshold: float, sandbox: bool, currency: str | None = None
) -> Message:
    """Credits (legacy) or money in `currency` (the Clickatell Portal, which has no vouchers)."""
    where = " (sandbox)" if sandbox else ""
    if currency is not None:
        return note_message(
            f":warning: *Low SMS balance{where}:* {currency} {balance:,.2f} left, below the alert "
            f"level of {threshold:g}. Top up in the Clickatell Portal before sends start failing "
            "for want of balance."
        )
    return note_message(
        f":warning: *Low SMS credit{where}:* {balance:g} credits left, below the alert level of "
        f"{threshold:g}. Top up the Clickatell account (or `/sms redeem VOUCHER`) before sends "
        "start failing with 301 (no credit left)."
    )


def _strip_markup(markdown: str) -> str:
    """Fallback text for a note: the same words without emoji codes and bold stars."""
    words = [w for w in markdown.split(" ") if not (w.startswith(":") and w.endswith(":"))]
    return clip(" ".join(words).replace("*", ""), _FALLBACK_LIMIT)
