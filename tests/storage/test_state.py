"""Every backend: Slack idempotency claims and named values."""

from __future__ import annotations

from datetime import timedelta

from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.conftest import Backend
from tests.storage.support import run_threads


def test_claim_is_true_once(store: Storage) -> None:
    assert store.claims.claim("Ev123")
    assert not store.claims.claim("Ev123")
    assert store.claims.claim("Ev124")


def test_concurrent_claims_have_exactly_one_winner(store: Storage) -> None:
    results = run_threads(16, lambda i: store.claims.claim("trigger-1"))
    assert results.count(True) == 1


def test_concurrent_claims_across_two_instances(backend: Backend) -> None:
    # Two Storage objects on one database behave like two processes sharing it.
    with backend.open() as a, backend.open() as b:
        results = run_threads(12, lambda i: (a if i % 2 else b).claims.claim("action-1"))
    assert results.count(True) == 1


def test_prune_claims(store: Storage, clock: ManualClock) -> None:
    store.claims.claim("old")
    clock.advance(3 * 86400)
    store.claims.claim("new")
    assert store.claims.count() == 2
    assert store.claims.prune(timedelta(days=2)) == 1
    assert store.claims.count() == 1
    assert store.claims.claim("old")  # forgotten, so claimable again
    assert not store.claims.claim("new")


def test_key_value(store: Storage) -> None:
    assert store.values.get("low_balance_alert") is None
    store.values.set("low_balance_alert", "sent")
    store.values.set("low_balance_alert", "sent twice")
    assert store.values.get("low_balance_alert") == "sent twice"
    store.values.delete("low_balance_alert")
    assert store.values.get("low_balance_alert") is None
