"""Fixtures of the PostgreSQL-only tests: the adapter itself (not the port), opened on a fresh
database of the throwaway cluster, with short waits so tests of a server that went away take
a second, not the production timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.storage.postgres import PostgresStorage
from bot.testing.clocks import ManualClock

OpenStorage = Callable[..., PostgresStorage]


@pytest.fixture
def open_postgres(postgres_url: str) -> Iterator[OpenStorage]:
    """Open PostgresStorage objects on this test's database; all closed after the test."""
    opened: list[PostgresStorage] = []

    def open_one(**options: object) -> PostgresStorage:
        options.setdefault("acquire_timeout", 2.0)
        options.setdefault("connect_timeout", 2.0)
        storage = PostgresStorage(postgres_url, **options)  # type: ignore[arg-type]
        opened.append(storage)
        return storage

    yield open_one
    for storage in opened:
        storage.close()


@pytest.fixture
def store(open_postgres: OpenStorage, clock: ManualClock) -> PostgresStorage:
    return open_postgres(clock=clock)
