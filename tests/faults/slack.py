"""A Slack that goes away and comes back when the test says so.

`OutageSlack` is the shared `FakeSlack` (bot/testing/slack.py) with an outage switch for every
Web API method and response URL:

    hang()          each call is taken in and answered only when `answer_held()` is called
                    (then with 503): Slack is unreachable, and anything waiting on it waits
    fail()          503 Service Unavailable at once
    rate_limit(n)   429 with Retry-After for the next n calls, then back up
    recover()       answers normally again

Refused calls are recorded in `calls` (as the base class does) and counted per phase in
`refused`; messages are stored only by calls that succeed, so `messages` is what Slack shows.
"""

from __future__ import annotations

import threading
from collections import Counter

from bot.testing.slack import Call, FakeSlack

UP, HANG, FAIL, LIMIT = "up", "hang", "fail", "limit"


class OutageSlack(FakeSlack):
    retry_after = 1  # seconds, in 429 answers

    def __post_init__(self) -> None:
        super().__post_init__()
        self.phase = UP
        self.refused: Counter[str] = Counter()
        self.hanging = 0  # calls currently held in HANG
        self._released = threading.Event()
        self._limit = 0

    # -- switching --------------------------------------------------------------------------
    def hang(self) -> None:
        with self._lock:
            self._released.clear()
            self.phase = HANG

    def answer_held(self) -> None:
        """Answer the held calls (503) and from now on refuse at once."""
        with self._lock:
            self.phase = FAIL
            self._released.set()

    def fail(self) -> None:
        self.answer_held()

    def rate_limit(self, calls: int) -> None:
        with self._lock:
            self.phase, self._limit = LIMIT, calls
            self._released.set()

    def recover(self) -> None:
        with self._lock:
            self.phase = UP
            self._released.set()

    def stop(self) -> None:
        self.recover()
        super().stop()

    # -- the API ----------------------------------------------------------------------------
    def _record(self, call: Call) -> tuple[int, dict[str, str], dict]:
        with self._lock:
            phase = self.phase
            if phase == UP:
                pass
            elif phase == LIMIT:
                self._limit -= 1
                if self._limit <= 0:
                    self.phase = UP
            self._note(call, phase)
        if phase == UP:
            return super()._record(call)
        if phase == HANG:
            self._released.wait(30)
            with self._lock:
                self.hanging -= 1
                self._lock.notify_all()
        if phase == LIMIT:
            headers = {"Retry-After": str(self.retry_after)}
            return 429, headers, {"ok": False, "error": "ratelimited"}
        return 503, {}, {"ok": False, "error": "service_unavailable"}

    def _note(self, call: Call, phase: str) -> None:
        """Under the lock: a refused call is recorded, counted, and (HANG) counted as held."""
        if phase == UP:
            return
        self.calls.append(call)
        self.refused[phase] += 1
        if phase == HANG:
            self.hanging += 1
        self._lock.notify_all()
