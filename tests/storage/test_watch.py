"""Every backend: `watch` wakes a worker soon after new inbox or outbox rows are committed."""

from __future__ import annotations

import queue

import pytest

from bot.storage import Storage, StorageError, WorkQueue
from tests.storage.conftest import Backend

WAIT = 10.0  # generous: only reached when the wake never comes


def watched(store: Storage, *queues: WorkQueue) -> queue.Queue[tuple[str, int]]:
    """Each wake as (queue, rows of it then visible to a fresh read). The first wake of a
    backend that listens on a connection of its own (PostgreSQL) comes when it listens: waited
    for and dropped here."""
    woken: queue.Queue[tuple[str, int]] = queue.Queue()
    for name in queues:
        count = store.outbox.count if name == "outbox" else store.inbox.count
        store.watch(name, lambda name=name, count=count: woken.put((name, count())))
    listener = getattr(store, "listener", None)
    if listener is not None:
        assert listener.listening.wait(WAIT)
        while not woken.empty():  # the wake every watcher gets when listening starts
            woken.get_nowait()
    return woken


def test_a_committed_row_wakes_its_queue_and_is_visible(store: Storage) -> None:
    woken = watched(store, "outbox", "inbox")
    store.outbox.enqueue("C1", "post", {"text": "hi"})
    assert woken.get(timeout=WAIT) == ("outbox", 1)
    store.inbox.store("mo", "m1", b"x=1")
    assert woken.get(timeout=WAIT) == ("inbox", 1)


def test_a_rolled_back_insert_wakes_nobody(store: Storage) -> None:
    woken = watched(store, "outbox", "inbox")
    with pytest.raises(StorageError), store.transaction():
        store.outbox.enqueue("C1", "post", {"text": "never"})
        raise StorageError("changed my mind")
    store.inbox.store("mo", "m1", b"x=1")
    assert woken.get(timeout=WAIT) == ("inbox", 1)  # the outbox's rollback told nobody
    assert woken.empty()


def test_a_transaction_wakes_after_its_commit(store: Storage) -> None:
    woken = watched(store, "outbox")
    with store.transaction():
        store.outbox.enqueue("C1", "post", {"text": "one"})
        store.outbox.enqueue("C1", "post", {"text": "two"})
        assert woken.empty()
    assert woken.get(timeout=WAIT) == ("outbox", 2)


def test_another_replica_hears_of_new_work(backend: Backend) -> None:
    if backend.name != "postgres":
        pytest.skip("one serving process per SQLite file: only its own commits add work")
    with backend.open() as listening, backend.open() as other:
        woken = watched(listening, "outbox")
        other.outbox.enqueue("C1", "post", {"text": "from the other replica"})
        assert woken.get(timeout=WAIT) == ("outbox", 1)
