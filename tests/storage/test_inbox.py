"""Every backend: the inbox of callbacks and multi-part SMS reassembly."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from bot.domain.records import CallbackKind
from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.conftest import Backend
from tests.storage.support import at, run_threads


def test_inbox_stores_once_and_keeps_raw_bytes(store: Storage, clock: ManualClock) -> None:
    raw = b"moMsgId=m1&text=%04%1F&charset=UTF-16BE&junk=\xff\x00"
    assert store.inbox.store("mo", "m1", raw)
    assert not store.inbox.store("mo", "m1", b"different")
    assert store.inbox.store("status", "m1", b"x")  # keys are per kind
    items = store.inbox.unprocessed()
    assert [(i.kind, i.unique_key) for i in items] == [("mo", "m1"), ("status", "m1")]
    assert items[0].params == raw and items[0].received_at == clock.utc()
    assert [i.kind for i in store.inbox.unprocessed(kind="status")] == ["status"]
    with pytest.raises(ValueError):
        store.inbox.store("other", "k", b"")  # type: ignore[arg-type]


def test_inbox_arrival_order_processing_and_failures(store: Storage) -> None:
    for i in range(5):
        store.inbox.store("status", f"api{i}:004", b"p")
    items = store.inbox.unprocessed(limit=3)
    assert [i.unique_key for i in items] == ["api0:004", "api1:004", "api2:004"]
    store.inbox.mark_processed(items[0].id)
    assert store.inbox.record_failure(items[1].id, "boom") == 1
    assert store.inbox.record_failure(items[1].id, "boom again") == 2
    pending = store.inbox.unprocessed()
    assert [i.unique_key for i in pending] == ["api1:004", "api2:004", "api3:004", "api4:004"]
    assert pending[0].attempts == 2 and pending[0].last_error == "boom again"
    # A processed key still counts as seen: a late retry is a duplicate.
    assert not store.inbox.store("status", "api0:004", b"p")


def test_concurrent_duplicate_callbacks_store_once(store: Storage) -> None:
    results = run_threads(16, lambda i: store.inbox.store("mo", "same", b"text=hi"))
    assert results.count(True) == 1
    assert len(store.inbox.unprocessed()) == 1


def test_prune_inbox_only_processed_and_old(store: Storage, clock: ManualClock) -> None:
    store.inbox.store("mo", "old-done", b"")
    store.inbox.store("mo", "old-open", b"")
    store.inbox.mark_processed(store.inbox.unprocessed()[0].id)
    clock.advance(5 * 86400)
    store.inbox.store("mo", "new", b"")
    store.inbox.mark_processed(store.inbox.unprocessed()[-1].id)
    assert store.inbox.prune(timedelta(days=4)) == 1
    assert store.inbox.store("mo", "old-done", b"")  # forgotten
    assert not store.inbox.store("mo", "new", b"")


def test_mo_parts_assemble_in_sequence_order(store: Storage) -> None:
    assert store.mo_parts.add("27821111111", 0xBEEF, 3, 3, "three") is None
    assert store.mo_parts.add("27821111111", 0xBEEF, 3, 1, "one ") is None
    assert store.mo_parts.add("27821111111", 0xBEEF, 3, 1, "dup ") is None  # repeated part
    assert store.mo_parts.add("27822222222", 0xBEEF, 3, 2, "other sender ") is None
    assert store.mo_parts.add("27821111111", 0xBEEF, 3, 2, "two ") == "one two three"
    # Until deleted, a reprocessed part (after a crash) gives the whole text again.
    assert store.mo_parts.add("27821111111", 0xBEEF, 3, 2, "two ") == "one two three"
    store.mo_parts.delete("27821111111", 0xBEEF, 3)
    assert store.mo_parts.add("27821111111", 0xBEEF, 3, 1, "again") is None


def test_single_part_group_completes_at_once(store: Storage) -> None:
    assert store.mo_parts.add("27821111111", 1, 1, 1, "all") == "all"
    with pytest.raises(ValueError):
        store.mo_parts.add("27821111111", 1, 2, 3, "bad")


def test_stale_mo_groups(store: Storage, clock: ManualClock) -> None:
    store.mo_parts.add("27821111111", 5, 3, 2, "middle")
    clock.advance(60)
    store.mo_parts.add("27821111111", 5, 3, 3, "end")
    store.mo_parts.add("27822222222", 6, 2, 1, "a")
    store.mo_parts.add("27822222222", 6, 2, 2, "b")  # complete: never stale
    clock.advance(9 * 60)
    assert store.mo_parts.stale(timedelta(minutes=10)) == []
    clock.advance(61)
    (group,) = store.mo_parts.stale(timedelta(minutes=10))
    assert (group.sender, group.reference, group.total) == ("27821111111", 5, 3)
    assert dict(group.parts) == {2: "middle", 3: "end"}
    assert group.first_received_at == at(0)


def test_inbox_counts_and_failures(store: Storage) -> None:
    for i in range(3):
        store.inbox.store("status", f"api{i}:004", b"p")
    store.inbox.store("mo", "m1", b"p")
    first, second, *_ = store.inbox.unprocessed()
    store.inbox.record_failure(first.id, "boom")
    store.inbox.mark_processed(first.id)  # processed in the end, its failure still on record
    store.inbox.record_failure(second.id, "bang")
    assert store.inbox.count() == 4
    assert store.inbox.count(unprocessed=True) == 3
    assert store.inbox.count(kind="status") == 3
    assert store.inbox.count(unprocessed=True, kind="mo") == 1
    assert [(i.unique_key, i.last_error) for i in store.inbox.failures()] == [
        ("api1:004", "bang"),
        ("api0:004", "boom"),
    ]


def test_a_batch_of_callbacks_is_stored_once_each(store: Storage) -> None:
    assert store.inbox.store("mo", "a", b"1")
    stored = store.inbox.store_many([("mo", "a", b"again"), ("mo", "b", b"2"), ("mo", "b", b"3")])
    assert stored == [False, True, False]
    assert [(i.unique_key, i.params) for i in store.inbox.unprocessed()] == [
        ("a", b"1"),
        ("b", b"2"),
    ]
    with pytest.raises(ValueError):
        store.inbox.store_many([("other", "k", b"")])  # type: ignore[list-item]


def test_a_large_batch_keeps_each_key_once_and_its_first_payload(store: Storage) -> None:
    """The writer's group commit hands over hundreds at once: a key repeated far apart in one
    batch (an adapter may write it in several statements) is stored once, with the payload it
    came with first; a key stored by an earlier batch is a duplicate; kinds are separate."""
    assert store.inbox.store("status", "k0", b"earlier")
    items: list[tuple[CallbackKind, str, bytes]] = [
        ("status", f"k{i}", f"first {i}".encode()) for i in range(450)
    ]
    items += [("status", f"k{i}", b"again") for i in range(0, 450, 7)]
    items += [("mo", "k1", b"another kind")]
    stored = store.inbox.store_many(items)
    assert stored == [i != 0 for i in range(450)] + [False] * len(range(0, 450, 7)) + [True]
    rows = store.inbox.unprocessed(limit=1000)
    assert len(rows) == 451
    payloads = {(row.kind, row.unique_key): row.params for row in rows}
    assert payloads[("status", "k0")] == b"earlier"
    assert payloads[("status", "k7")] == b"first 7"
    assert payloads[("status", "k449")] == b"first 449"
    assert payloads[("mo", "k1")] == b"another kind"
    assert store.inbox.store_many([("status", "k300", b"later")]) == [False]


def test_still_unprocessed_says_which_rows_are_left(store: Storage) -> None:
    for i in range(3):
        store.inbox.store("status", f"api{i}:004", b"p")
    ids = [item.id for item in store.inbox.unprocessed()]
    store.inbox.mark_processed(ids[1])
    assert store.inbox.still_unprocessed(ids) == {ids[0], ids[2]}
    assert store.inbox.still_unprocessed([]) == set()
    assert store.inbox.still_unprocessed([ids[1], 9999]) == set()


def test_two_processors_rechecking_in_their_transactions_take_each_row_once(
    backend: Backend, clock: ManualClock
) -> None:
    """Both read the same rows; whoever re-checks second, inside its own transaction, finds
    them processed by the first (SQLite: the write lock; PostgreSQL: the rows' locks)."""
    with backend.open(clock) as one, backend.open(clock) as two:
        for i in range(3):
            one.inbox.store("mo", f"m{i}", b"p")
        ids = [item.id for item in one.inbox.unprocessed()]
        first_has_checked = threading.Event()
        second: list[set[int]] = []

        def later_processor() -> None:
            first_has_checked.wait(10)
            with two.transaction():
                second.append(two.inbox.still_unprocessed(ids))
                two.inbox.mark_processed_many(sorted(second[0]))

        thread = threading.Thread(target=later_processor)
        thread.start()
        with one.transaction():
            assert one.inbox.still_unprocessed(ids) == set(ids)
            first_has_checked.set()
            time.sleep(0.3)  # the other one is waiting to re-check now
            one.inbox.mark_processed_many(ids)
        thread.join(30)
        assert second == [set()]
        assert one.inbox.unprocessed() == []
