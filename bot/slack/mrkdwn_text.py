"""A message's mrkdwn `text` as the plain words the person meant.

Used when a message has no rich-text blocks we fully understand. The steps, in order:

1. `<…>` tokens are cut out first and rendered by `References` (mentions, channels, links,
   dates). Slack escapes every `<` a person types as `&lt;`, so a raw `<` that opens no token is
   broken markup (a truncated `<https://…`) and is dropped; a raw `>` is kept as a character.
2. Code: ```` ```fenced``` ```` and `` `inline` `` lose their backticks; their content is kept
   exactly (no mark removal, no emoji).
3. Formatting marks `*bold*`, `_italic_`, `~strike~` are removed only where Slack itself would
   format: the opening mark at the start of the text, after whitespace, after an opening bracket
   or quote or after another mark; the closing mark at the end, before whitespace, punctuation
   or another mark; a non-space character on both inner sides; no newline and no mark of the
   same kind inside. So `2*3*4`, `snake_case_name`, `a_b` and `/_private_/` keep every
   character. (Slack formats `_snake_case_` as italic; we leave it: conservative.)
4. Shortcodes become emoji (`EmojiNames`), outside code.
5. `&amp; &lt; &gt;` are decoded exactly once, last, so `&lt;@U1&gt;` typed literally reads
   `<@U1>` and is never taken for a mention.

Tokens and code take part in step 3 as opaque characters, so `*<https://x|label>*` is a bold
link whose stars go. Each step works on a list of units (a character or a token) and the
regular expressions run over a "shadow" string with one character per unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.slack.emoji_names import EmojiNames, emojize_shortcodes
from bot.slack.references import References, decode_entities

_TOKEN = re.compile(r"<([^<>]*)>")
_OPAQUE = "\ufffc"  # a token or a code character, in the shadow string
_FENCED = re.compile(r"```(.+?)```", re.DOTALL)
_INLINE = re.compile(r"`([^`\n]+)`")
MARKS = "*_~"
_OPEN_AFTER = r"\s([{\"'" + MARKS
_CLOSE_BEFORE = r"\s.,;:!?)\]}\"'" + MARKS


def _mark_pattern(mark: str) -> re.Pattern[str]:
    m = re.escape(mark)
    inner = rf"[^\s{m}](?:[^{m}\n]*[^\s{m}])?"
    return re.compile(rf"(?<![^{_OPEN_AFTER}]){m}({inner}){m}(?![^{_CLOSE_BEFORE}])")


_MARK_PATTERNS = {mark: _mark_pattern(mark) for mark in MARKS}


@dataclass
class _Unit:
    """One character of the text, or one whole `<…>` token (`token` holds its inside)."""

    char: str = ""
    token: str | None = None
    code: bool = False

    def shadow(self) -> str:
        return _OPAQUE if self.token is not None or self.code else self.char


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    position = 0
    for match in _TOKEN.finditer(text):
        units.extend(_Unit(c) for c in text[position : match.start()] if c != "<")
        units.append(_Unit(token=match.group(1)))
        position = match.end()
    units.extend(_Unit(c) for c in text[position:] if c != "<")
    return units


def _shadow(units: list[_Unit]) -> str:
    return "".join(unit.shadow() for unit in units)


def _unwrap(units: list[_Unit], pattern: re.Pattern[str], *, code: bool) -> list[_Unit]:
    """Drop the delimiters of every match of `pattern` (group 1 is the inside); mark the
    inside as code when asked."""
    drop: set[int] = set()
    for match in pattern.finditer(_shadow(units)):
        inside = range(match.start(1), match.end(1))
        drop.update(set(range(match.start(), match.end())) - set(inside))
        if code:
            for index in inside:
                units[index].code = True
    return [unit for index, unit in enumerate(units) if index not in drop]


def _strip_code(units: list[_Unit]) -> list[_Unit]:
    units = _unwrap(units, _FENCED, code=True)
    return _unwrap(units, _INLINE, code=True)


_MARK_PASSES = 3  # `*_~all three~_*` needs one pass; deeper nesting is not formatting


def _strip_marks(units: list[_Unit]) -> list[_Unit]:
    """Remove formatting marks. Nested marks of one kind (`**x**`) take a pass per level, so
    the passes are bounded: a message of ten thousand stars must not stall the relay."""
    for _ in range(_MARK_PASSES):
        before = len(units)
        for mark in MARKS:
            units = _unwrap(units, _MARK_PATTERNS[mark], code=False)
        if len(units) == before:
            break
    return units


def _render_run(chars: str, code: bool, emoji: EmojiNames) -> str:
    return decode_entities(chars if code else emojize_shortcodes(chars, emoji))


def _render(units: list[_Unit], references: References, emoji: EmojiNames) -> str:
    pieces: list[str] = []
    run: list[str] = []
    run_code = False
    for unit in units:
        if unit.token is None and (not run or unit.code == run_code):
            run.append(unit.char)
            run_code = unit.code
            continue
        if run:
            pieces.append(_render_run("".join(run), run_code, emoji))
            run = []
        if unit.token is not None:
            pieces.append(references.token(unit.token))
        else:
            run, run_code = [unit.char], unit.code
    if run:
        pieces.append(_render_run("".join(run), run_code, emoji))
    return "".join(pieces)


def mrkdwn_to_plain(text: str, references: References, emoji: EmojiNames) -> str:
    """Slack mrkdwn `text` as plain words (see the module docstring for the rules)."""
    units = _strip_marks(_strip_code(_units(text)))
    return _render(units, references, emoji)
