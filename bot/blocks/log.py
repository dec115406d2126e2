"""`/sms log [NUMBER]`: recent messages, who sent them, their status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.blocks.base import Message, clip, code, escape, local_time, section
from bot.sms.numbers import display_number


class LogRow(Protocol):
    created_at: datetime
    slack_user: str
    text: str
    msisdn: str
    contact_name: str | None
    apimsgid: str | None
    status: str | None
    status_words: str | None
    error_code: str | None
    error_description: str | None
    scheduled_at: datetime | None
    cancelled_at: datetime | None


def _state(entry: LogRow) -> str:
    if entry.error_code or entry.error_description:
        suffix = f" ({entry.error_code})" if entry.error_code else ""
        return f"not sent{suffix}"
    if entry.status:
        return entry.status_words or f"Status {entry.status}"
    if entry.cancelled_at:
        return "Cancelled"
    if entry.scheduled_at:
        return "Scheduled"
    return "Accepted by the gateway" if entry.apimsgid else "Sending…"


def _line(entry: LogRow) -> str:
    who = escape(display_number(entry.msisdn))
    if entry.contact_name:
        who = f"{escape(entry.contact_name)} ({who})"
    ident = f" {code(entry.apimsgid)}" if entry.apimsgid else ""
    text = escape(clip(" ".join(entry.text.split()), 60))
    state = escape(_state(entry))
    if state == "Scheduled" and entry.scheduled_at:
        state += f" for {local_time(entry.scheduled_at)}"
    return (
        f"• {local_time(entry.created_at)} <@{entry.slack_user}> → {who}: “{text}” — "
        f"*{state}*{ident}"
    )


def log_message(entries: Sequence[LogRow], number: str | None = None) -> Message:
    about = f" to {display_number(number)}" if number else ""
    if not entries:
        words = f"No messages{about} yet."
        return Message(escape(words), [section(escape(words))])
    lines: list[str] = []
    size = 0
    for entry in entries:
        line = _line(entry)
        if size + len(line) > 2800:
            break
        lines.append(line)
        size += len(line) + 1
    title = f"*Recent messages{escape(about)}* (newest first)"
    return Message(f"Recent messages{about}", [section(title + "\n" + "\n".join(lines))])
