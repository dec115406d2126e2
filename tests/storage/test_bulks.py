"""Every backend: bulk runs and their rows as durable work items (claims, leases, tallies)."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.bulk import NewBulk, NewBulkRow, RowState, RunState
from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.support import at, record, run_threads, status


def _plan(bulk_id: str = "b1", starter: str = "U1", channel: str | None = "C1") -> NewBulk:
    return NewBulk(
        bulk_id=bulk_id,
        starter=starter,
        channel=channel,
        text="Hi {name}",
        parts=1,
        encoding="gsm7",
        credits_estimate=4.0,
        rows=5,
        valid=4,
        invalid=1,
        duplicates=0,
        opted_out=0,
    )


def _rows(count: int = 4) -> list[NewBulkRow]:
    made = [
        NewBulkRow(i, f"2782{i:07d}", f"Hi {i}", f"cli{i}", RowState.PENDING)
        for i in range(1, count + 1)
    ]
    return [*made, NewBulkRow(count + 1, "12ab", "", "", RowState.SKIPPED, "invalid number")]


def _created(store: Storage, bulk_id: str = "b1", count: int = 4) -> None:
    store.bulks.create(_plan(bulk_id), _rows(count))
    assert store.bulks.move(bulk_id, RunState.RUNNING, expect=[RunState.PLANNED])


def test_create_and_get_keep_the_plan(store: Storage, clock: ManualClock) -> None:
    store.bulks.create(_plan(), _rows())
    run = store.bulks.get("b1")
    assert run is not None
    assert (run.state, run.starter, run.channel, run.text) == (
        RunState.PLANNED,
        "U1",
        "C1",
        "Hi {name}",
    )
    assert (run.rows, run.valid, run.invalid, run.credits_estimate) == (5, 4, 1, 4.0)
    assert run.created_at == clock.utc() and run.card_ts is None
    assert store.bulks.get("nope") is None
    tally = store.bulks.tally("b1")
    assert (tally.total, tally.pending, tally.skipped, tally.sent) == (5, 4, 1, 0)


def test_moves_are_conditional_and_cancel_stops_pending_rows(store: Storage) -> None:
    store.bulks.create(_plan(), _rows())
    assert not store.bulks.move("b1", RunState.PAUSED, expect=[RunState.RUNNING])
    assert store.bulks.move("b1", RunState.SCHEDULED, expect=[RunState.PLANNED], at=at(600))
    assert store.bulks.get("b1").at == at(600)  # type: ignore[union-attr]
    assert store.bulks.move("b1", RunState.RUNNING, expect=[RunState.SCHEDULED])
    [row] = store.bulks.claim_rows("b1", limit=1)
    send = record(store, row.to)
    assert store.bulks.attach_send("b1", row.row, send.id)  # in flight: not cancelled under it
    assert store.bulks.move("b1", RunState.CANCELLED, expect=[RunState.RUNNING])
    run = store.bulks.get("b1")
    assert run is not None and run.state is RunState.CANCELLED and run.finished_at is not None
    tally = store.bulks.tally("b1")
    assert (tally.cancelled, tally.pending, tally.skipped) == (3, 1, 1)
    assert not store.bulks.move("b1", RunState.RUNNING, expect=[RunState.PAUSED])


def test_claims_hand_each_row_once_until_the_lease_ends(store: Storage, clock: ManualClock) -> None:
    _created(store)
    first = store.bulks.claim_rows("b1", limit=3, lease=timedelta(seconds=30))
    assert [r.row for r in first] == [1, 2, 3] and first[0].climsgid == "cli1"
    assert [r.row for r in store.bulks.claim_rows("b1", limit=3)] == [4]
    assert store.bulks.claim_rows("b1", limit=3) == []
    clock.advance(31)  # the claimer died: its rows come back by themselves
    assert [r.row for r in store.bulks.claim_rows("b1", limit=10)] == [1, 2, 3]
    clock.advance(30)  # row 4's default lease (60 s) is over too
    assert [r.row for r in store.bulks.claim_rows("b1", limit=10)] == [4]


def test_claims_stop_while_paused(store: Storage) -> None:
    _created(store)
    assert store.bulks.move("b1", RunState.PAUSED, expect=[RunState.RUNNING])
    assert store.bulks.claim_rows("b1", limit=10) == []
    assert store.bulks.move("b1", RunState.RUNNING, expect=[RunState.PAUSED])
    assert len(store.bulks.claim_rows("b1", limit=10)) == 4


def test_attach_refused_once_paused(store: Storage) -> None:
    _created(store)
    [row] = store.bulks.claim_rows("b1", limit=1)
    store.bulks.move("b1", RunState.PAUSED, expect=[RunState.RUNNING])
    assert not store.bulks.attach_send("b1", row.row, record(store, row.to).id)


def test_concurrent_claims_never_share_a_row(store: Storage) -> None:
    _created(store, count=40)
    claimed = run_threads(8, lambda i: [r.row for r in store.bulks.claim_rows("b1", limit=7)])
    rows = [row for batch in claimed for row in batch]  # type: ignore[union-attr]
    assert sorted(rows) == list(range(1, 41))


def test_deferred_rows_are_held_until_due(store: Storage, clock: ManualClock) -> None:
    _created(store)
    [row] = store.bulks.claim_rows("b1", limit=1)
    store.bulks.defer_row("b1", row.row, at(3600), held=True)
    tally = store.bulks.tally("b1")
    assert (tally.held, tally.pending) == (1, 3)
    assert store.bulks.next_due("b1") == at(0)
    assert [r.row for r in store.bulks.claim_rows("b1", limit=10)] == [2, 3, 4]
    assert store.bulks.next_due("b1") == at(60)  # claimed rows: when their lease ends
    for r in (2, 3, 4):
        store.bulks.finish_row("b1", r, RowState.SENT)
    assert store.bulks.next_due("b1") == at(3600)
    clock.advance(3600)
    assert store.bulks.tally("b1").held == 0
    [again] = store.bulks.claim_rows("b1", limit=10)
    assert again.row == 1 and again.not_before == at(3600)
    store.bulks.finish_row("b1", 1, RowState.FAILED, "refused")
    assert store.bulks.next_due("b1") is None


def test_tally_and_results_follow_the_rows_messages(store: Storage) -> None:
    _created(store)
    claimed = store.bulks.claim_rows("b1", limit=3)
    sends = [record(store, r.to) for r in claimed]
    for row, send in zip(claimed, sends, strict=True):
        assert store.bulks.attach_send("b1", row.row, send.id)
        store.bulks.finish_row("b1", row.row, RowState.SENT)
    store.sends.update_status(sends[0].recipients[0].id, status("004"))
    store.sends.update_status(sends[1].recipients[0].id, status("007"))
    tally = store.bulks.tally("b1")
    assert (tally.sent, tally.delivered, tally.failed, tally.pending, tally.skipped) == (
        3,
        1,
        1,
        1,
        1,
    )
    assert store.bulks.by_send(sends[2].id) == "b1"
    assert store.bulks.by_send(sends[2].id + 1000) is None
    results = store.bulks.results("b1")
    assert [(r.row, r.state, r.apimsgid, r.delivery) for r in results] == [
        (1, RowState.SENT, f"api-{claimed[0].to}", "delivered"),
        (2, RowState.SENT, f"api-{claimed[1].to}", "failed"),
        (3, RowState.SENT, f"api-{claimed[2].to}", None),
        (4, RowState.PENDING, None, None),
        (5, RowState.SKIPPED, None, None),
    ]
    assert results[4].reason == "invalid number" and results[0].text == "Hi 1"
    assert [r.row for r in store.bulks.results("b1", after=3, limit=1)] == [4]


def test_card_and_listing(store: Storage, clock: ManualClock) -> None:
    store.bulks.create(_plan("b1", starter="U1"), _rows())
    clock.advance(1)
    _created(store, "b2")
    store.bulks.set_card("b2", "C9", "123.456")
    run = store.bulks.get("b2")
    assert run is not None and (run.card_channel, run.card_ts) == ("C9", "123.456")
    listed = store.bulks.runs([RunState.PLANNED, RunState.RUNNING])
    assert [r.bulk_id for r in listed] == ["b2", "b1"]
    assert [r.bulk_id for r in store.bulks.runs([RunState.RUNNING], starter="U2")] == []
    assert store.bulks.release_claims("b2") == 0
    store.bulks.claim_rows("b2", limit=2)
    assert store.bulks.release_claims("b2") == 2


def test_rows_survive_reopening(backend, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    first = backend.open(clock)
    _created(first)
    first.bulks.claim_rows("b1", limit=2)
    first.close()
    again = backend.open(clock)
    try:
        assert again.bulks.tally("b1").pending == 4
        clock.advance(120)
        assert len(again.bulks.claim_rows("b1", limit=10)) == 4
    finally:
        again.close()


def test_old_plans_never_started_are_pruned_and_started_runs_kept(
    store: Storage, clock: ManualClock
) -> None:
    store.bulks.create(_plan("kept-planned"), _rows())
    store.bulks.create(_plan("discarded"), _rows())
    assert store.bulks.move("discarded", RunState.DISCARDED, expect=[RunState.PLANNED])
    discarded = store.bulks.get("discarded")
    assert discarded is not None and discarded.finished_at == clock.utc()
    assert store.bulks.tally("discarded").cancelled == 4  # its rows will never go
    _created(store, "started")
    assert store.bulks.move("started", RunState.DONE, expect=[RunState.RUNNING])
    assert store.bulks.prune(timedelta(days=7)) == 0  # nothing old enough yet

    clock.advance(timedelta(days=8).total_seconds())
    store.bulks.create(_plan("fresh"), _rows())
    assert store.bulks.prune(timedelta(days=7)) == 2
    assert store.bulks.get("kept-planned") is None and store.bulks.get("discarded") is None
    assert store.bulks.tally("discarded").total == 0  # its rows went with it
    assert store.bulks.get("started") is not None and store.bulks.get("fresh") is not None
