"""The words of a command line, shared by every reader of the one grammar (`bot.grammar`).

A word is a quoted string (quotes removed) or a run without spaces. Recipients and arguments are
read strictly (a quote that never closes is an error); free text loosely (`_loose`: a quote is
only a quote when it closes before a space, since texts hold apostrophes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SLASH = "/sms"
PROGRAM = "sms-bot"
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "”": "”", "’": "’"}


class UsageError(ValueError):
    """Bad command input. `str(error)` is what was wrong, the corrected commands to copy (when
    the line looks mistyped, `suggestions`: what was probably meant first), then the usage."""

    def __init__(self, problem: str, usage: str, suggestions: Sequence[str] = ()):
        self.problem = problem
        self.usage = usage
        self.suggestions = tuple(suggestions)
        lines = [problem, *(f"    {command}" for command in self.suggestions), f"Usage: {usage}"]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Token:
    value: str  # quotes removed
    start: int  # where it was typed in the line
    end: int
    quoted: bool = False


def skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def word(text: str, pos: int, stop: str = "") -> Token:
    """One token at `pos`: a quoted string (quotes removed) or a run without spaces or `stop`."""
    if pos < len(text) and text[pos] in QUOTES:
        close = text.find(QUOTES[text[pos]], pos + 1)
        if close < 0:
            raise ValueError(f"a quote opened at {text[pos : pos + 20]!r} is never closed")
        return Token(text[pos + 1 : close], pos, close + 1, quoted=True)
    end = pos
    while end < len(text) and not text[end].isspace() and text[end] not in stop:
        end += 1
    return Token(text[pos:end], pos, end)


def words(text: str) -> list[str]:
    """All tokens of `text` (quotes group, and are removed)."""
    result, pos = [], skip_space(text, 0)
    while pos < len(text):
        token = word(text, pos)
        result.append(token.value)
        pos = skip_space(text, token.end)
    return result


def loose_tokens(text: str, pos: int, limit: int | None = None) -> list[Token]:
    """The words of free text from `pos` (the first `limit` of them): a quote that closes before
    a space (or the end) makes one quoted word; any other quote is just a character (texts hold
    apostrophes)."""
    tokens: list[Token] = []
    pos = skip_space(text, pos)
    while pos < len(text) and (limit is None or len(tokens) < limit):
        close = text.find(QUOTES[text[pos]], pos + 1) if text[pos] in QUOTES else -1
        if close > 0 and (close + 1 == len(text) or text[close + 1].isspace()):
            tokens.append(Token(text[pos + 1 : close], pos, close + 1, quoted=True))
            pos = close + 1
        else:
            end = pos
            while end < len(text) and not text[end].isspace():
                end += 1
            tokens.append(Token(text[pos:end], pos, end))
            pos = end
        pos = skip_space(text, pos)
    return tokens


def unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] in QUOTES and value[-1] == QUOTES[value[0]]:
        return value[1:-1]
    return value


def quote_if_needed(value: str) -> str:
    if any(c.isspace() or c == "," for c in value) or value[:1] in QUOTES or not value:
        return f'"{value}"'
    return value
