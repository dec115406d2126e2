"""Every backend: contacts and opt-outs."""

from __future__ import annotations

import pytest

from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.support import at


def test_contacts_are_unique_ignoring_case(store: Storage) -> None:
    assert store.contacts.save("Alice", "27821111111")
    assert not store.contacts.save("ALICE", "27822222222")
    assert [(c.name, c.msisdn) for c in store.contacts.all()] == [("ALICE", "27822222222")]
    assert store.contacts.get("alice").msisdn == "27822222222"  # type: ignore[union-attr]
    assert store.contacts.save("Zoë", "27823333333")
    assert not store.contacts.save("ZOË", "27823333333")  # case beyond ASCII
    assert store.contacts.save("bob", "27824444444")
    assert [c.name for c in store.contacts.all()] == ["ALICE", "bob", "ZOË"]


def test_contact_remove_and_lookup_by_number(store: Storage) -> None:
    store.contacts.save("Bob", "27821111111")
    store.contacts.save("Alice", "27821111111")
    assert store.contacts.name_for("27821111111") == "Alice"  # first by name
    assert store.contacts.name_for("27829999999") is None
    assert store.contacts.remove("bob")
    assert not store.contacts.remove("bob")
    assert store.contacts.get("Bob") is None
    with pytest.raises(ValueError, match="empty"):
        store.contacts.save("  ", "27821111111")


def test_contact_names_in_bulk(store: Storage) -> None:
    numbers = [f"2782{i:07d}" for i in range(1200)]
    for i in range(0, 1200, 100):
        store.contacts.save(f"c{i}", numbers[i])
    names = store.contacts.names_for(numbers)
    assert len(names) == 12 and names[numbers[500]] == "c500"


def test_opt_out_and_back_in(store: Storage, clock: ManualClock) -> None:
    assert not store.opt_outs.is_opted_out("27821111111")
    assert store.opt_outs.opt_out("27821111111", "QUIT", at=at(10))
    assert store.opt_outs.is_opted_out("27821111111")
    assert not store.opt_outs.opt_out("27821111111", at=at(20))  # already out
    state = store.opt_outs.get("27821111111")
    assert state is not None and state.keyword == "QUIT" and state.changed_at == at(10)
    assert store.opt_outs.opt_in("27821111111", at=at(30))
    assert not store.opt_outs.is_opted_out("27821111111")
    assert store.opt_outs.get("27821111111").changed_at == at(30)  # type: ignore[union-attr]


def test_opt_events_out_of_order_are_ignored(store: Storage) -> None:
    store.opt_outs.opt_in("27821111111", at=at(5))  # START from a number never out: no change
    assert store.opt_outs.get("27821111111") is None
    store.opt_outs.opt_out("27821111111", at=at(100))
    assert not store.opt_outs.opt_in("27821111111", at=at(50))  # a retried older START
    assert store.opt_outs.is_opted_out("27821111111")


def test_every_opt_out_state_is_listed(store: Storage) -> None:
    store.opt_outs.opt_out("27822222222", at=at(1))
    store.opt_outs.opt_out("27821111111", "QUIT", at=at(2))
    store.opt_outs.opt_in("27822222222", at=at(3))
    assert [(o.msisdn, o.opted_out, o.keyword) for o in store.opt_outs.all()] == [
        ("27821111111", True, "QUIT"),
        ("27822222222", False, "START"),
    ]


def test_a_contact_remembers_who_set_it(store: Storage) -> None:
    assert store.contacts.save("Bob", "27821111111", owner="U0ALICE")
    assert store.contacts.get("bob").owner == "U0ALICE"  # type: ignore[union-attr]
    assert not store.contacts.save("BOB", "27822222222", owner="U0MALLORY")
    replaced = store.contacts.get("Bob")
    assert replaced is not None and (replaced.msisdn, replaced.owner) == (
        "27822222222",
        "U0MALLORY",
    )
    store.contacts.save("Carol", "27823333333")  # nobody recorded (the command line)
    assert [(c.name, c.owner) for c in store.contacts.all()] == [
        ("BOB", "U0MALLORY"),
        ("Carol", None),
    ]


def test_an_admins_opt_change_records_who(store: Storage) -> None:
    assert store.opt_outs.opt_out("27821111111", "ADMIN", at=at(10), by="U0ADMIN")
    assert store.opt_outs.get("27821111111").changed_by == "U0ADMIN"  # type: ignore[union-attr]
    assert store.opt_outs.opt_in("27821111111", "START", at=at(20))  # the phone: nobody
    assert store.opt_outs.get("27821111111").changed_by is None  # type: ignore[union-attr]
