"""Shared pieces of every builder: the Message type, escaping and the basic blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """The text as a mrkdwn block quote, escaped and clipped to fit a section."""
    lines = escape(clip(text, limit)).split("\n")
    return "\n".join(f">{line}" if line else ">" for line in lines)


def code(text: str) -> str:
    """Inline code for IDs; backticks inside would end it early, so they are dropped."""
    return f"`{text.replace('`', '')}`"
