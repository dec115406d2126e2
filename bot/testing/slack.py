"""The one fake Slack of tests and benchmarks: the console's stand-in, plus test scripting.

`SlackStandIn` (bot/console/slack_standin.py) is what the console shows and what every test
asserts on, so the console renders exactly the code path the tests check. It already records
every call, answers like Slack, keeps each posted message (with its `metadata`) and answers
`conversations.history` / `conversations.replies` (the outbox's exactly-once check), and can be
told to fail (`fail(method, ...)`).

`FakeSlack` adds only what a test needs to script beyond that: `hold(method)`, after which the
next call of that method is recorded (the message exists, as when Slack accepted it) while its
answer is held back until `release()` — the window between Slack accepting a post and the sender
learning it did — and two readers, `posts()` and `thread()`. A separate block below adds
channels that refuse posts (`close_channel`/`open_channel`, with conversations.info).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from bot.console.slack_standin import BOT_ID, BOT_USER, TEAM, Activity, Call, SlackStandIn

__all__ = ["BOT_ID", "BOT_USER", "TEAM", "Activity", "Call", "FakeSlack"]


# ================================================================================================
# Channels the bot cannot post in (conversations.info, and chat.postMessage answering
# not_in_channel / is_archived / channel_not_found) — scripted per channel, until lifted.
# ================================================================================================

_CHANNEL_POSTS = ("chat.postMessage", "files.completeUploadExternal")


class _ClosedChannels:
    """Mixin of FakeSlack (uses the stand-in's lock)."""

    _lock: threading.Condition

    def _init_channels(self) -> None:
        self._closed_channels: dict[str, str] = {}

    def close_channel(self, channel: str, error: str = "not_in_channel") -> None:
        """From now on, posting in `channel` fails with `error` (not_in_channel, is_archived,
        channel_not_found) and conversations.info says so, until `open_channel`."""
        with self._lock:
            self._closed_channels[channel] = error

    def open_channel(self, channel: str) -> None:
        """The bot was invited back (or the channel unarchived): posting works again."""
        with self._lock:
            self._closed_channels.pop(channel, None)

    def _channel_answer(self, call: Call) -> dict[str, Any] | None:
        channel = str(call.params.get("channel") or call.params.get("channel_id") or "")
        error = self._closed_channels.get(channel)
        if call.method == "conversations.info":
            if error == "channel_not_found":
                return {"ok": False, "error": "channel_not_found"}
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "name": channel.lower(),
                    # not_in_channel: a private channel the bot was not invited to (in a
                    # public one, chat:write.public posts without joining)
                    "is_private": error == "not_in_channel",
                    "is_member": error != "not_in_channel",
                    "is_archived": error == "is_archived",
                },
            }
        if error is not None and call.method in _CHANNEL_POSTS:
            return {"ok": False, "error": error}
        return None


@dataclass(eq=False)
class FakeSlack(_ClosedChannels, SlackStandIn):
    # A client that gave up on a held answer leaves a broken pipe: expected, not news.
    quiet: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._held: set[str] = set()
        self._release = threading.Event()
        self.holding = threading.Event()  # set while an answer is being held back
        self._init_channels()

    # -- scripting ------------------------------------------------------------------------------
    def hold(self, method: str) -> None:
        self._release.clear()
        self._held.add(method)

    def release(self) -> None:
        self._held.clear()
        self._release.set()

    def release_failures(self) -> None:
        """Forget every scripted failure (Slack is back)."""
        self.clear_failures()

    def stop(self) -> None:
        self.release()
        super().stop()

    # -- inspection -----------------------------------------------------------------------------
    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted (in order), optionally in one channel."""
        return [
            c.params
            for c in self.calls_to("chat.postMessage")
            if channel is None or c.params.get("channel") == channel
        ]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.posts(channel) if m.get("thread_ts") == thread_ts]

    # -- the API --------------------------------------------------------------------------------
    def _answer(self, call: Call) -> dict[str, Any]:
        special = self._channel_answer(call)
        return special if special is not None else super()._answer(call)

    def _record(self, call: Call) -> tuple[int, dict[str, str], dict[str, Any]]:
        result = super()._record(call)
        if call.method in self._held:
            self._held.discard(call.method)
            self.holding.set()
            self._release.wait(30)
            self.holding.clear()
        return result
