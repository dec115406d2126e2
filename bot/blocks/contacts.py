"""Contact list and contact change confirmations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.blocks.base import Message, clip, escape, section
from bot.sms.numbers import display_number

SHOWN = 100


class ContactRow(Protocol):
    name: str
    msisdn: str


def contacts_message(contacts: Sequence[ContactRow]) -> Message:
    if not contacts:
        words = "No contacts yet. Add one with /sms contact add NAME NUMBER."
        return Message(words, [section(escape(words))])
    lines = [f"• *{escape(c.name)}* {escape(display_number(c.msisdn))}" for c in contacts[:SHOWN]]
    if len(contacts) > SHOWN:
        lines.append(f"…and {len(contacts) - SHOWN} more")
    title = f"*Contacts* ({len(contacts)})"
    return Message(
        f"{len(contacts)} contacts", [section(clip(title + "\n" + "\n".join(lines), 2990))]
    )


def contact_saved_message(name: str, msisdn: str, new: bool) -> Message:
    verb = "Saved" if new else "Updated"
    words = f"{verb} contact {name}: {display_number(msisdn)}"
    return Message(escape(words), [section(f":bust_in_silhouette: {escape(words)}")])


def contact_removed_message(name: str) -> Message:
    words = f"Removed contact {name}."
    return Message(escape(words), [section(escape(words))])
