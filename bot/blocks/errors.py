"""Ephemeral error and refusal messages: the cause in plain words, the gateway code, what to do."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.base import Message, context, escape, section


def error_message(problem: str, *, code: str | None = None, hint: str | None = None) -> Message:
    """`problem` says what went wrong and (usually) what to do; `code` is the gateway's code;
    `hint` an extra line, e.g. the usage."""
    label = f" (gateway code {code})" if code else ""
    text = f":warning: {escape(problem)}{label}"
    blocks = [section(text)]
    if hint:
        blocks.append(context(escape(hint)))
    fallback = f"{problem}{label}" + (f"\n{hint}" if hint else "")
    return Message(escape(fallback), blocks)


HELP_HINT = "/sms help lists every command"


def usage_message(problem: str, usage: str, suggestions: Sequence[str] = ()) -> Message:
    """A command that could not be read; `suggestions` are corrected commands to copy, each
    shown as a code block (the one probably meant first)."""
    hint = HELP_HINT if usage.strip() == "/sms help" else f"Usage: {usage}  ·  {HELP_HINT}"
    message = error_message(problem, hint=hint)  # the usage *is* the help: said once
    if not suggestions:
        return message
    commands = [section(f"```{escape(command.replace('```', ''))}```") for command in suggestions]
    fallback = "\n".join([message.text, *(escape(command) for command in suggestions)])
    return Message(fallback, [message.blocks[0], *commands, *message.blocks[1:]])


def refused_message(reason: str) -> Message:
    """Refused before any gateway call (authorization, bad number, opt-out, too long)."""
    return Message(escape(reason), [section(f":no_entry: {escape(reason)}")])


def info_message(text: str) -> Message:
    return Message(escape(text), [section(escape(text))])
