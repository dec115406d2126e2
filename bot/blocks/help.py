"""The help message: every command of the one grammar, with examples."""

from __future__ import annotations

from bot.blocks.base import Message, context, escape, section
from bot.grammar import help_text

EXAMPLES = (
    "/sms send +27821234567 Running 10 minutes late",
    "/sms send --at +2h alice,bob Meeting moved to 3pm",
    "/sms contact add alice +27821234567",
    "/sms status 1a2b3c4d5e",
)


def help_message(sandbox: bool = False) -> Message:
    usage = escape(help_text("/sms"))
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
