"""The help message: every command of the one grammar, with examples."""

from __future__ import annotations

from collections.abc import Iterable

from bot.blocks.base import Message, context, escape, section
from bot.gateway.base import Capabilities
from bot.grammar import SLASH, SLASH_FORMS, USAGE, help_text

EXAMPLES = (
    "/sms send +27821234567 Running 10 minutes late",
    "/sms send --at +2h alice,bob Meeting moved to 3pm",
    "/sms contact add alice +27821234567",
    "/sms template add reminder Hi {first_name}, your table is ready",
    "/sms group add crew alice, +27821234568",
    "/sms send crew --template reminder",
    "/sms status 1a2b3c4d5e",
)


# Commands a gateway may not offer, each with the capability it needs.
_NEEDS = {"cancel": "cancel", "charge": "charge", "coverage": "coverage", "redeem": "redeem"}


def offered_commands(capabilities: Capabilities) -> tuple[str, ...]:
    """The command words that work with a gateway offering `capabilities` (`status` always
    does: without a query it answers from the delivery reports)."""
    return tuple(word for word, _, _ in USAGE if getattr(capabilities, _NEEDS.get(word, ""), True))


def help_message(sandbox: bool = False, commands: Iterable[str] | None = None) -> Message:
    """Help for every command, or only for `commands` (those the gateway offers)."""
    usage_text = help_text(SLASH, commands)
    if commands is not None:
        usage_text += "\n" + "\n".join(SLASH_FORMS)
    usage = escape(usage_text)
    examples = "\n".join(f"`{escape(e)}`" for e in EXAMPLES)
    blocks = [
        section("*Send and track SMS from Slack*"),
        section(f"```{usage}```"),
        section(f"*Examples*\n{examples}"),
    ]
    note = "Numbers: international (+27…, 0027…) or national when SMS_DEFAULT_REGION is set."
    if sandbox:
        note += " This app uses the *sandbox* gateway: no real SMS is sent."
    blocks.append(context(note))
    return Message("sms-bot help: /sms send TO TEXT, /sms status ID, /sms balance …", blocks)
