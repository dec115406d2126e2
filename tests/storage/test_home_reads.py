"""Every backend: what the Home tab reads — each SMS thread by its last message, and a person's
scheduled sends."""

from __future__ import annotations

from bot.domain.records import NewRecipient
from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.support import at, record

PHONE, OTHER = "27821111111", "27822222222"


def test_a_card_is_a_thread_whose_last_message_went_out(store: Storage, clock: ManualClock) -> None:
    send = record(store, PHONE)
    assert store.conversations.latest() == []  # no card in Slack yet
    store.sends.attach_card(send.id, "C1", "100.1")
    [thread] = store.conversations.latest()
    assert (thread.channel, thread.thread_ts, thread.msisdn) == ("C1", "100.1", PHONE)
    assert (thread.last_text, thread.inbound) == ("hello", False)


def test_the_phones_answer_is_the_last_message_until_someone_replies(
    store: Storage, clock: ManualClock
) -> None:
    send = record(store, PHONE)
    store.sends.attach_card(send.id, "C1", "100.1")
    clock.advance(60)
    store.conversations.touch("C1", "100.1", PHONE, text="yes please")
    [thread] = store.conversations.latest()
    assert (thread.last_text, thread.inbound, thread.thread_ts) == ("yes please", True, "100.1")
    clock.advance(60)
    reply = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="on our way",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient(msisdn=PHONE, climsgid="cli2")],
        thread_ts="100.1",
    )
    store.sends.attach_card(reply.id, "C1", "100.9")  # the person's own message in the thread
    [thread] = store.conversations.latest()
    assert (thread.last_text, thread.inbound, thread.thread_ts) == ("on our way", False, "100.1")


def test_an_older_sms_processed_late_does_not_replace_a_newer_one(
    store: Storage, clock: ManualClock
) -> None:
    store.conversations.start(PHONE, "C9", thread_ts="200.2", at=at(100), text="second")
    store.conversations.touch("C9", "200.2", PHONE, at=at(50), text="first")
    store.conversations.touch("C9", "200.2", PHONE, at=at(200))  # no text: keeps the last one
    [thread] = store.conversations.latest()
    assert thread.last_text == "second" and thread.inbound


def test_a_conversation_waiting_for_its_root_is_listed_once_posted(
    store: Storage, clock: ManualClock
) -> None:
    item = store.outbox.enqueue("C9", "post", {"text": "x"})
    conv = store.conversations.start(PHONE, "C9", root_item=item, text="hi there")
    assert store.conversations.latest() == []
    store.conversations.root_posted(item, "300.3")
    clock.advance(5)
    store.conversations.touch_by_id(conv.id, PHONE, text="anyone?")
    [thread] = store.conversations.latest()
    assert (thread.thread_ts, thread.last_text, thread.inbound) == ("300.3", "anyone?", True)


def test_threads_come_newest_first_within_the_limit(store: Storage, clock: ManualClock) -> None:
    for n, phone in enumerate((PHONE, OTHER)):
        clock.advance(10)
        store.conversations.start(phone, "C9", thread_ts=f"40{n}.1", text=f"sms {n}")
    assert [t.msisdn for t in store.conversations.latest()] == [OTHER, PHONE]
    assert [t.msisdn for t in store.conversations.latest(limit=1)] == [OTHER]


def test_scheduled_sends_of_one_person_soonest_first(store: Storage, clock: ManualClock) -> None:
    later = record(store, PHONE, scheduled_at=at(7200))
    sooner = record(store, OTHER, scheduled_at=at(3600))
    record(store, PHONE)  # not scheduled
    cancelled = record(store, PHONE, scheduled_at=at(600))
    store.sends.mark_cancelled(cancelled.id)
    store.sends.record(
        slack_user="U2",
        channel="C1",
        text="x",
        encoding="gsm7",
        parts=1,
        recipients=[],
        scheduled_at=at(60),
    )
    found = store.sends.scheduled_by("U1")
    assert [s.id for s in found] == [sooner.id, later.id]
    assert found[0].recipients[0].msisdn == OTHER
    assert [s.id for s in store.sends.scheduled_by("U1", now=at(5000))] == [later.id]
    assert store.sends.scheduled_by("U1", limit=1)[0].id == sooner.id


def test_scheduled_sends_to_one_number_soonest_first(store: Storage, clock: ManualClock) -> None:
    """What a number that opts out must not get: its sends still to come, not cancelled."""
    later = record(store, PHONE, scheduled_at=at(7200))
    sooner = record(store, PHONE, scheduled_at=at(3600))
    record(store, OTHER, scheduled_at=at(600))  # another number
    record(store, PHONE)  # not scheduled
    cancelled = record(store, PHONE, scheduled_at=at(600))
    store.sends.mark_cancelled(cancelled.id)
    assert [s.id for s in store.sends.scheduled_to(PHONE)] == [sooner.id, later.id]
    assert [s.id for s in store.sends.scheduled_to(PHONE, now=at(5000))] == [later.id]
    assert store.sends.scheduled_to("27829999999") == []
