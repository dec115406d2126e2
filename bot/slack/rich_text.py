"""A message's `rich_text` blocks as the plain words the person meant.

Slack has already parsed what the person typed into these blocks: text runs (with styles, which
a phone cannot show, so only the text is kept), emoji, mentions, links, lists, quotes and code.
Text runs hold the characters as typed, with no `&amp;` escapes, so nothing is decoded here and
a literally typed `<@U1>` stays literal.

Layout, kept to what reads well as SMS: each block element starts on a new line; a list item
is `- item` (bullet) or `1. item` (ordered, counting from the list's `offset`), indented two
spaces per `indent` level (ASCII `-`, not `•`, which is not GSM-7 and would turn the whole SMS
into UCS-2); quoted lines start with `> `; preformatted code is kept as is.

Anything this module does not recognise (an unknown element type, a field of the wrong type)
raises `NotRichText`: the caller then uses the message's mrkdwn `text`, which Slack always
writes, rather than guessing and dropping part of what the person wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.slack.emoji_names import EmojiNames
from bot.slack.references import BROADCASTS, References

_MAX_INDENT = 8


class NotRichText(ValueError):
    """The blocks hold something this module does not understand."""


def rich_text_blocks(blocks: object) -> list[dict[str, Any]]:
    """The `rich_text` blocks among a message's blocks (none when `blocks` is not a list)."""
    if not isinstance(blocks, list):
        return []
    return [b for b in blocks if isinstance(b, dict) and b.get("type") == "rich_text"]


def _field(element: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    """`element[name]` when it has the expected type; `default` when absent; else refuse."""
    value = element.get(name, default)
    if value is default or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise NotRichText(f"{element.get('type')!r}.{name} is {type(value).__name__}")


def _elements(container: dict[str, Any]) -> list[dict[str, Any]]:
    elements = _field(container, "elements", list, [])
    if not all(isinstance(element, dict) for element in elements):
        raise NotRichText("an element that is not an object")
    return elements


class _Renderer:
    """Renders the rich text of one message."""

    def __init__(self, references: References, emoji: EmojiNames) -> None:
        self.references = references
        self.emoji = emoji
        self._inline: dict[str, Callable[[dict[str, Any]], str]] = {
            "text": lambda e: _field(e, "text", str, ""),
            "link": self._link,
            "emoji": self._emoji,
            "user": lambda e: self.references.user(_field(e, "user_id", str, "")),
            "usergroup": lambda e: self.references.usergroup(_field(e, "usergroup_id", str, "")),
            "channel": lambda e: self.references.channel(_field(e, "channel_id", str, "")),
            "broadcast": self._broadcast,
            "date": self._date,
            "color": lambda e: _field(e, "value", str, ""),
        }
        self._blocks: dict[str, Callable[[dict[str, Any]], str]] = {
            "rich_text_section": self.section,
            "rich_text_list": self._list,
            "rich_text_quote": self._quote,
            "rich_text_preformatted": self.section,
        }

    def block(self, block: dict[str, Any]) -> str:
        """One `rich_text` block: its elements, each starting on a new line."""
        text = ""
        for element in _elements(block):
            part = self._dispatch(self._blocks, element)
            text += part if not text or text.endswith("\n") else "\n" + part
        return text

    def section(self, section: dict[str, Any]) -> str:
        return "".join(self._dispatch(self._inline, e) for e in _elements(section))

    @staticmethod
    def _dispatch(table: dict[str, Callable[[dict[str, Any]], str]], element: dict) -> str:
        kind = element.get("type")
        render = table.get(kind) if isinstance(kind, str) else None
        if render is None:
            raise NotRichText(f"unknown element {element.get('type')!r}")
        return render(element)

    def _link(self, element: dict[str, Any]) -> str:
        return self.references.link(
            _field(element, "url", str, ""), _field(element, "text", str, "")
        )

    def _emoji(self, element: dict[str, Any]) -> str:
        name = _field(element, "name", str, "")
        code_points = _field(element, "unicode", str, None)
        tone = _field(element, "skin_tone", int, None)
        return self.emoji.element(name, code_points, tone) if name or code_points else ""

    def _broadcast(self, element: dict[str, Any]) -> str:
        scope = _field(element, "range", str, "")
        if scope not in BROADCASTS:
            raise NotRichText(f"unknown broadcast range {scope!r}")
        return self.references.broadcast(scope)

    def _date(self, element: dict[str, Any]) -> str:
        timestamp = element.get("timestamp")
        if not isinstance(timestamp, int | str) or isinstance(timestamp, bool):
            raise NotRichText("a date without a timestamp")
        return self.references.date(str(timestamp), _field(element, "fallback", str, ""))

    def _list(self, element: dict[str, Any]) -> str:
        ordered = _field(element, "style", str, "bullet") == "ordered"
        indent = "  " * min(max(_field(element, "indent", int, 0), 0), _MAX_INDENT)
        offset = max(_field(element, "offset", int, 0), 0)
        lines = []
        for number, item in enumerate(_elements(element), start=offset + 1):
            if item.get("type") != "rich_text_section":
                raise NotRichText("a list item that is not a section")
            marker = f"{number}. " if ordered else "- "
            lines.append(indent + marker + self.section(item))
        return "\n".join(lines)

    def _quote(self, element: dict[str, Any]) -> str:
        text = self.section(element)
        return "\n".join("> " + line for line in text.removesuffix("\n").split("\n"))


def rich_text_to_plain(
    blocks: list[dict[str, Any]], references: References, emoji: EmojiNames
) -> str:
    """The plain words of a message's `rich_text` blocks; raises NotRichText when unsure."""
    renderer = _Renderer(references, emoji)
    parts = [renderer.block(block) for block in blocks]
    return "\n".join(part.removesuffix("\n") for part in parts)
