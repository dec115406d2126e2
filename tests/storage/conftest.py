"""The storage contract suite runs once per backend.

`backend` is parametrised by BACKENDS: each entry opens a fresh, empty database for one test and
cleans it up after. Adding a backend (PostgreSQL) is one more entry; every test in this folder
then runs against it too. Tests of one backend's own machinery (SQLite's pragmas, migrations from
its older schemas) live beside it, in tests/storage/<backend>/.
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


BACKENDS: dict[str, Callable[[Path], AbstractContextManager[Backend]]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with BACKENDS[request.param](tmp_path) as opened:
        yield opened


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(backend: Backend, clock: ManualClock) -> Iterator[Storage]:
    storage = backend.open(clock)
    yield storage
    storage.close()
