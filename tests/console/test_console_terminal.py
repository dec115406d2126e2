"""The console's terminal never draws the prompt twice: output arriving just before the prompt
is drawn is printed without a prompt of its own, and output while the person types is printed
above the prompt, which is then redrawn once."""

from __future__ import annotations

import io
from collections.abc import Callable

from bot.console.terminal import Terminal

PROMPT = "you> "


def _screen(raw: str) -> list[str]:
    shown: list[str] = [""]
    index = 0
    while index < len(raw):
        if raw.startswith("\r\033[K", index):
            shown[-1] = ""
            index += 4
        elif raw[index] == "\n":
            shown.append("")
            index += 1
        else:
            shown[-1] += raw[index]
            index += 1
    return shown


class FakeReadline:
    """The readline module's part the terminal uses; `input` below plays readline's drawing."""

    def __init__(self) -> None:
        self.hook: Callable[[], None] | None = None
        self.buffer = ""

    def set_pre_input_hook(self, hook: Callable[[], None] | None) -> None:
        self.hook = hook

    def get_line_buffer(self) -> str:
        return self.buffer


def test_output_just_before_readline_draws_the_prompt_does_not_draw_it_too() -> None:
    out = io.StringIO()
    editor = FakeReadline()
    terminal: Terminal

    def readline_input(prompt: str) -> str:
        terminal.show(["card posted"])  # the bot posts before the prompt is on screen
        out.write(prompt)  # readline draws it
        assert editor.hook is not None
        editor.hook()  # and then calls the pre-input hook
        editor.buffer = "/sms bal"
        terminal.show(["reply"])  # the bot posts while the person types
        out.write("ance\n")  # the person finishes the line and presses Enter
        return "/sms balance"

    terminal = Terminal(
        io.StringIO(), out, interactive=True, line_editor=editor, read_line=readline_input
    )
    assert terminal.read(PROMPT) == "/sms balance"
    assert editor.hook is None  # not left behind for the next input()
    terminal.show(["after enter"])  # not reading: no prompt to redraw
    assert _screen(out.getvalue()) == [
        "card posted",
        "reply",
        "you> /sms balance",
        "after enter",
        "",
    ]


def test_without_readline_the_prompt_is_drawn_under_the_output_lock() -> None:
    out = io.StringIO()
    terminal: Terminal

    def plain_input(prompt: str) -> str:
        assert prompt == ""  # drawn already, by the terminal itself
        assert out.getvalue().endswith(PROMPT)
        terminal.show(["card posted"])
        return "/sms help"

    terminal = Terminal(
        io.StringIO(), out, interactive=True, line_editor=None, read_line=plain_input
    )
    assert terminal.read(PROMPT) == "/sms help"
    assert _screen(out.getvalue()) == ["card posted", PROMPT]
    assert out.getvalue().count(PROMPT) == 2  # drawn, cleared for the card, redrawn: once shown
