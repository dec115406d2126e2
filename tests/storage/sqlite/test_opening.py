"""SQLite only: the file, its pragmas and its connections."""

from __future__ import annotations

import gc
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.storage import StorageError, StorageUnavailable
from bot.storage.sqlite import SCHEMA_VERSION, SqliteStorage
from tests.storage.support import record, run_threads, status


def test_new_database_has_schema_wal_and_foreign_keys(store: SqliteStorage, db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()
    conn = store.database._connection()
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert store.healthy()


def test_newer_schema_is_refused(db_path: Path) -> None:
    SqliteStorage(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StorageError, match="newer"):
        SqliteStorage(db_path)


@pytest.mark.parametrize("make_path", ["directory", "not_sqlite", "memory", "missing_dir"])
def test_unusable_paths_give_a_storage_error(tmp_path: Path, make_path: str) -> None:
    if make_path == "directory":
        path: str = str(tmp_path)
    elif make_path == "not_sqlite":
        (tmp_path / "junk").write_bytes(b"this is not a database, just text" * 100)
        path = str(tmp_path / "junk")
    elif make_path == "memory":
        path = ":memory:"
    else:
        path = str(tmp_path / "no" / "such" / "dir.sqlite3")
    with pytest.raises(StorageError):
        SqliteStorage(path)


def test_connections_of_finished_threads_are_closed(store: SqliteStorage) -> None:
    threads = [threading.Thread(target=store.claims.claim, args=(f"k{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    del threads, thread
    gc.collect()
    # The test thread's own, not one per finished thread.
    assert len(store.database._connections) <= 2


def test_many_threads_write_through_the_write_ahead_log(store: SqliteStorage) -> None:
    def work(i: int) -> int:
        send = record(store, f"2782{i:07d}")
        store.sends.update_status(send.recipients[0].id, status("004"))
        return send.id

    assert len(set(run_threads(24, work))) == 24
    assert os.path.exists(str(store.path) + "-wal")


def test_a_file_that_is_no_database_is_an_error_not_a_wait(tmp_path: Path) -> None:
    """A corrupt or foreign file will not get better by retrying: StorageError, not
    StorageUnavailable (which workers wait out)."""
    junk = tmp_path / "junk"
    junk.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(StorageError) as refused:
        SqliteStorage(junk)
    assert not isinstance(refused.value, StorageUnavailable)


def test_a_lock_held_elsewhere_makes_writes_unavailable(db_path: Path) -> None:
    """Another process holding the write lock: the write gives up after busy_timeout with
    StorageUnavailable (try again later), and no sqlite3 error escapes the adapter."""
    with SqliteStorage(db_path, busy_timeout=0.2) as storage:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageUnavailable, match="locked"):
                storage.claims.claim("k")
            assert storage.claims.count() == 0  # reads still work
            assert not storage.healthy(wait=0.2)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert storage.claims.claim("k") and storage.healthy()
