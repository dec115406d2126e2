"""The question a thread reply on a card with several recipients waits on (product.md §6):
one button per number that texted in, and one for all the card's recipients."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.base import Block, Message, clip, escape, plain, quote, section
from bot.sms.numbers import display_number

REPLY_TO_ACTION = "reply_to"  # action_id prefix: each button's is REPLY_TO_ACTION:<index>
EVERYONE = "*"  # the button value's target for "all recipients"


def choice_value(channel: str, ts: str, target: str) -> str:
    """A button's value: which reply (its message) and where it should go."""
    return f"{channel}|{ts}|{target}"


def parse_choice_value(value: str) -> tuple[str, str, str] | None:
    parts = value.split("|")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def _label(msisdn: str, name: str | None) -> str:
    number = display_number(msisdn)
    return f"{name} ({number})" if name else number


def choice_question(
    channel: str,
    ts: str,
    text: str,
    texted_in: Sequence[tuple[str, str | None]],
    everyone: int,
) -> Message:
    """Asks where the reply `text` (the person's message `ts`) goes. `texted_in`: (number,
    contact name) of each phone that texted into the thread; `everyone`: the card's recipients."""
    buttons: list[Block] = [
        {
            "type": "button",
            "action_id": f"{REPLY_TO_ACTION}:{index}",
            "text": plain(clip(_label(msisdn, name), 70), 75),
            "value": choice_value(channel, ts, msisdn),
        }
        for index, (msisdn, name) in enumerate(texted_in[:20])
    ]
    buttons.append(
        {
            "type": "button",
            "action_id": f"{REPLY_TO_ACTION}:all",
            "text": plain(f"All recipients ({everyone})"),
            "value": choice_value(channel, ts, EVERYONE),
        }
    )
    asked = (
        ":question: This card went to several numbers. Where should this reply go? "
        "Nothing is texted until you choose."
    )
    blocks = [
        section(f"{asked}\n{quote(text, 500)}"),
        {"type": "actions", "block_id": "reply_choice", "elements": buttons},
    ]
    return Message("Where should this reply go? Nothing is texted until you choose.", blocks)


def choice_made(
    sent_to: Sequence[tuple[str, str | None]], skipped: Sequence[str], user: str
) -> Message:
    """What the question becomes once answered: where the reply went, and who was skipped."""
    names = ", ".join(_label(m, n) for m, n in sent_to) or "nobody"
    words = f"The reply goes to {names}."
    if skipped:
        words += " Skipped (opted out): " + ", ".join(display_number(m) for m in skipped) + "."
    return Message(words, [section(f":outbox_tray: <@{user}> chose. {escape(words)}")])


def choice_answered() -> Message:
    """The question once answered (its buttons gone); the note below it says where it went."""
    words = "Answered: where this reply went is in the note below."
    return Message(words, [section(f":ballot_box_with_check: {words}")])


def choice_gone() -> str:
    return "This reply was already sent (or is no longer waiting): nothing more was texted."


def choice_not_yours() -> str:
    return "Only the person who wrote this reply (or an admin) can choose where it goes."


def choice_nobody(skipped: Sequence[str]) -> str:
    numbers = ", ".join(display_number(m) for m in skipped)
    return f"Nothing was texted: every number you chose opted out ({numbers})."
