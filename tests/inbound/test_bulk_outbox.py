"""The outbox's bulk handlers on the inbound rig (real storage, fake Slack over loopback, one
manual clock): the progress card is posted once and then updated in place no more than once per
3 s however often the run changes, and the result CSV is uploaded in the card's thread once, even
when a crash cut off the last attempt after Slack had shared the file."""

from __future__ import annotations

import json

from bot.domain.bulk import NewBulk, NewBulkRow, RowState
from bot.domain.outbox import OutboxKind
from bot.inbound.outbox import _INFLIGHT_KEY
from bot.usecases import bulk
from bot.usecases.bulk.events import progress_changed
from tests.inbound.rig import CHANNEL, Rig


def started(rig: Rig, numbers: tuple[str, ...] = ("27821234567", "27821234568")) -> str:
    """A stored plan (as `bulk.prepare` stores it), started now: its first progress is queued."""
    rows = [
        NewBulkRow(i, n, "Hello", f"bulk-c{i}", RowState.PENDING)
        for i, n in enumerate(numbers, start=1)
    ]
    plan = NewBulk(
        "run1", "U0ALICE", CHANNEL, "Hello", 1, "gsm7", None, len(rows), len(rows), 0, 0, 0
    )
    rig.storage.bulks.create(plan, rows)
    bulk.start(rig.services, plan.bulk_id, user="U0ALICE", now=rig.clock.utc())
    return plan.bulk_id


def cards(rig: Rig) -> list[dict]:
    return [p for p in rig.fake.posts(CHANNEL) if "Bulk SMS" in str(p.get("text"))]


def test_the_card_is_posted_once_then_updated_at_most_every_three_seconds(rig: Rig) -> None:
    bulk_id = started(rig)
    rig.drain()
    [card] = cards(rig)
    ts = rig.storage.bulks.get(bulk_id).card_ts
    assert ts and rig.fake.message(CHANNEL, ts)["text"] == card["text"]
    run = rig.storage.bulks.get(bulk_id)
    for _ in range(20):  # a burst of changes: one pending item, coalesced
        progress_changed(rig.storage, run)
        rig.drain()
        rig.clock.advance(0.1)
    assert rig.fake.calls_to("chat.update") == []  # 2 s after the post: not yet
    rig.clock.advance(1.5)  # 3.5 s after the post
    rig.drain()
    assert len(rig.fake.calls_to("chat.update")) == 1
    assert rig.fake.calls_to("chat.update")[0].params["ts"] == ts
    assert len(cards(rig)) == 1 and rig.storage.outbox.count() == 0


def test_the_result_is_uploaded_in_the_cards_thread(rig: Rig) -> None:
    bulk_id = started(rig)
    rig.drain()
    ts = rig.storage.bulks.get(bulk_id).card_ts
    rig.storage.outbox.enqueue(CHANNEL, OutboxKind.BULK_RESULT, {"bulk_id": bulk_id})
    rig.clock.advance(1.0)
    rig.drain()
    [upload] = rig.fake.uploads()
    assert upload.channel == CHANNEL and upload.thread_ts == ts
    assert upload.name == f"bulk-{bulk_id}-result.csv"
    assert upload.content.count(b"\n") >= 3  # a header and a line per row


def test_a_result_shared_before_a_crash_is_not_uploaded_again(rig: Rig) -> None:
    bulk_id = started(rig)
    rig.drain()
    ts = rig.storage.bulks.get(bulk_id).card_ts
    item = rig.storage.outbox.enqueue(CHANNEL, OutboxKind.BULK_RESULT, {"bulk_id": bulk_id})
    # The last attempt got as far as Slack sharing the file; then the process died.
    rig.storage.values.set(_INFLIGHT_KEY.format(item), json.dumps({"thread_ts": ts}))
    rig.outbox.slack.files_upload_v2(
        channel=CHANNEL, thread_ts=ts, content=b"x", filename=f"bulk-{bulk_id}-result.csv"
    )
    rig.clock.advance(1.0)
    rig.drain()
    assert len(rig.fake.uploads()) == 1
    assert rig.storage.outbox.get(item).state == "done"


def test_the_result_waits_for_the_card(rig: Rig) -> None:
    bulk_id = started(rig)
    rig.storage.outbox.enqueue(CHANNEL, OutboxKind.BULK_RESULT, {"bulk_id": bulk_id})
    # The result item may be reached first; it waits until the card has its ts.
    for _ in range(5):
        rig.drain()
        rig.clock.advance(2.0)
    assert len(cards(rig)) == 1 and len(rig.fake.uploads()) == 1
    assert rig.fake.uploads()[0].thread_ts == rig.storage.bulks.get(bulk_id).card_ts
