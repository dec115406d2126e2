"""Every backend: conversations and the card-versus-conversation thread an SMS goes to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.bulk import NewBulk, NewBulkRow, RowState, RunState
from bot.domain.records import NewRecipient, OutboxItem
from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.support import at, record

BULK_PLAN = NewBulk(
    bulk_id="b1",
    starter="U2",
    channel="C1",
    text="Closed on Monday",
    parts=1,
    encoding="gsm7",
    credits_estimate=1.0,
    rows=1,
    valid=1,
    invalid=0,
    duplicates=0,
    opted_out=0,
)


def post_done(store: Storage, item: OutboxItem, ts: str) -> bool:
    """What the outbox worker does when a post went out: the item done and, in the same
    transaction, the conversation or card waiting for that post as its root bound to it."""
    with store.transaction():
        done = store.outbox.complete(item, ts)
        store.conversations.root_posted(item.id, ts)
        store.sends.card_posted(item.id, item.channel, ts)
    return done


def test_find_thread_card_within_seven_days(store: Storage, clock: ManualClock) -> None:
    send = record(store, "27821111111")
    assert store.conversations.find_thread("27821111111") is None  # no Slack card yet
    store.sends.attach_card(send.id, "C1", "100.1")
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None
    assert (ref.channel, ref.thread_ts, ref.send_id, ref.root_item) == (
        "C1",
        "100.1",
        send.id,
        None,
    )
    assert store.conversations.find_thread("27821111111", now=at(7 * 86400 - 1)) is not None
    assert store.conversations.find_thread("27821111111", now=at(7 * 86400 + 1)) is None
    assert store.conversations.find_thread("27829999999") is None


def test_find_thread_prefers_the_newest(store: Storage, clock: ManualClock) -> None:
    old_card = record(store, "27821111111")
    store.sends.attach_card(old_card.id, "C1", "100.1")
    clock.advance(3600)
    conv = store.conversations.start("27821111111", "C9", thread_ts="200.2")
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.channel, ref.thread_ts) == ("C9", "200.2")
    assert ref.conversation_id == conv.id and ref.send_id is None
    clock.advance(3600)
    new_card = record(store, "27821111111", channel="C2")
    store.sends.attach_card(new_card.id, "C2", "300.3")
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.channel, ref.thread_ts, ref.send_id) == (
        "C2",
        "300.3",
        new_card.id,
    )
    # A reply arriving in the old card's thread makes it the newest again.
    clock.advance(60)
    store.conversations.touch("C1", "100.1", "27821111111")
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.send_id) == ("100.1", old_card.id)


def test_old_card_revived_by_recent_reply(store: Storage, clock: ManualClock) -> None:
    send = record(store, "27821111111")
    store.sends.attach_card(send.id, "C1", "100.1")
    clock.advance(6 * 86400)
    store.conversations.touch("C1", "100.1", "27821111111")
    clock.advance(5 * 86400)  # card is 11 days old, last SMS in its thread 5 days ago
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and ref.thread_ts == "100.1" and ref.send_id == send.id


def test_relayed_reply_counts_as_activity_in_its_thread(store: Storage, clock: ManualClock) -> None:
    card = record(store, "27821111111")
    store.sends.attach_card(card.id, "C1", "100.1")
    clock.advance(6 * 86400)
    reply = record(store, "27821111111", thread_ts="100.1")
    store.sends.attach_card(reply.id, "C1", "150.5")  # the person's own message in the thread
    clock.advance(3 * 86400)
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.send_id) == ("100.1", card.id)
    assert store.sends.by_card("C1", "150.5").id == reply.id  # type: ignore[union-attr]


def test_cancelled_and_refused_sends_do_not_attract_replies(store: Storage) -> None:
    cancelled = record(store, "27821111111")
    store.sends.attach_card(cancelled.id, "C1", "1.1")
    store.sends.mark_cancelled(cancelled.id)
    refused = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "c", error_code="105", error_description="bad")],
    )
    store.sends.attach_card(refused.id, "C1", "2.2")
    assert store.conversations.find_thread("27821111111") is None


def test_conversation_waiting_for_its_root_post(store: Storage, clock: ManualClock) -> None:
    root = store.outbox.enqueue(
        "CSMS", "post", {"text": "SMS from +27 82 111 1111"}, order_key="conv"
    )
    conv = store.conversations.start("27821111111", "CSMS", root_item=root)
    assert conv.thread_ts is None and conv.root_item == root
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.root_item, ref.conversation_id) == (
        None,
        root,
        conv.id,
    )
    clock.advance(5)
    touched = store.conversations.touch_by_id(conv.id, "27821111111")
    assert touched.updated_at == clock.utc()
    (item,) = store.outbox.fetch_due()
    assert post_done(store, item, "900.9")
    conv = store.conversations.get(conv.id)  # type: ignore[assignment]
    assert conv is not None and conv.thread_ts == "900.9"
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.root_item) == ("900.9", None)
    info = store.conversations.thread_info("CSMS", "900.9")
    assert info is not None and info.recipients == ("27821111111",)


def test_start_conversation_after_root_already_posted(store: Storage) -> None:
    root = store.outbox.enqueue("CSMS", "post", {})
    post_done(store, store.outbox.fetch_due()[0], "77.7")
    conv = store.conversations.start("27821111111", "CSMS", root_item=root)
    assert conv.thread_ts == "77.7"
    with pytest.raises(ValueError):
        store.conversations.start("27821111111", "CSMS")


def test_card_posted_through_the_outbox(store: Storage) -> None:
    send = record(store, "27821111111")
    item = store.outbox.enqueue("C1", "post", {"blocks": []})
    store.sends.set_card_item(send.id, item)
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.root_item, ref.send_id) == (None, item, send.id)
    post_done(store, store.outbox.fetch_due()[0], "42.0")
    assert store.sends.get(send.id).card_ts == "42.0"  # type: ignore[union-attr]
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.channel, ref.thread_ts) == ("C1", "42.0")


def test_thread_info_for_replies(store: Storage, clock: ManualClock) -> None:
    send = record(store, "27821111111", "27822222222")
    store.sends.attach_card(send.id, "C1", "100.1")
    info = store.conversations.thread_info("C1", "100.1")
    assert info is not None
    assert info.recipients == ("27821111111", "27822222222") and info.last_msisdn is None
    assert info.send_id == send.id and info.conversation_id is None
    store.conversations.touch("C1", "100.1", "27822222222")
    store.conversations.touch("C1", "100.1", "27821111111")
    info = store.conversations.thread_info("C1", "100.1")
    assert info is not None and info.last_msisdn == "27821111111" and info.conversation_id
    assert store.conversations.thread_info("C1", "999.9") is None
    assert store.conversations.thread_info("C2", "100.1") is None


def test_completing_an_item_binds_nothing_by_itself(store: Storage) -> None:
    """A repository writes its own aggregate only: binding a posted root is the caller's
    explicit step (see `post_done`), so `complete` alone leaves the conversation waiting."""
    root = store.outbox.enqueue("CSMS", "post", {})
    conv = store.conversations.start("27821111111", "CSMS", root_item=root)
    assert store.outbox.complete(store.outbox.fetch_due()[0], "5.5")
    waiting = store.conversations.get(conv.id)
    assert waiting is not None and waiting.thread_ts is None
    store.conversations.root_posted(root, "5.5")
    store.conversations.root_posted(root, "6.6")  # bound once: a later ts changes nothing
    bound = store.conversations.get(conv.id)
    assert bound is not None and bound.thread_ts == "5.5"


def test_recent_conversations_newest_first(store: Storage, clock: ManualClock) -> None:
    older = store.conversations.touch("C1", "1.1", "27821111111")
    clock.advance(10)
    newer = store.conversations.touch("C1", "2.2", "27822222222")
    clock.advance(10)
    store.conversations.touch("C1", "1.1", "27821111111")  # activity moves it to the front
    assert [c.id for c in store.conversations.recent()] == [older.id, newer.id]
    assert [c.id for c in store.conversations.recent(limit=1)] == [older.id]


def _bulk_row_sent(store: Storage, msisdn: str) -> int:
    """A bulk run's one row sent to `msisdn`: a recorded send without a card of its own."""
    row = NewBulkRow(1, msisdn, "Closed on Monday", "cli1", RowState.PENDING)
    store.bulks.create(BULK_PLAN, [row])
    assert store.bulks.move("b1", RunState.RUNNING, expect=[RunState.PLANNED])
    [claimed] = store.bulks.claim_rows("b1", limit=1)
    send = record(store, msisdn)
    assert store.bulks.attach_send("b1", claimed.row, send.id)
    return send.id


def test_a_newer_bulk_row_outranks_older_cards_and_conversations(
    store: Storage, clock: ManualClock
) -> None:
    card = record(store, "27821111111")
    store.sends.attach_card(card.id, "C1", "100.1")
    store.conversations.start("27821111111", "C9", thread_ts="200.2")
    before_bulk = clock.utc()
    clock.advance(86400)
    _bulk_row_sent(store, "27821111111")
    week_ago = clock.utc() - timedelta(days=7)
    # The phone answers the bulk message: a new conversation, neither older thread.
    assert store.conversations.find_thread("27821111111") is None
    answered = store.bulks.newest_to("27821111111", since=week_ago)
    assert answered is not None and (answered.bulk_id, answered.text) == ("b1", "hello")
    assert answered.sent_at == clock.utc()
    # An SMS that reached us before the bulk row was sent still answers the older thread.
    ref = store.conversations.find_thread("27821111111", sent_by=before_bulk)
    assert ref is not None and ref.thread_ts == "200.2"
    assert store.bulks.newest_to("27821111111", since=week_ago, until=before_bulk) is None
    # Once the bulk row is over 7 days old it no longer counts; nor do the older threads.
    assert store.conversations.find_thread("27821111111", now=at(8 * 86400 + 1)) is None
    assert store.bulks.newest_to("27821111111", since=at(86400 + 1)) is None
    # A newer card or conversation wins again.
    clock.advance(60)
    store.conversations.touch("C9", "200.2", "27821111111")
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and ref.thread_ts == "200.2"
    clock.advance(60)
    new_card = record(store, "27821111111")
    store.sends.attach_card(new_card.id, "C1", "300.3")
    ref = store.conversations.find_thread("27821111111")
    assert ref is not None and (ref.thread_ts, ref.send_id) == ("300.3", new_card.id)
