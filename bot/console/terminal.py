"""Lines in and out, on a terminal or through a pipe.

On a terminal: a prompt (with readline editing and history when available), ANSI attributes, and
output from other threads (the bot posting while you type) printed above the prompt, which is
then redrawn with what you had typed. The prompt counts as on screen only once it is drawn
(readline's pre-input hook; without readline it is written here, under the same lock as other
output), so output arriving just before it never draws it a second time.

Through a pipe: no prompt and no ANSI; each input line is echoed after the prompt text
(`you> /sms balance`), so the output alone reads as a transcript; every write is flushed at
once, so a program driving the console sees output as it happens.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO

_LOAD = object()  # Terminal(line_editor=...) default: readline when interactive and available


def is_interactive(stdin: TextIO, stdout: TextIO) -> bool:
    return _isatty(stdin) and _isatty(stdout)


def wants_ansi(stdout: TextIO, env: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """ANSI attributes only on a terminal that can show them (and not when NO_COLOR is set)."""
    return _isatty(stdout) and env.get("TERM", "") != "dumb" and "NO_COLOR" not in env


def wants_unicode(stdout: TextIO) -> bool:
    return "utf" in (getattr(stdout, "encoding", "") or "").lower()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Terminal:
    def __init__(
        self,
        stdin: TextIO,
        stdout: TextIO,
        *,
        interactive: bool,
        line_editor: Any = _LOAD,
        read_line: Callable[[str], str] = input,
    ):
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = interactive
        self._lock = threading.RLock()
        self._prompt: str | None = None  # the prompt on screen while waiting for input
        if line_editor is _LOAD:
            line_editor = _load_readline() if interactive else None
        self._readline = line_editor  # the readline module, or None
        self._read_line = read_line

    def show(self, lines: Sequence[str]) -> None:
        """Print lines (from any thread) without mixing them with other output or the prompt."""
        if not lines:
            return
        # A reader that went away (closed pipe) must not break the bot's threads.
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            prompt = self._prompt
            if prompt is not None:
                self._write("\r\033[K")  # clear the prompt line; it is redrawn below
            self._write("".join(f"{line}\n" for line in lines))
            if prompt is not None:
                typed = self._readline.get_line_buffer() if self._readline else ""
                self._write(prompt + typed)
            self.stdout.flush()

    def read(self, prompt: str) -> str | None:
        """One line of input without its line ending; None at end of input."""
        if self.interactive:
            return self._read_tty(prompt)
        line = self.stdin.readline()
        if not line:
            return None
        line = line.rstrip("\r\n")
        self.show([f"{prompt}{line}"])
        return line

    def _read_tty(self, prompt: str) -> str | None:
        try:
            line: str | None = self._read_line(self._draw(prompt))
        except EOFError:
            line = None
        finally:
            with self._lock:
                self._prompt = None
            if hasattr(self._readline, "set_pre_input_hook"):
                self._readline.set_pre_input_hook(None)
        if line is None:
            self.show([""])  # end the prompt's line
        return line

    def _draw(self, prompt: str) -> str:
        """Have `prompt` drawn, marking it on screen only once it is: readline draws it itself
        and then calls the pre-input hook; without readline it is written here, under the lock.
        Returns the prompt to hand to `input()`."""
        if self._readline is not None:
            if hasattr(self._readline, "set_pre_input_hook"):
                self._readline.set_pre_input_hook(lambda: self._on_screen(prompt))
            else:  # a readline without the hook: assume it is drawn at once (a small window)
                self._on_screen(prompt)
            return prompt
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            self._write(prompt)
            self.stdout.flush()
            self._prompt = prompt
        return ""

    def _on_screen(self, prompt: str) -> None:
        with self._lock:
            self._prompt = prompt

    def _write(self, text: str) -> None:
        try:
            self.stdout.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self.stdout, "encoding", None) or "ascii"
            self.stdout.write(text.encode(encoding, "replace").decode(encoding))


def _load_readline():  # type: ignore[no-untyped-def]
    try:
        import readline
    except ImportError:  # not on every platform; plain input() still works
        return None
    return readline
