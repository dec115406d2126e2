"""Every backend: the outbox (order, coalescing, leases, results)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.records import OutboxItem
from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.support import at, run_threads


def test_outbox_fifo_and_results(store: Storage) -> None:
    ids = [store.outbox.enqueue("C1", "post", {"n": i}) for i in range(3)]
    items = store.outbox.fetch_due()
    assert [i.id for i in items] == ids and [i.payload["n"] for i in items] == [0, 1, 2]
    assert store.outbox.fetch_due() == []  # claimed
    assert store.outbox.complete(items[0], "1.0001")
    assert store.outbox.result(ids[0]) == "1.0001"
    assert store.outbox.result(ids[1]) is None
    assert store.outbox.count() == 2
    done = store.outbox.get(ids[0])
    assert done is not None and done.state == "done"


def test_outbox_payload_must_be_json(store: Storage) -> None:
    with pytest.raises(ValueError, match="JSON"):
        store.outbox.enqueue("C1", "post", {"when": datetime.now(UTC)})
    store.outbox.enqueue("C1", "post", {"text": "Grüße <!channel> 😀"})
    assert store.outbox.fetch_due()[0].payload == {"text": "Grüße <!channel> 😀"}


def test_outbox_not_before(store: Storage, clock: ManualClock) -> None:
    later = store.outbox.enqueue("C1", "post", {}, not_before=at(30))
    now = store.outbox.enqueue("C1", "post", {})
    assert [i.id for i in store.outbox.fetch_due()] == [now]
    clock.advance(30)
    assert [i.id for i in store.outbox.fetch_due()] == [later]


def test_coalescing_replaces_pending_payload(store: Storage) -> None:
    first = store.outbox.enqueue("C1", "post", {"n": "other"})
    card = store.outbox.enqueue("C1", "update", {"tally": 1}, coalesce_key="card:7")
    for tally in range(2, 501):
        assert store.outbox.enqueue("C1", "update", {"tally": tally}, coalesce_key="card:7") == card
    assert store.outbox.count() == 2
    items = store.outbox.fetch_due()
    assert [i.id for i in items] == [first, card]
    assert items[1].payload == {"tally": 500} and items[1].version == 500


def test_coalescing_while_in_flight_sends_the_latest_again(store: Storage) -> None:
    card = store.outbox.enqueue("C1", "update", {"tally": 1}, coalesce_key="card:7")
    (in_flight,) = store.outbox.fetch_due()
    assert store.outbox.enqueue("C1", "update", {"tally": 2}, coalesce_key="card:7") == card
    assert not store.outbox.complete(in_flight, "5.5")  # payload changed meanwhile: not done
    (again,) = store.outbox.fetch_due()
    assert again.id == card and again.payload == {"tally": 2}
    assert store.outbox.complete(again, "5.5")
    # Once done, the same key starts a new item.
    newer = store.outbox.enqueue("C1", "update", {"tally": 3}, coalesce_key="card:7")
    assert newer != card
    assert [i.payload for i in store.outbox.fetch_due()] == [{"tally": 3}]


def test_order_key_keeps_order_within_a_conversation(store: Storage, clock: ManualClock) -> None:
    a1 = store.outbox.enqueue("C1", "post", {"n": "a1"}, order_key="conv-a")
    a2 = store.outbox.enqueue("C1", "post", {"n": "a2"}, order_key="conv-a")
    b1 = store.outbox.enqueue("C2", "post", {"n": "b1"}, order_key="conv-b")
    free = store.outbox.enqueue("C3", "post", {"n": "free"})
    first = store.outbox.fetch_due()
    assert [i.id for i in first] == [a1, b1, free]
    # a1 fails with a 429: a2 must wait for it, even once a2 alone would be due.
    store.outbox.reschedule(first[0], at(30), error="ratelimited")
    assert store.outbox.fetch_due() == []
    clock.advance(30)
    (retry,) = store.outbox.fetch_due()
    assert retry.id == a1 and retry.attempts == 1 and retry.last_error == "ratelimited"
    store.outbox.complete(retry, "10.1")
    assert [i.id for i in store.outbox.fetch_due()] == [a2]


def test_give_up_unblocks_the_order_key(store: Storage) -> None:
    a1 = store.outbox.enqueue("C1", "post", {}, order_key="k")
    a2 = store.outbox.enqueue("C1", "post", {}, order_key="k")
    (item,) = store.outbox.fetch_due()
    store.outbox.give_up(item, "channel_not_found")
    failed = store.outbox.get(a1)
    assert failed is not None and failed.state == "failed"
    assert failed.last_error == "channel_not_found"
    assert [i.id for i in store.outbox.fetch_due()] == [a2]


def test_reschedule_without_counting_an_attempt(store: Storage, clock: ManualClock) -> None:
    store.outbox.enqueue("C1", "update", {}, coalesce_key="card:1")
    (item,) = store.outbox.fetch_due()
    store.outbox.reschedule(item, at(3), count_attempt=False)
    clock.advance(3)
    (again,) = store.outbox.fetch_due()
    assert again.attempts == 0


def test_expired_lease_makes_item_due_again(store: Storage, clock: ManualClock) -> None:
    # A drainer that died holding an item: after the lease, another one picks it up.
    item_id = store.outbox.enqueue("C1", "post", {})
    store.outbox.fetch_due(lease=timedelta(seconds=10))
    clock.advance(9)
    assert store.outbox.fetch_due() == []
    clock.advance(2)
    assert [i.id for i in store.outbox.fetch_due()] == [item_id]


def test_fetch_due_limit_and_exclude_channels(store: Storage) -> None:
    for channel in ["C1", "C2", "C1", "C3"]:
        store.outbox.enqueue(channel, "post", {})
    assert [i.channel for i in store.outbox.fetch_due(limit=2, exclude_channels=["C1"])] == [
        "C2",
        "C3",
    ]
    assert [i.channel for i in store.outbox.fetch_due(limit=1)] == ["C1"]


def test_concurrent_fetches_never_share_an_item(store: Storage) -> None:
    for i in range(200):
        store.outbox.enqueue(f"C{i % 7}", "post", {"n": i})

    def drain(_: int) -> list[int]:
        taken: list[int] = []
        while batch := store.outbox.fetch_due(limit=3):
            taken.extend(item.id for item in batch)
        return taken

    results = run_threads(8, drain)
    every = [item_id for taken in results for item_id in taken]  # type: ignore[union-attr]
    assert sorted(every) == sorted(set(every)) and len(every) == 200


def test_prune_outbox(store: Storage, clock: ManualClock) -> None:
    done_id = store.outbox.enqueue("C1", "post", {})
    pending_id = store.outbox.enqueue("C1", "post", {}, order_key="x", not_before=at(10**6))
    store.outbox.complete(store.outbox.fetch_due()[0], "1.1")
    clock.advance(86400 * 2)
    assert store.outbox.prune(timedelta(days=1)) == 1
    assert store.outbox.get(done_id) is None
    assert store.outbox.get(pending_id) is not None


def test_complete_is_harmless_twice(store: Storage) -> None:
    store.outbox.enqueue("C1", "post", {})
    (item,) = store.outbox.fetch_due()
    assert store.outbox.complete(item, "1.1")
    assert store.outbox.complete(item, "2.2")
    assert store.outbox.result(item.id) == "1.1"
    ghost = OutboxItem(**{**item.__dict__, "id": 999})
    assert store.outbox.complete(ghost)


def test_outbox_counts_by_state(store: Storage) -> None:
    for _ in range(3):
        store.outbox.enqueue("C1", "post", {})
    first, second, _third = store.outbox.fetch_due()
    store.outbox.complete(first, "1.1")
    store.outbox.give_up(second, "channel_not_found")
    counts = {state: store.outbox.count(state) for state in ("pending", "done", "failed")}
    assert counts == {"pending": 1, "done": 1, "failed": 1}
    assert store.outbox.count() == 1  # pending by default


def test_backlogs_name_the_channels_where_posts_queue_up(store: Storage) -> None:
    for i in range(3):
        store.outbox.enqueue("CSMS", "post", {"n": i})
    store.outbox.enqueue("CSMS", "update", {"n": 99})  # another kind: not counted
    for i in range(2):
        store.outbox.enqueue("COTHER", "post", {"n": i})
    done = store.outbox.enqueue("CSMS", "post", {"n": 3})
    taken = next(item for item in store.outbox.fetch_due(limit=10) if item.id == done)
    assert store.outbox.complete(taken, "1.1")  # finished: no longer waiting
    found = store.outbox.backlogs("post", at_least=2)
    assert [(b.channel, b.waiting) for b in found] == [("COTHER", 2), ("CSMS", 3)]
    assert found[1].newest.payload == {"n": 2} and found[1].newest.kind == "post"
    assert [b.channel for b in store.outbox.backlogs("post", at_least=3)] == ["CSMS"]
    assert store.outbox.backlogs("post", at_least=4) == []
