"""PostgreSQL only: a batch of delivery reports is applied in a few statements, with exactly the
result of applying its reports one by one, and batches running at once never deadlock."""

from __future__ import annotations

from bot.domain.delivery import DeliveryState
from bot.domain.records import NewRecipient, StatusUpdate
from bot.storage.postgres import PostgresStorage
from tests.storage.support import at, record, run_threads, status


def test_a_report_that_fills_an_apimsgid_lets_later_ones_match_by_it(
    store: PostgresStorage,
) -> None:
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli7")],
    )
    reports = [
        StatusUpdate("late-id", "cli7", "27821111111", status("003"), at(1)),
        StatusUpdate("late-id", None, "27821111111", status("004"), at(2), charge=0.3),
    ]
    first, second = store.sends.apply_reports(reports)
    assert first is not None and second is not None
    assert (first.changed, second.changed) == (True, True)
    stored = store.sends.get(send.id).recipients[0]  # type: ignore[union-attr]
    assert (stored.apimsgid, stored.state, stored.charge) == (
        "late-id",
        DeliveryState.DELIVERED,
        0.3,
    )


def test_batches_crossing_each_other_end_on_the_final_status(store: PostgresStorage) -> None:
    """Eight batches over the same 50 recipients, each in its own order: locks are taken in id
    order, so none deadlocks, and every recipient ends delivered whatever came last."""
    numbers = [f"27820{i:06d}" for i in range(50)]
    record(store, *numbers)

    def batch(i: int) -> int:
        order = numbers if i % 2 else list(reversed(numbers))
        code = "004" if i == 3 else "003"
        reports = [StatusUpdate(f"api-{n}", None, n, status(code), at(i)) for n in order]
        return sum(1 for applied in store.sends.apply_reports(reports) if applied)

    assert run_threads(8, batch) == [50] * 8
    log = store.sends.recent_log(limit=100)
    assert {entry.status for entry in log} == {"004"}
