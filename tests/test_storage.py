"""The durable state (bot/storage.py) over a real SQLite file in tmp_path."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage import (
    _MIGRATIONS,
    SCHEMA_VERSION,
    NewRecipient,
    OutboxItem,
    Storage,
    StorageError,
)
from bot.testing.clocks import START, ManualClock

T0 = START  # 2023-11-14 22:13:20 UTC


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


@pytest.fixture
def store(db_path: Path, clock: ManualClock) -> Iterator[Storage]:
    storage = Storage(db_path, clock=clock)
    yield storage
    storage.close()


def at(seconds_after_t0: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds_after_t0, UTC)


def run_threads(count: int, target: Callable[[int], object]) -> list[object]:
    """Run `target(i)` on `count` threads released together; return results in order."""
    results: list[object] = [None] * count
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def record(store: Storage, *numbers: str, channel: str = "C1", **kwargs: object):
    recipients = [NewRecipient(msisdn=n, climsgid="cli1", apimsgid=f"api-{n}") for n in numbers]
    return store.record_send(
        slack_user="U1",
        channel=channel,
        text="hello",
        encoding="gsm7",
        parts=1,
        recipients=recipients,
        **kwargs,  # type: ignore[arg-type]
    )


# --------------------------------------------------------------------------- opening


def test_new_database_has_schema_wal_and_foreign_keys(store: Storage, db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()
    conn = store._connection()
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert store.healthy()


def test_a_version_1_database_is_migrated_with_its_parts_kept(db_path: Path) -> None:
    """Version 2 records when each SMS part reached us; parts stored before count from when
    they were taken in."""
    raw = sqlite3.connect(db_path)
    for statement in _MIGRATIONS[0]:
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 1")
    raw.execute(
        "INSERT INTO mo_parts (sender, reference, total, sequence, text, received_at) "
        "VALUES ('27821234567', 7, 2, 1, 'part one ', ?)",
        (T0,),
    )
    raw.commit()
    raw.close()
    store = Storage(db_path, clock=ManualClock(T0 + 60))
    try:
        assert store.mo_group_arrival("27821234567", 7, 2) == datetime.fromtimestamp(T0, UTC)
        whole = store.add_mo_part("27821234567", 7, 2, 2, "part two")
        assert whole == "part one part two"
        assert store.mo_group_arrival("27821234567", 7, 2) == datetime.fromtimestamp(T0, UTC)
    finally:
        store.close()


def test_newer_schema_is_refused(db_path: Path) -> None:
    Storage(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StorageError, match="newer"):
        Storage(db_path)


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
        Storage(path)


def test_closed_storage_is_unhealthy_and_refuses_use(store: Storage) -> None:
    store.close()
    assert not store.healthy()
    with pytest.raises(StorageError, match="closed"):
        store.claim("x")


def test_reopen_keeps_everything(db_path: Path, clock: ManualClock) -> None:
    with Storage(db_path, clock=clock) as first:
        send = record(first, "27821234567", intent_key="cmd-1")
        first.attach_card(send.id, "C1", "111.1")
        first.update_status(send.recipients[0].id, "003")
        first.claim("event-1")
        first.save_contact("Alice", "27821234567")
        first.record_opt_out("27820000000")
        first.touch_conversation("C1", "111.1", "27821234567")
        first.store_callback("mo", "m1", b"text=%E4")
        first.add_mo_part("27821234567", 7, 2, 1, "half ")
        item = first.enqueue("C1", "post", {"text": "hi"}, order_key="conv")
        first.set_value("low_balance_alerted", "1")
    with Storage(db_path, clock=clock) as second:
        again = second.get_send(send.id)
        assert again is not None and again.card_ts == "111.1"
        assert again.recipients[0].status == "003"
        assert not second.claim("event-1")
        assert second.contact("alice") is not None
        assert second.is_opted_out("27820000000")
        assert second.find_thread("27821234567") is not None
        assert [i.unique_key for i in second.fetch_unprocessed()] == ["m1"]
        assert second.add_mo_part("27821234567", 7, 2, 2, "done") == "half done"
        assert [i.id for i in second.fetch_due()] == [item]
        assert second.get_value("low_balance_alerted") == "1"


def test_stored_callback_survives_sigkill(db_path: Path) -> None:
    # The durability promise of the inbox: committed before store_callback returns, so a
    # process killed right after (before any clean shutdown) loses nothing.
    Storage(db_path).close()
    child = (
        "import os, signal, sys\n"
        "from bot.storage import Storage\n"
        "s = Storage(sys.argv[1])\n"
        "assert s.store_callback('status', 'api1:004', b'apiMsgId=api1&status=004')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", child, str(db_path)], timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL
    with Storage(db_path) as storage:
        items = storage.fetch_unprocessed()
        assert [(i.kind, i.unique_key, i.params) for i in items] == [
            ("status", "api1:004", b"apiMsgId=api1&status=004")
        ]


def test_naive_datetimes_are_refused(store: Storage) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.find_thread("1", now=datetime(2024, 1, 1))


# --------------------------------------------------------------------------- sends


def test_record_send_keeps_everything_in_order(store: Storage, clock: ManualClock) -> None:
    scheduled = at(3600)
    send = store.record_send(
        slack_user="U1",
        channel="C1",
        text="Grüße",
        encoding="ucs2",
        parts=2,
        sender="27830000000",
        scheduled_at=scheduled,
        sandbox=True,
        recipients=[
            NewRecipient("27821111111", "c1", contact_name="Bob", apimsgid="a1"),
            NewRecipient("27822222222", "c1", error_code="105", error_description="Invalid"),
            NewRecipient("27820000000", "c1", apimsgid="a0"),
        ],
    )
    assert send.created_at == clock.utc()
    assert (send.text, send.encoding, send.parts, send.sender) == (
        "Grüße",
        "ucs2",
        2,
        "27830000000",
    )
    assert send.scheduled_at == scheduled and send.sandbox
    assert [r.msisdn for r in send.recipients] == ["27821111111", "27822222222", "27820000000"]
    assert send.recipients[0].contact_name == "Bob"
    assert send.recipients[1].apimsgid is None and send.recipients[1].error_code == "105"
    assert store.get_send(send.id) == send
    assert store.get_send(9999) is None


def test_intent_key_makes_record_send_idempotent(store: Storage) -> None:
    first = record(store, "27821111111", intent_key="view-1")
    second = record(store, "27829999999", intent_key="view-1")
    assert second == first
    assert store.send_by_intent("view-1") == first
    assert len(store.recent_log()) == 1


def test_recipient_result_and_lookups(store: Storage) -> None:
    send = store.record_send(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli9"), NewRecipient("27822222222", "cli9")],
    )
    first, second = send.recipients
    store.update_recipient_result(first.id, apimsgid="api-1")
    store.update_recipient_result(second.id, apimsgid=None, error_code="114", error_description="x")
    assert store.recipient_by_apimsgid("api-1").id == first.id  # type: ignore[union-attr]
    assert store.recipient_by_climsgid("cli9", "27822222222").error_code == "114"  # type: ignore[union-attr]
    assert store.find_recipient(apimsgid="api-1").id == first.id  # type: ignore[union-attr]
    # Unknown apimsgid (e.g. confirmed by climsgid only): fall back to climsgid + number.
    found = store.find_recipient(apimsgid="nope", climsgid="cli9", msisdn="27821111111")
    assert found is not None and found.id == first.id
    assert store.find_recipient(apimsgid="nope") is None
    assert store.recipient_by_climsgid("cli9", "27820000000") is None


def test_attach_card_and_find_by_card(store: Storage) -> None:
    send = record(store, "27821111111")
    assert store.send_by_card("C1", "5.5") is None
    store.attach_card(send.id, "C1", "5.5")
    found = store.send_by_card("C1", "5.5")
    assert found is not None and found.id == send.id and found.card_channel == "C1"


def test_status_moves_only_forward(store: Storage, clock: ManualClock) -> None:
    recipient = record(store, "27821111111").recipients[0]
    assert store.update_status(recipient.id, "003", at=at(1))
    assert not store.update_status(recipient.id, "003", at=at(2))  # duplicate
    assert store.update_status(recipient.id, "004", at=at(3), charge=0.3)
    assert not store.update_status(recipient.id, "003", at=at(4))  # late 003 after 004
    assert not store.update_status(recipient.id, "007", at=at(5))  # first final status stays
    stored = store.recipient_by_apimsgid("api-27821111111")
    assert stored is not None
    assert (stored.status, stored.status_at, stored.charge) == ("004", at(3), 0.3)


def test_late_status_still_records_charge(store: Storage) -> None:
    recipient = record(store, "27821111111").recipients[0]
    store.update_status(recipient.id, "004")
    assert not store.update_status(recipient.id, "003", charge=0.5)
    assert store.recipient_by_apimsgid("api-27821111111").charge == 0.5  # type: ignore[union-attr]


def test_status_fills_missing_apimsgid(store: Storage) -> None:
    send = store.record_send(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli1")],
    )
    rid = send.recipients[0].id
    assert store.update_status(rid, "003", apimsgid="late-id")
    store.update_status(rid, "004", apimsgid="other")  # never overwrites a known ID
    assert store.recipient_by_apimsgid("late-id").status == "004"  # type: ignore[union-attr]
    assert not store.update_status(9999, "004")


def test_concurrent_status_updates_end_on_the_final_status(store: Storage) -> None:
    recipient = record(store, "27821111111").recipients[0]
    statuses = ["003", "004", "003", "002", "008", "003", "011", "003"] * 2
    changed = run_threads(len(statuses), lambda i: store.update_status(recipient.id, statuses[i]))
    assert store.get_send(recipient.send_id).recipients[0].status == "004"  # type: ignore[union-attr]
    assert 1 <= sum(bool(c) for c in changed) <= 5


def test_mark_cancelled(store: Storage) -> None:
    send = record(store, "27821111111")
    assert store.mark_cancelled(send.id, at=at(10))
    assert not store.mark_cancelled(send.id)
    assert not store.mark_cancelled(9999)
    assert store.get_send(send.id).cancelled_at == at(10)  # type: ignore[union-attr]


def test_recent_log_newest_first_and_per_number(store: Storage, clock: ManualClock) -> None:
    old = record(store, "27821111111", "27822222222")
    clock.advance(60)
    new = record(store, "27821111111")
    store.update_status(new.recipients[0].id, "004")
    log = store.recent_log()
    assert [(e.send_id, e.msisdn) for e in log] == [
        (new.id, "27821111111"),
        (old.id, "27821111111"),
        (old.id, "27822222222"),
    ]
    assert log[0].status == "004" and log[0].slack_user == "U1" and log[0].text == "hello"
    assert [e.send_id for e in store.recent_log("27822222222")] == [old.id]
    assert len(store.recent_log(limit=1)) == 1
    assert store.recent_log("27829999999") == []


# --------------------------------------------------------------------------- claims


def test_claim_is_true_once(store: Storage) -> None:
    assert store.claim("Ev123")
    assert not store.claim("Ev123")
    assert store.claim("Ev124")


def test_concurrent_claims_have_exactly_one_winner(store: Storage) -> None:
    results = run_threads(16, lambda i: store.claim("trigger-1"))
    assert results.count(True) == 1


def test_concurrent_claims_across_two_instances(db_path: Path) -> None:
    # Two Storage objects on one file behave like two processes sharing the database.
    with Storage(db_path) as a, Storage(db_path) as b:
        results = run_threads(12, lambda i: (a if i % 2 else b).claim("action-1"))
    assert results.count(True) == 1


def test_prune_claims(store: Storage, clock: ManualClock) -> None:
    store.claim("old")
    clock.advance(3 * 86400)
    store.claim("new")
    assert store.prune_claims(timedelta(days=2)) == 1
    assert store.claim("old")  # forgotten, so claimable again
    assert not store.claim("new")


# --------------------------------------------------------------------------- contacts


def test_contacts_are_unique_ignoring_case(store: Storage) -> None:
    assert store.save_contact("Alice", "27821111111")
    assert not store.save_contact("ALICE", "27822222222")
    assert [(c.name, c.msisdn) for c in store.contacts()] == [("ALICE", "27822222222")]
    assert store.contact("alice").msisdn == "27822222222"  # type: ignore[union-attr]
    assert store.save_contact("Zoë", "27823333333")
    assert not store.save_contact("ZOË", "27823333333")  # case beyond ASCII
    assert store.save_contact("bob", "27824444444")
    assert [c.name for c in store.contacts()] == ["ALICE", "bob", "ZOË"]


def test_contact_remove_and_lookup_by_number(store: Storage) -> None:
    store.save_contact("Bob", "27821111111")
    store.save_contact("Alice", "27821111111")
    assert store.contact_name("27821111111") == "Alice"  # first by name
    assert store.contact_name("27829999999") is None
    assert store.remove_contact("bob")
    assert not store.remove_contact("bob")
    assert store.contact("Bob") is None
    with pytest.raises(ValueError, match="empty"):
        store.save_contact("  ", "27821111111")


def test_contact_names_in_bulk(store: Storage) -> None:
    numbers = [f"2782{i:07d}" for i in range(1200)]
    for i in range(0, 1200, 100):
        store.save_contact(f"c{i}", numbers[i])
    names = store.contact_names(numbers)
    assert len(names) == 12 and names[numbers[500]] == "c500"


# --------------------------------------------------------------------------- opt-outs


def test_opt_out_and_back_in(store: Storage, clock: ManualClock) -> None:
    assert not store.is_opted_out("27821111111")
    assert store.record_opt_out("27821111111", "QUIT", at=at(10))
    assert store.is_opted_out("27821111111")
    assert not store.record_opt_out("27821111111", at=at(20))  # already out
    state = store.opt_out("27821111111")
    assert state is not None and state.keyword == "QUIT" and state.changed_at == at(10)
    assert store.record_opt_in("27821111111", at=at(30))
    assert not store.is_opted_out("27821111111")
    assert store.opt_out("27821111111").changed_at == at(30)  # type: ignore[union-attr]


def test_opt_events_out_of_order_are_ignored(store: Storage) -> None:
    store.record_opt_in("27821111111", at=at(5))  # START from a number never out: no change
    assert store.opt_out("27821111111") is None
    store.record_opt_out("27821111111", at=at(100))
    assert not store.record_opt_in("27821111111", at=at(50))  # a retried older START
    assert store.is_opted_out("27821111111")


# --------------------------------------------------------------------------- conversations


def test_find_thread_card_within_seven_days(store: Storage, clock: ManualClock) -> None:
    send = record(store, "27821111111")
    assert store.find_thread("27821111111") is None  # no Slack card yet
    store.attach_card(send.id, "C1", "100.1")
    ref = store.find_thread("27821111111")
    assert ref is not None
    assert (ref.channel, ref.thread_ts, ref.send_id, ref.root_item) == (
        "C1",
        "100.1",
        send.id,
        None,
    )
    assert store.find_thread("27821111111", now=at(7 * 86400 - 1)) is not None
    assert store.find_thread("27821111111", now=at(7 * 86400 + 1)) is None
    assert store.find_thread("27829999999") is None


def test_find_thread_prefers_the_newest(store: Storage, clock: ManualClock) -> None:
    old_card = record(store, "27821111111")
    store.attach_card(old_card.id, "C1", "100.1")
    clock.advance(3600)
    conv = store.start_conversation("27821111111", "C9", thread_ts="200.2")
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.channel, ref.thread_ts) == ("C9", "200.2")
    assert ref.conversation_id == conv.id and ref.send_id is None
    clock.advance(3600)
    new_card = record(store, "27821111111", channel="C2")
    store.attach_card(new_card.id, "C2", "300.3")
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.channel, ref.thread_ts, ref.send_id) == (
        "C2",
        "300.3",
        new_card.id,
    )
    # A reply arriving in the old card's thread makes it the newest again.
    clock.advance(60)
    store.touch_conversation("C1", "100.1", "27821111111")
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.send_id) == ("100.1", old_card.id)


def test_old_card_revived_by_recent_reply(store: Storage, clock: ManualClock) -> None:
    send = record(store, "27821111111")
    store.attach_card(send.id, "C1", "100.1")
    clock.advance(6 * 86400)
    store.touch_conversation("C1", "100.1", "27821111111")
    clock.advance(5 * 86400)  # card is 11 days old, last SMS in its thread 5 days ago
    ref = store.find_thread("27821111111")
    assert ref is not None and ref.thread_ts == "100.1" and ref.send_id == send.id


def test_relayed_reply_counts_as_activity_in_its_thread(store: Storage, clock: ManualClock) -> None:
    card = record(store, "27821111111")
    store.attach_card(card.id, "C1", "100.1")
    clock.advance(6 * 86400)
    reply = record(store, "27821111111", thread_ts="100.1")
    store.attach_card(reply.id, "C1", "150.5")  # the person's own message in the thread
    clock.advance(3 * 86400)
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.send_id) == ("100.1", card.id)
    assert store.send_by_card("C1", "150.5").id == reply.id  # type: ignore[union-attr]


def test_cancelled_and_refused_sends_do_not_attract_replies(store: Storage) -> None:
    cancelled = record(store, "27821111111")
    store.attach_card(cancelled.id, "C1", "1.1")
    store.mark_cancelled(cancelled.id)
    refused = store.record_send(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "c", error_code="105", error_description="bad")],
    )
    store.attach_card(refused.id, "C1", "2.2")
    assert store.find_thread("27821111111") is None


def test_conversation_waiting_for_its_root_post(store: Storage, clock: ManualClock) -> None:
    root = store.enqueue("CSMS", "post", {"text": "SMS from +27 82 111 1111"}, order_key="conv")
    conv = store.start_conversation("27821111111", "CSMS", root_item=root)
    assert conv.thread_ts is None and conv.root_item == root
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.root_item, ref.conversation_id) == (
        None,
        root,
        conv.id,
    )
    clock.advance(5)
    touched = store.touch_conversation_id(conv.id, "27821111111")
    assert touched.updated_at == clock.utc()
    (item,) = store.fetch_due()
    assert store.complete(item, "900.9")
    conv = store.get_conversation(conv.id)  # type: ignore[assignment]
    assert conv is not None and conv.thread_ts == "900.9"
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.root_item) == ("900.9", None)
    assert store.thread_info("CSMS", "900.9").recipients == ("27821111111",)  # type: ignore[union-attr]


def test_start_conversation_after_root_already_posted(store: Storage) -> None:
    root = store.enqueue("CSMS", "post", {})
    store.complete(store.fetch_due()[0], "77.7")
    conv = store.start_conversation("27821111111", "CSMS", root_item=root)
    assert conv.thread_ts == "77.7"
    with pytest.raises(ValueError):
        store.start_conversation("27821111111", "CSMS")


def test_card_posted_through_the_outbox(store: Storage) -> None:
    send = record(store, "27821111111")
    item = store.enqueue("C1", "post", {"blocks": []})
    store.set_card_item(send.id, item)
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.root_item, ref.send_id) == (None, item, send.id)
    store.complete(store.fetch_due()[0], "42.0")
    assert store.get_send(send.id).card_ts == "42.0"  # type: ignore[union-attr]
    ref = store.find_thread("27821111111")
    assert ref is not None and (ref.channel, ref.thread_ts) == ("C1", "42.0")


def test_thread_info_for_replies(store: Storage, clock: ManualClock) -> None:
    send = record(store, "27821111111", "27822222222")
    store.attach_card(send.id, "C1", "100.1")
    info = store.thread_info("C1", "100.1")
    assert info is not None
    assert info.recipients == ("27821111111", "27822222222") and info.last_msisdn is None
    assert info.send_id == send.id and info.conversation_id is None
    store.touch_conversation("C1", "100.1", "27822222222")
    store.touch_conversation("C1", "100.1", "27821111111")
    info = store.thread_info("C1", "100.1")
    assert info is not None and info.last_msisdn == "27821111111" and info.conversation_id
    assert store.thread_info("C1", "999.9") is None
    assert store.thread_info("C2", "100.1") is None


# --------------------------------------------------------------------------- inbox


def test_inbox_stores_once_and_keeps_raw_bytes(store: Storage, clock: ManualClock) -> None:
    raw = b"moMsgId=m1&text=%04%1F&charset=UTF-16BE&junk=\xff\x00"
    assert store.store_callback("mo", "m1", raw)
    assert not store.store_callback("mo", "m1", b"different")
    assert store.store_callback("status", "m1", b"x")  # keys are per kind
    items = store.fetch_unprocessed()
    assert [(i.kind, i.unique_key) for i in items] == [("mo", "m1"), ("status", "m1")]
    assert items[0].params == raw and items[0].received_at == clock.utc()
    assert [i.kind for i in store.fetch_unprocessed(kind="status")] == ["status"]
    with pytest.raises(ValueError):
        store.store_callback("other", "k", b"")  # type: ignore[arg-type]


def test_inbox_arrival_order_processing_and_failures(store: Storage) -> None:
    for i in range(5):
        store.store_callback("status", f"api{i}:004", b"p")
    items = store.fetch_unprocessed(limit=3)
    assert [i.unique_key for i in items] == ["api0:004", "api1:004", "api2:004"]
    store.mark_processed(items[0].id)
    assert store.record_inbox_failure(items[1].id, "boom") == 1
    assert store.record_inbox_failure(items[1].id, "boom again") == 2
    pending = store.fetch_unprocessed()
    assert [i.unique_key for i in pending] == ["api1:004", "api2:004", "api3:004", "api4:004"]
    assert pending[0].attempts == 2 and pending[0].last_error == "boom again"
    # A processed key still counts as seen: a late retry is a duplicate.
    assert not store.store_callback("status", "api0:004", b"p")


def test_concurrent_duplicate_callbacks_store_once(store: Storage) -> None:
    results = run_threads(16, lambda i: store.store_callback("mo", "same", b"text=hi"))
    assert results.count(True) == 1
    assert len(store.fetch_unprocessed()) == 1


def test_prune_inbox_only_processed_and_old(store: Storage, clock: ManualClock) -> None:
    store.store_callback("mo", "old-done", b"")
    store.store_callback("mo", "old-open", b"")
    store.mark_processed(store.fetch_unprocessed()[0].id)
    clock.advance(5 * 86400)
    store.store_callback("mo", "new", b"")
    store.mark_processed(store.fetch_unprocessed()[-1].id)
    assert store.prune_inbox(timedelta(days=4)) == 1
    assert store.store_callback("mo", "old-done", b"")  # forgotten
    assert not store.store_callback("mo", "new", b"")


# --------------------------------------------------------------------------- multi-part MO


def test_mo_parts_assemble_in_sequence_order(store: Storage) -> None:
    assert store.add_mo_part("27821111111", 0xBEEF, 3, 3, "three") is None
    assert store.add_mo_part("27821111111", 0xBEEF, 3, 1, "one ") is None
    assert store.add_mo_part("27821111111", 0xBEEF, 3, 1, "dup ") is None  # repeated part
    assert store.add_mo_part("27822222222", 0xBEEF, 3, 2, "other sender ") is None
    assert store.add_mo_part("27821111111", 0xBEEF, 3, 2, "two ") == "one two three"
    # Until deleted, a reprocessed part (after a crash) gives the whole text again.
    assert store.add_mo_part("27821111111", 0xBEEF, 3, 2, "two ") == "one two three"
    store.delete_mo_group("27821111111", 0xBEEF, 3)
    assert store.add_mo_part("27821111111", 0xBEEF, 3, 1, "again") is None


def test_single_part_group_completes_at_once(store: Storage) -> None:
    assert store.add_mo_part("27821111111", 1, 1, 1, "all") == "all"
    with pytest.raises(ValueError):
        store.add_mo_part("27821111111", 1, 2, 3, "bad")


def test_stale_mo_groups(store: Storage, clock: ManualClock) -> None:
    store.add_mo_part("27821111111", 5, 3, 2, "middle")
    clock.advance(60)
    store.add_mo_part("27821111111", 5, 3, 3, "end")
    store.add_mo_part("27822222222", 6, 2, 1, "a")
    store.add_mo_part("27822222222", 6, 2, 2, "b")  # complete: never stale
    clock.advance(9 * 60)
    assert store.stale_mo_groups(timedelta(minutes=10)) == []
    clock.advance(61)
    (group,) = store.stale_mo_groups(timedelta(minutes=10))
    assert (group.sender, group.reference, group.total) == ("27821111111", 5, 3)
    assert dict(group.parts) == {2: "middle", 3: "end"}
    assert group.first_received_at == at(0)


# --------------------------------------------------------------------------- outbox


def test_outbox_fifo_and_results(store: Storage) -> None:
    ids = [store.enqueue("C1", "post", {"n": i}) for i in range(3)]
    items = store.fetch_due()
    assert [i.id for i in items] == ids and [i.payload["n"] for i in items] == [0, 1, 2]
    assert store.fetch_due() == []  # claimed
    assert store.complete(items[0], "1.0001")
    assert store.outbox_result(ids[0]) == "1.0001"
    assert store.outbox_result(ids[1]) is None
    assert store.pending_outbox() == 2
    done = store.outbox_item(ids[0])
    assert done is not None and done.state == "done"


def test_outbox_payload_must_be_json(store: Storage) -> None:
    with pytest.raises(ValueError, match="JSON"):
        store.enqueue("C1", "post", {"when": datetime.now(UTC)})
    store.enqueue("C1", "post", {"text": "Grüße <!channel> 😀"})
    assert store.fetch_due()[0].payload == {"text": "Grüße <!channel> 😀"}


def test_outbox_not_before(store: Storage, clock: ManualClock) -> None:
    later = store.enqueue("C1", "post", {}, not_before=at(30))
    now = store.enqueue("C1", "post", {})
    assert [i.id for i in store.fetch_due()] == [now]
    clock.advance(30)
    assert [i.id for i in store.fetch_due()] == [later]


def test_coalescing_replaces_pending_payload(store: Storage) -> None:
    first = store.enqueue("C1", "post", {"n": "other"})
    card = store.enqueue("C1", "update", {"tally": 1}, coalesce_key="card:7")
    for tally in range(2, 501):
        assert store.enqueue("C1", "update", {"tally": tally}, coalesce_key="card:7") == card
    assert store.pending_outbox() == 2
    items = store.fetch_due()
    assert [i.id for i in items] == [first, card]
    assert items[1].payload == {"tally": 500} and items[1].version == 500


def test_coalescing_while_in_flight_sends_the_latest_again(store: Storage) -> None:
    card = store.enqueue("C1", "update", {"tally": 1}, coalesce_key="card:7")
    (in_flight,) = store.fetch_due()
    assert store.enqueue("C1", "update", {"tally": 2}, coalesce_key="card:7") == card
    assert not store.complete(in_flight, "5.5")  # payload changed meanwhile: not done
    (again,) = store.fetch_due()
    assert again.id == card and again.payload == {"tally": 2}
    assert store.complete(again, "5.5")
    # Once done, the same key starts a new item.
    newer = store.enqueue("C1", "update", {"tally": 3}, coalesce_key="card:7")
    assert newer != card
    assert [i.payload for i in store.fetch_due()] == [{"tally": 3}]


def test_order_key_keeps_order_within_a_conversation(store: Storage, clock: ManualClock) -> None:
    a1 = store.enqueue("C1", "post", {"n": "a1"}, order_key="conv-a")
    a2 = store.enqueue("C1", "post", {"n": "a2"}, order_key="conv-a")
    b1 = store.enqueue("C2", "post", {"n": "b1"}, order_key="conv-b")
    free = store.enqueue("C3", "post", {"n": "free"})
    first = store.fetch_due()
    assert [i.id for i in first] == [a1, b1, free]
    # a1 fails with a 429: a2 must wait for it, even once a2 alone would be due.
    store.reschedule(first[0], at(30), error="ratelimited")
    assert store.fetch_due() == []
    clock.advance(30)
    (retry,) = store.fetch_due()
    assert retry.id == a1 and retry.attempts == 1 and retry.last_error == "ratelimited"
    store.complete(retry, "10.1")
    assert [i.id for i in store.fetch_due()] == [a2]


def test_give_up_unblocks_the_order_key(store: Storage) -> None:
    a1 = store.enqueue("C1", "post", {}, order_key="k")
    a2 = store.enqueue("C1", "post", {}, order_key="k")
    (item,) = store.fetch_due()
    store.give_up(item, "channel_not_found")
    failed = store.outbox_item(a1)
    assert failed is not None and failed.state == "failed"
    assert failed.last_error == "channel_not_found"
    assert [i.id for i in store.fetch_due()] == [a2]


def test_reschedule_without_counting_an_attempt(store: Storage, clock: ManualClock) -> None:
    store.enqueue("C1", "update", {}, coalesce_key="card:1")
    (item,) = store.fetch_due()
    store.reschedule(item, at(3), count_attempt=False)
    clock.advance(3)
    (again,) = store.fetch_due()
    assert again.attempts == 0


def test_expired_lease_makes_item_due_again(store: Storage, clock: ManualClock) -> None:
    # A drainer that died holding an item: after the lease, another one picks it up.
    item_id = store.enqueue("C1", "post", {})
    store.fetch_due(lease=timedelta(seconds=10))
    clock.advance(9)
    assert store.fetch_due() == []
    clock.advance(2)
    assert [i.id for i in store.fetch_due()] == [item_id]


def test_fetch_due_limit_and_exclude_channels(store: Storage) -> None:
    for channel in ["C1", "C2", "C1", "C3"]:
        store.enqueue(channel, "post", {})
    assert [i.channel for i in store.fetch_due(limit=2, exclude_channels=["C1"])] == ["C2", "C3"]
    assert [i.channel for i in store.fetch_due(limit=1)] == ["C1"]


def test_concurrent_fetches_never_share_an_item(store: Storage) -> None:
    for i in range(200):
        store.enqueue(f"C{i % 7}", "post", {"n": i})

    def drain(_: int) -> list[int]:
        taken: list[int] = []
        while batch := store.fetch_due(limit=3):
            taken.extend(item.id for item in batch)
        return taken

    results = run_threads(8, drain)
    every = [item_id for taken in results for item_id in taken]  # type: ignore[union-attr]
    assert sorted(every) == sorted(set(every)) and len(every) == 200


def test_prune_outbox(store: Storage, clock: ManualClock) -> None:
    done_id = store.enqueue("C1", "post", {})
    pending_id = store.enqueue("C1", "post", {}, order_key="x", not_before=at(10**6))
    store.complete(store.fetch_due()[0], "1.1")
    clock.advance(86400 * 2)
    assert store.prune_outbox(timedelta(days=1)) == 1
    assert store.outbox_item(done_id) is None
    assert store.outbox_item(pending_id) is not None


def test_complete_is_harmless_twice(store: Storage) -> None:
    store.enqueue("C1", "post", {})
    (item,) = store.fetch_due()
    assert store.complete(item, "1.1")
    assert store.complete(item, "2.2")
    assert store.outbox_result(item.id) == "1.1"
    ghost = OutboxItem(**{**item.__dict__, "id": 999})
    assert store.complete(ghost)


# --------------------------------------------------------------------------- transactions, kv


def test_transaction_is_all_or_nothing(store: Storage) -> None:
    store.store_callback("mo", "m1", b"")
    (item,) = store.fetch_unprocessed()
    with pytest.raises(RuntimeError), store.transaction():
        store.add_mo_part("27821111111", 1, 2, 1, "a")
        store.enqueue("C1", "post", {})
        store.mark_processed(item.id)
        raise RuntimeError("worker crashed")
    assert store.pending_outbox() == 0
    assert [i.id for i in store.fetch_unprocessed()] == [item.id]
    assert store.stale_mo_groups(timedelta(0), now=at(10)) == []
    with store.transaction():
        store.enqueue("C1", "post", {})
        store.mark_processed(item.id)
    assert store.pending_outbox() == 1 and store.fetch_unprocessed() == []


def test_nested_failure_rolls_back_only_the_inner_part(store: Storage) -> None:
    with store.transaction():
        store.set_value("outer", "1")
        try:
            with store.transaction():
                store.set_value("inner", "1")
                raise KeyError("inner failed")
        except KeyError:
            pass
        store.set_value("after", "1")
    assert store.get_value("outer") == "1" and store.get_value("after") == "1"
    assert store.get_value("inner") is None


def test_transaction_blocks_other_writers_until_commit(store: Storage) -> None:
    entered = threading.Event()
    release = threading.Event()
    seen: list[str | None] = []

    def writer() -> None:
        with store.transaction():
            store.set_value("k", "from-transaction")
            entered.set()
            release.wait(timeout=10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert entered.wait(timeout=10)
    seen.append(store.get_value("k"))  # readers are not blocked and see the last commit
    release.set()
    thread.join(timeout=10)
    seen.append(store.get_value("k"))
    assert seen == [None, "from-transaction"]


def test_key_value(store: Storage) -> None:
    assert store.get_value("low_balance_alert") is None
    store.set_value("low_balance_alert", "sent")
    store.set_value("low_balance_alert", "sent twice")
    assert store.get_value("low_balance_alert") == "sent twice"
    store.delete_value("low_balance_alert")
    assert store.get_value("low_balance_alert") is None


def test_many_threads_share_one_storage(store: Storage) -> None:
    def work(i: int) -> int:
        send = record(store, f"2782{i:07d}")
        store.update_status(send.recipients[0].id, "004")
        store.store_callback("status", f"k{i}", b"")
        return send.id

    ids = run_threads(24, work)
    assert len(set(ids)) == 24
    assert len(store.fetch_unprocessed()) == 24
    assert all(e.status == "004" for e in store.recent_log(limit=100))
    assert os.path.exists(str(store.path) + "-wal")


def test_connections_of_finished_threads_are_closed(store: Storage) -> None:
    threads = [threading.Thread(target=store.claim, args=(f"k{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    del threads, thread
    gc.collect()
    assert len(store._connections) <= 2  # the test thread's own, not one per finished thread


def test_release_claims_after_restart(db_path: Path, clock: ManualClock) -> None:
    with Storage(db_path, clock=clock) as before:
        item_id = before.enqueue("C1", "post", {})
        before.fetch_due()  # claimed, then the process dies
    with Storage(db_path, clock=clock) as after:
        assert after.fetch_due() == []  # the lease has not run out
        assert after.release_claims() == 1
        assert [i.id for i in after.fetch_due()] == [item_id]
