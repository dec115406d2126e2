"""One log line per rejected request, rate-limited (product.md §6).

An operator whose cards never update needs to see that Slack's requests fail the signature check
or that Clickatell's callbacks carry the wrong credentials; a flood of forged requests must not
fill the disk. So each reason ("bad Slack signature", "callback without credentials", …) logs
at most `per_window` lines per `window` seconds; what is held back is counted and said in one
line ("… and 37 more in the last 60 s") with the next rejection of any kind after its window.

Lines name the reason, the path and the client's address — never a secret: no signature, no
password, no token, no Authorization header.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("bot.rejected")

PER_WINDOW = 5
WINDOW = 60.0


@dataclass
class _Window:
    started: float
    logged: int = 0
    held_back: int = 0


class RejectionLog:
    def __init__(
        self,
        *,
        per_window: int = PER_WINDOW,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self._per_window, self._window, self._clock, self._log = per_window, window, clock, logger
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def rejected(self, reason: str, detail: str = "") -> None:
        """Record one rejected request: `reason` groups the rate limit, `detail` (no secrets)
        says more, e.g. the path and the client's address."""
        now = self._clock()
        with self._lock:
            summaries = self._close_windows(now)
            current = self._windows.setdefault(reason, _Window(now))
            write = current.logged < self._per_window
            if write:
                current.logged += 1
            else:
                current.held_back += 1
        for closed, held_back, seconds in summaries:
            self._log.warning(
                "rejected: %s … and %d more in the last %.0f s", closed, held_back, seconds
            )
        if write:
            self._log.warning("rejected: %s%s", reason, f" ({detail})" if detail else "")

    def _close_windows(self, now: float) -> list[tuple[str, int, float]]:
        """Forget every window that has run out; what each held back, to be said once."""
        summaries = []
        for reason, window in list(self._windows.items()):
            if now - window.started >= self._window:
                del self._windows[reason]
                if window.held_back:
                    summaries.append((reason, window.held_back, now - window.started))
        return summaries


def client_of(environ: dict[str, object]) -> str:
    """Where a request came from, for a log line: the address (and the proxy's forwarded-for
    header, clipped), never anything the request carried as credentials."""
    address = str(environ.get("REMOTE_ADDR") or "?")
    forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "")[:60]
    path = str(environ.get("PATH_INFO") or "")[:80]
    via = f", forwarded for {forwarded}" if forwarded else ""
    return f"{path} from {address}{via}"
