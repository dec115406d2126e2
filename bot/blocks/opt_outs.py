"""Admins' opt-out commands: the change made, and the list of opted-out numbers."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.base import Message, escape, section
from bot.sms.numbers import display_number
from bot.usecases.opt_outs import OptChange, OptedOutLine

BUDGET = 2600  # characters of lines in the message (a section holds 3000); the CSV has all


def opt_change_message(change: OptChange, out: bool) -> Message:
    number = display_number(change.msisdn)
    if out:
        words = (
            f"{number} is opted out: every send to it is refused until it texts START or an "
            "admin types /sms optin."
            if change.changed
            else f"{number} was already opted out; nothing changed."
        )
    else:
        words = (
            f"{number} is opted in again: sends to it are allowed."
            if change.changed
            else f"{number} was not opted out; nothing changed."
        )
    return Message(words, [section(escape(words))])


def _line(line: OptedOutLine) -> str:
    who = escape(display_number(line.msisdn))
    if line.contact_name:
        who = f"{escape(line.contact_name)} ({who})"
    by = f" (<@{line.by}>)" if line.by else ""
    stamp = int(line.at.timestamp())
    when = f"<!date^{stamp}^{{date_short}} {{time}}|{line.at:%Y-%m-%d %H:%M} UTC>"
    return f"• {who}: {when}, {escape(line.how)}{by}"


def opted_out_message(lines: Sequence[OptedOutLine], csv_posted: bool) -> Message:
    if not lines:
        words = "No number has opted out."
        return Message(words, [section(words)])
    shown: list[str] = []
    size = 0
    for line in lines:
        text = _line(line)
        if size + len(text) > BUDGET:
            break
        shown.append(text)
        size += len(text) + 1
    more = len(lines) - len(shown)
    tail = f"\n…and {more} more" if more else ""
    file_note = (
        "\nThe whole list is in the CSV file posted in this channel."
        if csv_posted
        else "\nThe CSV file could not be posted in this channel (is the bot a member?)."
    )
    title = f"*Opted-out numbers* ({len(lines)}), newest first"
    body = title + "\n" + "\n".join(shown) + tail + file_note
    return Message(f"Opted-out numbers ({len(lines)})", [section(body)])
