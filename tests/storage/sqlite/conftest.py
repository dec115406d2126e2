"""Fixtures of the SQLite-only tests: a database file and the adapter itself (not the port),
so its machinery (connections, pragmas, migrations) can be looked at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.sqlite import SqliteStorage
from bot.testing.clocks import ManualClock


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


@pytest.fixture
def store(db_path: Path, clock: ManualClock) -> Iterator[SqliteStorage]:
    storage = SqliteStorage(db_path, clock=clock)
    yield storage
    storage.close()
