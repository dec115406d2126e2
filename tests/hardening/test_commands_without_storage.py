"""When the database cannot be written, every `/sms` command still gets an answer in plain
words: those that must record something say that nothing was sent or changed, and those that
need no storage (`help`, `balance`, `coverage`, `ping`) work (issue 16, case 4). The real app over
loopback; the database is locked by another process, or its disk is full (a real SQLite file
whose connections get SQLite's own SQLITE_FULL on every INSERT)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.storage.sqlite import SqliteStorage
from tests.hardening.support import (
    Disk,
    ErrorLog,
    FaultApp,
    ForeignLock,
    FullableStorage,
    answer,
    command,
)

BUSY_TIMEOUT = 0.3  # seconds a write waits for another process's lock (the default is 30)
NOT_RECORDED = "Could not record this command"


@contextmanager
def _locked(app: FaultApp, disk: Disk) -> Iterator[None]:
    with ForeignLock(app.storage.path):
        yield


@contextmanager
def _full(app: FaultApp, disk: Disk) -> Iterator[None]:
    disk.full = True
    try:
        yield
    finally:
        disk.full = False


FAULTS = {"locked by another process": _locked, "disk full": _full}


def _app(make_fault_app: Callable[..., FaultApp], disk: Disk) -> FaultApp:
    def storage(path: Path) -> SqliteStorage:
        return FullableStorage(path, disk, busy_timeout=BUSY_TIMEOUT)

    return make_fault_app(storage_factory=storage)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_commands_answer_in_plain_words_when_the_database_cannot_be_written(
    make_fault_app: Callable[..., FaultApp], errors: ErrorLog, fault: str
) -> None:
    disk = Disk()
    app = _app(make_fault_app, disk)
    with FAULTS[fault](app, disk):
        for name, text in {
            "help": "help",
            "balance": "balance",
            "send": "send 27821234567 hello",
            "contact": "contact add bob 27821234567",
        }.items():
            command(app, text, name)
        assert "/sms send" in answer(app, "help", timeout=5)
        assert "Credit" in answer(app, "balance", timeout=5)
        for name in ("send", "contact"):
            said = answer(app, name, timeout=5)
            assert NOT_RECORDED in said and "nothing was sent" in said, said
    assert app.sandbox.messages() == []
    # A command's failure is not a bug (the workers' first failing step is logged by design).
    dropped = [p for p in errors.problems() if "bot.executor" in p or "bot.listeners" in p]
    assert dropped == [], dropped


def test_commands_are_recorded_again_once_the_database_recovers(
    make_fault_app: Callable[..., FaultApp],
) -> None:
    disk = Disk()
    app = _app(make_fault_app, disk)
    with _full(app, disk):
        command(app, "contact add bob 27821234567", "refused")
        assert NOT_RECORDED in answer(app, "refused", timeout=5)
    command(app, "contact add bob 27821234567", "saved")
    assert NOT_RECORDED not in answer(app, "saved", timeout=5)
    assert app.storage.contacts.get("bob") is not None
