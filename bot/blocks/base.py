"""Shared pieces of every builder: the Message type, escaping and the basic blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Block = dict[str, Any]

# Slack's limits: a section's text holds at most 3000 characters, a message at most 50 blocks.
SECTION_LIMIT = 3000
MAX_BLOCKS = 50


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.update / respond()."""
        return {"text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Make text literal in mrkdwn: Slack's control sequences (<!channel>, <@U…>, <url|x>) and
    entities are neutralised by escaping exactly &, < and > (Slack's rule)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """The inverse, for text Slack sends us (slash-command text arrives escaped)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escaped_pieces(text: str, limit: int) -> list[str]:
    """`text` escaped, in pieces of at most `limit` characters each. The text is split first
    and each piece escaped on its own, so no piece ends inside an entity (`&l` + `t;`): the cut
    is made by the escaped length of each character (`&` takes 5, `<` and `>` 4)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        escaped = escape(char)
        if size + len(escaped) > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += len(escaped)
    pieces.append("".join(current))
    return pieces


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(markdown, SECTION_LIMIT)}}


def context(*markdown: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(m, SECTION_LIMIT)} for m in markdown[:10]],
    }


def plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def quote(text: str, limit: int = 2500) -> str:
    """The text as a mrkdwn block quote, escaped and clipped to fit a section (clipped by its
    escaped length, between entities: clipping after escaping could cut one in half)."""
    escaped = escape(text)
    if len(escaped) > limit:
        escaped = escaped_pieces(text, limit - 1)[0] + "…"
    lines = escaped.split("\n")
    return "\n".join(f">{line}" if line else ">" for line in lines)


def local_time(moment: datetime, style: str = "{date_short_pretty} {time}") -> str:
    """A moment each reader sees in their own time zone (Slack's date formatting); readers
    whose client cannot format dates see the UTC fallback."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    fallback = f"{aware.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"<!date^{int(aware.timestamp())}^{style}|{fallback}>"


def code(text: str) -> str:
    """Inline code for IDs; backticks inside would end it early, so they are dropped."""
    return f"`{text.replace('`', '')}`"
