"""Every backend: opening again keeps everything, a stored callback survives a killed process,
transactions are all or nothing and nest, and one instance serves many threads."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta

import pytest

from bot.storage import Storage, StorageError, StorageUnavailable, open_storage
from bot.testing.clocks import ManualClock
from tests.storage.conftest import Backend
from tests.storage.support import at, record, run_threads, status


def test_closed_storage_is_unhealthy_and_refuses_use(store: Storage) -> None:
    store.close()
    assert not store.healthy()
    with pytest.raises(StorageError, match="closed") as refused:
        store.claims.claim("x")
    assert isinstance(refused.value, StorageUnavailable)  # nothing wrong with the request


def test_reopen_keeps_everything(backend: Backend, clock: ManualClock) -> None:
    with backend.open(clock) as first:
        send = record(first, "27821234567", intent_key="cmd-1")
        first.sends.attach_card(send.id, "C1", "111.1")
        first.sends.update_status(send.recipients[0].id, status("003"))
        first.claims.claim("event-1")
        first.contacts.save("Alice", "27821234567")
        first.opt_outs.opt_out("27820000000")
        first.conversations.touch("C1", "111.1", "27821234567")
        first.inbox.store("mo", "m1", b"text=%E4")
        first.mo_parts.add("27821234567", 7, 2, 1, "half ")
        item = first.outbox.enqueue("C1", "post", {"text": "hi"}, order_key="conv")
        first.values.set("low_balance_alerted", "1")
    with backend.open(clock) as second:
        again = second.sends.get(send.id)
        assert again is not None and again.card_ts == "111.1"
        assert again.recipients[0].status == "003"
        assert not second.claims.claim("event-1")
        assert second.contacts.get("alice") is not None
        assert second.opt_outs.is_opted_out("27820000000")
        assert second.conversations.find_thread("27821234567") is not None
        assert [i.unique_key for i in second.inbox.unprocessed()] == ["m1"]
        assert second.mo_parts.add("27821234567", 7, 2, 2, "done") == "half done"
        assert [i.id for i in second.outbox.fetch_due()] == [item]
        assert second.values.get("low_balance_alerted") == "1"


def test_stored_callback_survives_sigkill(backend: Backend) -> None:
    # The durability promise of the inbox: committed before inbox.store returns, so a
    # process killed right after (before any clean shutdown) loses nothing.
    backend.open().close()
    child = (
        "import os, signal, sys\n"
        "from bot.storage import open_storage\n"
        "s = open_storage(sys.argv[1])\n"
        "assert s.inbox.store('status', 'api1:004', b'apiMsgId=api1&status=004')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", child, backend.location], timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL
    with backend.open() as storage:
        items = storage.inbox.unprocessed()
        assert [(i.kind, i.unique_key, i.params) for i in items] == [
            ("status", "api1:004", b"apiMsgId=api1&status=004")
        ]


def test_naive_datetimes_are_refused(store: Storage) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.conversations.find_thread("1", now=datetime(2024, 1, 1))


def test_transaction_is_all_or_nothing(store: Storage) -> None:
    store.inbox.store("mo", "m1", b"")
    (item,) = store.inbox.unprocessed()
    with pytest.raises(RuntimeError), store.transaction():
        store.mo_parts.add("27821111111", 1, 2, 1, "a")
        store.outbox.enqueue("C1", "post", {})
        store.inbox.mark_processed(item.id)
        raise RuntimeError("worker crashed")
    assert store.outbox.count() == 0
    assert [i.id for i in store.inbox.unprocessed()] == [item.id]
    assert store.mo_parts.stale(timedelta(0), now=at(10)) == []
    with store.transaction():
        store.outbox.enqueue("C1", "post", {})
        store.inbox.mark_processed(item.id)
    assert store.outbox.count() == 1 and store.inbox.unprocessed() == []


def test_nested_failure_rolls_back_only_the_inner_part(store: Storage) -> None:
    with store.transaction():
        store.values.set("outer", "1")
        try:
            with store.transaction():
                store.values.set("inner", "1")
                raise KeyError("inner failed")
        except KeyError:
            pass
        store.values.set("after", "1")
    assert store.values.get("outer") == "1" and store.values.get("after") == "1"
    assert store.values.get("inner") is None


def test_transaction_blocks_other_writers_until_commit(store: Storage) -> None:
    entered = threading.Event()
    release = threading.Event()
    seen: list[str | None] = []

    def writer() -> None:
        with store.transaction():
            store.values.set("k", "from-transaction")
            entered.set()
            release.wait(timeout=10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert entered.wait(timeout=10)
    seen.append(store.values.get("k"))  # readers are not blocked and see the last commit
    release.set()
    thread.join(timeout=10)
    seen.append(store.values.get("k"))
    assert seen == [None, "from-transaction"]


def test_many_threads_share_one_storage(store: Storage) -> None:
    def work(i: int) -> int:
        send = record(store, f"2782{i:07d}")
        store.sends.update_status(send.recipients[0].id, status("004"))
        store.inbox.store("status", f"k{i}", b"")
        return send.id

    ids = run_threads(24, work)
    assert len(set(ids)) == 24
    assert len(store.inbox.unprocessed()) == 24
    assert all(e.status == "004" for e in store.sends.recent_log(limit=100))


def test_release_leases_after_restart(backend: Backend, clock: ManualClock) -> None:
    with backend.open(clock) as before:
        item_id = before.outbox.enqueue("C1", "post", {})
        before.outbox.fetch_due()  # claimed, then the process dies
    with backend.open(clock) as after:
        assert after.outbox.fetch_due() == []  # the lease has not run out
        assert after.outbox.release_leases() == 1
        assert [i.id for i in after.outbox.fetch_due()] == [item_id]


def test_holding_for_serving_and_opening_to_serve(backend: Backend, clock: ManualClock) -> None:
    """Every backend takes the serving claim (SQLite: one serving process per file, which its
    own tests check; PostgreSQL: nothing to hold, replicas share the database)."""
    with open_storage(backend.location, clock=clock, serving=True) as serving:
        serving.outbox.enqueue("C1", "post", {})
        with backend.open(clock) as command_line:  # not serving: the command line
            assert command_line.outbox.count() == 1
    with backend.open(clock) as again:
        again.hold_for_serving()
        assert again.healthy()
