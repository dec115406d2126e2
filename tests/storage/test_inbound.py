"""Every backend: inbound SMS as routed (`/sms log`'s inbound side, a thread's texting numbers)."""

from __future__ import annotations

from bot.storage import Storage
from tests.storage.support import at


def test_recent_inbound_newest_first_by_number_and_channel(store: Storage) -> None:
    store.inbound.record(msisdn="27821", text="one", channel="C1", post_item=1, at=at(10))
    store.inbound.record(msisdn="27822", text="two", channel="C2", post_item=2, at=at(20))
    store.inbound.record(msisdn="27821", text="three", channel="C1", post_item=3, at=at(30))
    assert [r.text for r in store.inbound.recent()] == ["three", "two", "one"]
    assert [r.text for r in store.inbound.recent("27821")] == ["three", "one"]
    assert [r.text for r in store.inbound.recent(channel="C2")] == ["two"]
    assert [r.text for r in store.inbound.recent(limit=1)] == ["three"]
    first = store.inbound.recent("27822")[0]
    assert (first.received_at, first.post_item, first.channel) == (at(20), 2, "C2")


def test_numbers_that_texted_into_a_thread_in_first_order(store: Storage) -> None:
    for number, send_id, conversation_id in [
        ("27822", 5, None),
        ("27821", 5, 9),
        ("27822", 5, 9),
        ("27823", None, 9),
        ("27824", 6, None),
    ]:
        store.inbound.record(
            msisdn=number,
            text="hi",
            channel="C1",
            post_item=1,
            send_id=send_id,
            conversation_id=conversation_id,
        )
    assert store.inbound.texted_in(5, None) == ["27822", "27821"]
    assert store.inbound.texted_in(5, 9) == ["27822", "27821", "27823"]
    assert store.inbound.texted_in(None, None) == []
