"""Helpers the storage contract tests share: the manual clock's start (T0) and times after it,
threads released together, a recorded send, and legacy status codes as the statuses storage
takes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from bot.domain.delivery import DeliveryStatus
from bot.domain.records import NewRecipient, Send
from bot.gateway.clickatell_http.codes import delivery_status
from bot.storage import Storage
from bot.testing.clocks import START

T0 = START  # 2023-11-14 22:13:20 UTC: where the tests' ManualClock starts


def at(seconds_after_t0: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds_after_t0, UTC)


def status(code: str) -> DeliveryStatus:
    """A legacy gateway status code ("003", "004", ...) as the status storage takes."""
    return delivery_status(code)


def run_threads(count: int, target: Callable[[int], object]) -> list[object]:
    """Run `target(i)` on `count` threads released together; return results in order."""
    results: list[object] = [None] * count
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def record(store: Storage, *numbers: str, channel: str = "C1", **kwargs: object) -> Send:
    recipients = [NewRecipient(msisdn=n, climsgid="cli1", apimsgid=f"api-{n}") for n in numbers]
    return store.sends.record(
        slack_user="U1",
        channel=channel,
        text="hello",
        encoding="gsm7",
        parts=1,
        recipients=recipients,
        **kwargs,  # type: ignore[arg-type]
    )
