"""The background loop's failure logging: a lasting cause (a database outage fails every step)
must not write a traceback per step, and recovery must be visible."""

from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

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
        f"test-worker: step failed {n} times in a row: OperationalError: database is locked"
        for n in (2, 4, 8, 16)
    ] + ["test-worker: working again after 20 failed steps"]


@pytest.mark.parametrize("changes", [True, False])
def test_a_new_kind_of_failure_gets_its_own_traceback(caplog, changes: bool) -> None:
    first = sqlite3.OperationalError("database is locked")
    second = sqlite3.OperationalError("disk I/O error") if changes else first
    with caplog.at_level(logging.INFO, logger="bot.inbound.worker"):
        run_until_done([first, second, None])
    tracebacks = [r for r in caplog.records if r.exc_info is not None]
    assert len(tracebacks) == (2 if changes else 1)
