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


def contact_saved_message(
    name: str,
    msisdn: str,
    new: bool,
    replaced: str | None = None,
    groups: Sequence[str] = (),
) -> Message:
    """`replaced`: the number the name stood for until now (a contact saved again with
    another number says so, never silently); `groups`: those that had it and now have the new
    one."""
    verb = "Saved" if new else "Updated"
    words = f"{verb} contact {name}: {display_number(msisdn)}"
    if replaced is not None and replaced != msisdn:
        words += f" (replacing {display_number(replaced)})"
    words += _groups_changed(groups)
    return Message(escape(words), [section(f":bust_in_silhouette: {escape(words)}")])


def _groups_changed(groups: Sequence[str]) -> str:
    if not groups:
        return ""
    which = f"The group {groups[0]}" if len(groups) == 1 else "The groups " + ", ".join(groups)
    return f". {which} now {'has' if len(groups) == 1 else 'have'} the new number."


def contact_removed_message(name: str) -> Message:
    words = f"Removed contact {name}."
    return Message(escape(words), [section(escape(words))])


def contact_replaced_message(
    name: str, owner: str | None, old: str, new: str, groups: Sequence[str] = ()
) -> Message:
    """To the person who replaced a contact someone else had saved (the card will show the
    number under the name too, so the change is never silent)."""
    whose = f"<@{owner}>'s" if owner else "an existing"
    words = (
        f"Updated contact {escape(name)}: it was {whose} contact for "
        f"{escape(display_number(old))}, and is now {escape(display_number(new))} for everyone "
        f"who sends to it{escape(_groups_changed(groups)) or '.'}"
    )
    if owner:
        words += " They have been told."
    return Message(words, [section(f":bust_in_silhouette: {words}")])


def contact_changed_note(name: str, by: str, old: str, new: str) -> Message:
    """To the person whose contact someone else replaced."""
    words = (
        f"<@{by}> changed the contact {escape(name)} you saved from "
        f"{escape(display_number(old))} to {escape(display_number(new))}. Sends to "
        f"{escape(name)} now go to the new number; /sms contact add puts yours back."
    )
    return Message(words, [section(f":warning: {words}")])
