"""PostgreSQL only: a server that goes away, ends our sessions or makes a transaction lose a race
is "unavailable" (callbacks answer 503, workers pause), and the same Storage recovers on its own
once the server is back: no restart of the bot.

These tests stop and start the session's throwaway server; the `postgres_url` fixture makes
sure it runs again for the next test whatever happens here.
"""

from __future__ import annotations

import logging
import threading

import pytest

from bot.storage import StorageUnavailable
from bot.storage.postgres import PostgresStorage
from tests.storage.postgres.conftest import OpenStorage
from tests.storage.support import run_threads
from tests.support.postgres import PASSWORD, ThrowawayCluster, query


def test_server_stopped_then_back(
    open_postgres: OpenStorage, postgres_cluster: ThrowawayCluster
) -> None:
    storage = open_postgres(acquire_timeout=1.0)
    assert storage.inbox.store("status", "before", b"x")
    postgres_cluster.stop()  # fast shutdown: our pooled connections are ended
    try:
        with pytest.raises(StorageUnavailable) as lost:
            storage.inbox.store("status", "during", b"x")
        assert PASSWORD not in str(lost.value)
        assert not storage.healthy(wait=0.2)
        with pytest.raises(StorageUnavailable):
            storage.inbox.unprocessed()
    finally:
        postgres_cluster.start()
    assert storage.inbox.store("status", "after", b"x")  # the pool reconnected by itself
    assert storage.healthy()
    assert [item.unique_key for item in storage.inbox.unprocessed()] == ["before", "after"]


def test_a_restart_between_requests_costs_no_request(
    open_postgres: OpenStorage, postgres_cluster: ThrowawayCluster
) -> None:
    """Idle pooled connections are cut by a restart; the first statement of a unit notices
    before doing anything, and the unit starts again on a fresh connection."""
    storage = open_postgres()
    run_threads(4, lambda i: storage.values.set(f"k{i}", "before"))  # several idle connections
    postgres_cluster.stop()
    postgres_cluster.start()
    assert storage.healthy()  # /healthz does not report a restart that is over
    assert run_threads(4, lambda i: storage.values.get(f"k{i}")) == ["before"] * 4


def test_a_session_ended_by_the_administrator(
    open_postgres: OpenStorage, postgres_url: str
) -> None:
    """pg_terminate_backend (what a failover or an operator does): the unit on that connection
    is unavailable, the broken connection is dropped, the next unit works."""
    storage = open_postgres(max_connections=1)
    started, ended = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def long_transaction() -> None:
        try:
            with storage.transaction():
                storage.values.set("k", "v")
                started.set()
                ended.wait(timeout=10)
                storage.values.set("k2", "v2")
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=long_transaction)
    thread.start()
    assert started.wait(timeout=10)
    query(
        postgres_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    ended.set()
    thread.join(timeout=10)
    assert len(failures) == 1 and isinstance(failures[0], StorageUnavailable)
    assert storage.values.get("k") is None  # the transaction never committed
    storage.values.set("k", "again")
    assert storage.values.get("k") == "again"


def test_a_deadlock_is_unavailable_and_one_side_commits(store: PostgresStorage) -> None:
    """Two transactions taking two rows in opposite order: the server aborts one (deadlock
    detected); that is a lost race, not bad data, so it is StorageUnavailable."""
    store.values.set("a", "0")
    store.values.set("b", "0")
    first_locked = [threading.Event(), threading.Event()]
    outcome: list[BaseException | None] = [None, None]

    def cross(i: int, mine: str, theirs: str) -> None:
        try:
            with store.transaction():
                store.values.set(mine, str(i))
                first_locked[i].set()
                first_locked[1 - i].wait(timeout=10)
                store.values.set(theirs, str(i))
        except BaseException as exc:
            outcome[i] = exc

    threads = [
        threading.Thread(target=cross, args=(0, "a", "b")),
        threading.Thread(target=cross, args=(1, "b", "a")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    failed = [exc for exc in outcome if exc is not None]
    assert len(failed) == 1 and isinstance(failed[0], StorageUnavailable)
    assert "deadlock" in str(failed[0])
    winner = str(outcome.index(None))
    assert (store.values.get("a"), store.values.get("b")) == (winner, winner)


def test_the_pool_logs_nothing_per_unit_nor_per_reconnection_attempt(
    open_postgres: OpenStorage, postgres_cluster: ThrowawayCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """Three lines per borrowed connection, or one a second while the server is away, would
    bury the app's own log: outages are told by the workers, once per kind of failure."""
    caplog.set_level(logging.INFO)
    storage = open_postgres(acquire_timeout=1.0)
    for n in range(5):
        storage.values.set(f"k{n}", "v")
    postgres_cluster.stop()
    try:
        with pytest.raises(StorageUnavailable):
            storage.values.get("k0")
    finally:
        postgres_cluster.start()
    assert storage.values.get("k0") == "v"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
