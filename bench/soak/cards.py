"""Recognising a send's card in what Slack shows, and its command's index.

A card is a top-level message whose first block is the card heading and whose quoted text starts
with the command's token (`soak-000123`). The load watches for cards as they are posted (it
replies in their threads); the oracle reads them all at the end.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from bot.testing.slack import Activity, FakeSlack

CARD_HEADING = ":incoming_envelope: *SMS*"
COMMAND_TOKEN = re.compile(r"soak-(\d{6})")


class CardIndex:
    """Watches the fake Slack for cards as they are posted (the commander replies in their
    threads); the final checks read the fake's messages themselves."""

    def __init__(self, fake: FakeSlack) -> None:
        self._cards: dict[int, tuple[str, str]] = {}
        self._lock = threading.Lock()
        fake.subscribe(self._observe)

    def _observe(self, activity: Activity) -> None:
        if activity.kind != "post" or not activity.ok or activity.message is None:
            return
        index = card_index(activity.message)
        if index is not None and activity.channel and activity.ts:
            with self._lock:
                self._cards.setdefault(index, (activity.channel, activity.ts))

    def card(self, index: int) -> tuple[str, str] | None:
        with self._lock:
            return self._cards.get(index)


def block_text(block: Mapping[str, Any]) -> str:
    text = block.get("text")
    return str(text.get("text", "")) if isinstance(text, Mapping) else ""


def card_index(message: Mapping[str, Any]) -> int | None:
    """The command index of a send card (top level, heading, quoted text), else None."""
    blocks = message.get("blocks") or []
    if message.get("thread_ts") or len(blocks) < 4:
        return None
    if not block_text(blocks[0]).startswith(CARD_HEADING):
        return None
    found = COMMAND_TOKEN.match(block_text(blocks[1]).lstrip(">"))
    return int(found.group(1)) if found else None
