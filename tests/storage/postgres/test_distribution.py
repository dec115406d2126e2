"""PostgreSQL only: several replicas (here: several PostgresStorage objects on one database,
which is what separate processes are to the server) share the work. No outbox item or inbox
callback is held by two of them at once, a thread's posts keep their order whoever posts them,
and what a dead replica held comes back: at once when it is gone, after the lease when it hangs.
"""

from __future__ import annotations

from datetime import timedelta

from bot.storage.postgres import PostgresStorage
from bot.testing.clocks import ManualClock
from tests.storage.postgres.conftest import OpenStorage
from tests.storage.support import run_threads


def two_replicas(open_postgres: OpenStorage, clock: ManualClock) -> tuple[PostgresStorage, ...]:
    return open_postgres(clock=clock), open_postgres(clock=clock)


# --------------------------------------------------------------------------- outbox


def test_replicas_draining_together_take_each_item_once(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    a, b = two_replicas(open_postgres, clock)
    for i in range(300):
        a.outbox.enqueue(f"C{i % 5}", "post", {"n": i})

    def drain(i: int) -> list[int]:
        replica = (a, b)[i % 2]
        taken: list[int] = []
        while batch := replica.outbox.fetch_due(limit=4):
            for item in batch:
                taken.append(item.id)
                assert replica.outbox.complete(item, "1.1")
        return taken

    results = run_threads(8, drain)
    every = [item_id for taken in results for item_id in taken]  # type: ignore[union-attr]
    assert len(every) == len(set(every)) == 300
    assert a.outbox.count("done") == 300
    assert {len(taken) > 0 for taken in results[:2]} == {True}  # type: ignore[arg-type]


def test_a_threads_posts_keep_their_order_across_replicas(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    a, b = two_replicas(open_postgres, clock)
    first, second = (a.outbox.enqueue("C1", "post", {"n": n}, order_key="t1") for n in (1, 2))
    (taken,) = a.outbox.fetch_due()
    assert taken.id == first
    assert b.outbox.fetch_due() == []  # the second waits while the first is in flight
    a.outbox.complete(taken, "1.1")
    assert [item.id for item in b.outbox.fetch_due()] == [second]


def test_a_hung_replicas_items_come_back_after_the_lease(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    a, b = two_replicas(open_postgres, clock)
    item_id = a.outbox.enqueue("C1", "post", {})
    a.outbox.fetch_due(lease=timedelta(seconds=30))  # a holds it, then stops answering
    assert b.outbox.fetch_due() == []
    assert b.outbox.release_leases() == 0  # a is alive: its claim is left alone
    clock.advance(31)
    assert [item.id for item in b.outbox.fetch_due()] == [item_id]


def test_a_dead_replicas_claims_are_released_at_once(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    a, b = two_replicas(open_postgres, clock)
    mine = b.outbox.enqueue("C1", "post", {})
    theirs = a.outbox.enqueue("C2", "post", {})
    assert [item.id for item in b.outbox.fetch_due(limit=1)] == [mine]
    assert [item.id for item in a.outbox.fetch_due()] == [theirs]
    a.close()  # every connection of a is gone, as when its process is killed
    assert b.outbox.release_leases() == 1  # a's claim only: b's own is alive
    assert [item.id for item in b.outbox.fetch_due()] == [theirs]


# --------------------------------------------------------------------------- inbox


def test_replicas_take_turns_at_the_inbox(open_postgres: OpenStorage, clock: ManualClock) -> None:
    a, b = two_replicas(open_postgres, clock)
    for i in range(5):
        a.inbox.store("mo", f"m{i}", b"text=hi")
    batch = a.inbox.unprocessed(limit=2)
    assert [item.unique_key for item in batch] == ["m0", "m1"]
    assert b.inbox.unprocessed() == []  # a has the turn
    assert [i.unique_key for i in a.inbox.unprocessed()] == ["m0", "m1", "m2", "m3", "m4"]
    with a.transaction():
        a.inbox.mark_processed_many([item.id for item in a.inbox.unprocessed()])
    b.inbox.store("mo", "m5", b"text=hi")
    assert [item.unique_key for item in b.inbox.unprocessed()] == ["m5"]  # the turn passed
    assert a.inbox.unprocessed() == []


def test_a_dead_replicas_inbox_turn_passes_at_once_a_hung_ones_after_the_lease(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    a, b, c = (open_postgres(clock=clock) for _ in range(3))
    a.inbox.store("status", "s1", b"x")
    assert len(a.inbox.unprocessed()) == 1
    assert b.inbox.unprocessed() == [] and c.inbox.unprocessed() == []
    a.close()  # killed mid-batch
    assert [item.unique_key for item in b.inbox.unprocessed()] == ["s1"]
    assert c.inbox.unprocessed() == []  # b is alive; its claim holds
    clock.advance(61)  # b hangs past the lease
    assert [item.unique_key for item in c.inbox.unprocessed()] == ["s1"]


def test_replicas_processing_together_process_each_callback_once(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    """Four replicas, each with its one inbox worker (the port's rule within a process)."""
    replicas = [open_postgres(clock=clock) for _ in range(4)]
    replicas[0].inbox.store_many([("status", f"k{i}", b"x") for i in range(200)])

    def process(i: int) -> list[int]:
        replica = replicas[i]
        done: list[int] = []
        while replica.inbox.count(unprocessed=True):
            batch = replica.inbox.unprocessed(limit=7)
            with replica.transaction():
                replica.inbox.mark_processed_many([item.id for item in batch])
            done.extend(item.id for item in batch)
        return done

    results = run_threads(4, process)
    every = [item_id for done in results for item_id in done]  # type: ignore[union-attr]
    assert len(every) == len(set(every)) == 200
