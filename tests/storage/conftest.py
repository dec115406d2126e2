"""The storage contract suite runs once per backend.

`backend` is parametrised by BACKENDS: each entry opens a fresh, empty database for one test and
cleans it up after: SQLite in a temp dir, PostgreSQL on the throwaway cluster of
tests/support/postgres.py. Every test in this folder runs against each. Tests of one backend's
own machinery (SQLite's pragmas, migrations from its older schemas; PostgreSQL's migration lock,
connection loss) live beside it, in tests/storage/<backend>/.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.storage import Storage, open_storage
from bot.testing.clocks import ManualClock


@dataclass(frozen=True)
class Backend:
    """One backend under test: what `open_storage` takes to open its database (again)."""

    name: str
    location: str

    def open(self, clock: Callable[[], float] = time.time) -> Storage:
        return open_storage(self.location, clock=clock)


@contextmanager
def _sqlite(tmp_path: Path) -> Iterator[Backend]:
    yield Backend("sqlite", str(tmp_path / "bot.sqlite3"))


@contextmanager
def _postgres(request: pytest.FixtureRequest) -> Iterator[Backend]:
    # Asked for lazily, so a run of SQLite tests alone starts no PostgreSQL server.
    yield Backend("postgres", request.getfixturevalue("postgres_url"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], AbstractContextManager[Backend]]] = {
    "sqlite": lambda request: _sqlite(request.getfixturevalue("tmp_path")),
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with BACKENDS[request.param](request) as opened:
        yield opened


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(backend: Backend, clock: ManualClock) -> Iterator[Storage]:
    storage = backend.open(clock)
    yield storage
    storage.close()
