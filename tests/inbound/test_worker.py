"""The background loop's failure logging: a lasting cause (a database outage fails every step)
must not write a traceback per step, and recovery must be visible."""

from __future__ import annotations

import logging
import sqlite3
import threading

from bot.inbound.worker import LoopWorker


def run_until_done(step_results: list[Exception | None]) -> None:
    """A worker whose steps raise (or succeed, None) in the given order, run to the end."""
    results = iter(step_results)
    done = threading.Event()

    def step() -> float:
        outcome = next(results, None)
        if isinstance(outcome, Exception):
            raise outcome
        done.set()
        return 60.0

    worker = LoopWorker("test-worker", step, error_pause=0.0).start()
    assert done.wait(10), "the worker did not get to a successful step"
    worker.stop()


def test_a_lasting_failure_logs_one_traceback_then_a_line_per_doubling(caplog) -> None:
    locked = sqlite3.OperationalError("database is locked")
    with caplog.at_level(logging.INFO, logger="bot.inbound.worker"):
        run_until_done([locked] * 20 + [None])
    records = [r for r in caplog.records if r.name == "bot.inbound.worker"]
    assert [r.exc_info is not None for r in records].count(True) == 1
    assert [r.getMessage() for r in records[1:]] == [
        f"test-worker: {n} steps in a row failed; the last: OperationalError: database is locked"
        for n in (2, 4, 8, 16)
    ] + ["test-worker: working again after 20 failed step(s)"]


def test_a_message_that_changes_is_not_a_new_kind_of_failure(caplog) -> None:
    """The same failure with a different ID in its message: still one traceback."""
    failures = [KeyError(f"row {n}") for n in range(8)]
    with caplog.at_level(logging.INFO, logger="bot.inbound.worker"):
        run_until_done([*failures, None])
    assert len([r for r in caplog.records if r.exc_info is not None]) == 1


def test_a_new_kind_of_failure_gets_its_own_traceback(caplog) -> None:
    failures = [sqlite3.OperationalError("database is locked"), ValueError("bad"), ValueError("x")]
    with caplog.at_level(logging.INFO, logger="bot.inbound.worker"):
        run_until_done([*failures, None])
    tracebacks = [r.exc_info[0] for r in caplog.records if r.exc_info is not None]
    assert tracebacks == [sqlite3.OperationalError, ValueError]
