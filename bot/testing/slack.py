"""The one fake Slack of tests and benchmarks: the console's stand-in, plus test scripting.

`SlackStandIn` (bot/console/slack_standin.py) is what the console shows and what every test
asserts on, so the console renders exactly the code path the tests check. It already records
every call, answers like Slack, keeps each posted message (with its `metadata`) and answers
`conversations.history` / `conversations.replies` (the outbox's exactly-once check), and can be
told to fail (`fail(method, ...)`).

`FakeSlack` adds only what a test needs to script beyond that: `hold(method)`, after which the
next call of that method is recorded (the message exists, as when Slack accepted it) while its
answer is held back until `release()` — the window between Slack accepting a post and the sender
learning it did — and two readers, `posts()` and `thread()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from bot.console.slack_standin import BOT_ID, BOT_USER, TEAM, Activity, Call, SlackStandIn

__all__ = ["BOT_ID", "BOT_USER", "TEAM", "Activity", "Call", "FakeSlack"]


@dataclass(eq=False)
class FakeSlack(SlackStandIn):
    # A client that gave up on a held answer leaves a broken pipe: expected, not news.
    quiet: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._held: set[str] = set()
        self._release = threading.Event()
        self.holding = threading.Event()  # set while an answer is being held back

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
    def _record(self, call: Call) -> tuple[int, dict[str, str], dict[str, Any]]:
        result = super()._record(call)
        if call.method in self._held:
            self._held.discard(call.method)
            self.holding.set()
            self._release.wait(30)
            self.holding.clear()
        return result
