"""Every backend: time slots (Slack's pace, once-per-tick jobs) shared by every process."""

from __future__ import annotations

from datetime import timedelta

from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.conftest import Backend
from tests.storage.support import run_threads

SECOND = timedelta(seconds=1)


def test_a_free_key_is_taken_once_per_interval(store: Storage, clock: ManualClock) -> None:
    assert store.slots.take({"post:C1": SECOND}) is None
    wait = store.slots.take({"post:C1": SECOND})
    assert wait == SECOND
    clock.advance(0.4)
    assert store.slots.take({"post:C1": SECOND}) == timedelta(seconds=0.6)
    clock.advance(0.6)
    assert store.slots.take({"post:C1": SECOND}) is None


def test_keys_are_taken_all_or_none(store: Storage, clock: ManualClock) -> None:
    assert store.slots.take({"card:1": 3 * SECOND}) is None
    clock.advance(1.0)
    both = {"card:1": 3 * SECOND, "post:C1": SECOND}
    assert store.slots.take(both) == 2 * SECOND  # the card waits: the channel stays free
    assert store.slots.take({"post:C1": SECOND}) is None
    clock.advance(2.0)  # the card is free again; the channel is taken once more
    assert store.slots.take({"post:C1": SECOND}) is None
    assert store.slots.take(both) == SECOND
    assert store.slots.take({"card:1": 3 * SECOND}) is None  # the card was left free
    clock.advance(3.0)
    clock.advance(1.0)
    assert store.slots.take(both) is None


def test_hold_only_ever_moves_later(store: Storage, clock: ManualClock) -> None:
    store.slots.hold("post:C1", clock.utc() + 7 * SECOND)
    store.slots.hold("post:C1", clock.utc() + 2 * SECOND)  # never sooner
    assert store.slots.take({"post:C1": SECOND}) == 7 * SECOND
    clock.advance(7.0)
    assert store.slots.take({"post:C1": SECOND}) is None


def test_busy_names_the_taken_keys_of_a_prefix(store: Storage, clock: ManualClock) -> None:
    store.slots.take({"post:C1": SECOND, "post:C2": 2 * SECOND, "card:9": 3 * SECOND})
    clock.advance(1.0)
    busy = store.slots.busy("post:")
    assert busy == {"post:C2": clock.utc() + SECOND}
    assert store.slots.busy("post:%") == {}  # the prefix is text, not a pattern


def test_prune_forgets_keys_long_free(store: Storage, clock: ManualClock) -> None:
    store.slots.take({"card:old": SECOND})
    clock.advance(7200)
    store.slots.take({"card:new": SECOND})
    assert store.slots.prune(timedelta(hours=1)) == 1
    assert store.slots.take({"card:new": SECOND}) == SECOND


def test_one_taker_across_two_instances(backend: Backend) -> None:
    """Two Storage objects on one database behave like two replicas: one of them gets the turn,
    also when each asks for a pair of keys in a different order."""
    with backend.open() as a, backend.open() as b:

        def take(i: int) -> bool:
            keys = {"card:1": 3 * SECOND, "post:C1": SECOND}
            if i % 2:
                keys = dict(reversed(list(keys.items())))
            return (a if i % 2 else b).slots.take(keys) is None

        results = run_threads(12, take)
    assert results.count(True) == 1
