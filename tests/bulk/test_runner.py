"""The runner against the sandbox over HTTP: every row once, pause/cancel, quiet hours and `at`
on a manual clock, the gateway's pace, and a restart that never texts a row twice."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import timedelta

import pytest

from bot.domain.bulk import RowState, RunState
from bot.domain.outbox import OutboxKind
from bot.domain.quiet_hours import QuietHours
from bot.domain.records import NewRecipient
from bot.gateway.base import Planned, Unavailable
from bot.usecases import bulk
from bot.usecases.bulk.control import due_scheduled
from bot.usecases.bulk.runner import BulkRunner
from tests.bulk.conftest import SETTINGS, Rig


def _csv(count: int, start: int = 1_000_000) -> bytes:
    lines = ["name,phone,code"] + [f"P{i},+2782{start + i:07d},C{i}" for i in range(count)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _plan(rig: Rig, data: bytes, text: str = "Hi {name}, code {code}", channel: str | None = "C1"):
    return bulk.prepare(
        rig.ports, bulk.BulkSource(csv_bytes=data), text, starter="U1", channel=channel
    )


def _start(rig: Rig, plan: bulk.BulkPlan, **kwargs: object) -> bulk.BulkProgress:
    return bulk.start(rig.ports, plan.plan_id, user="U1", now=rig.clock.utc(), **kwargs)  # type: ignore[arg-type]


def _runner(rig: Rig, **kwargs: object) -> BulkRunner:
    return BulkRunner(rig.ports, clock=rig.clock.utc, **kwargs)  # type: ignore[arg-type]


def test_every_row_goes_once_personalised_and_the_run_ends(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(30))
    _start(rig, plan)
    runner = _runner(rig, concurrency=4)
    result = runner.drive(plan.plan_id)
    runner.close()
    assert result.state is RunState.DONE
    messages = rig.sandbox.messages()
    assert sorted(Counter(m.to for m in messages).values()) == [1] * 30
    texts = {m.to: m.text for m in messages}
    assert texts["27821000007"] == "Hi P7, code C7"
    progress = bulk.progress(rig.ports, plan.plan_id)
    assert (progress.state, progress.sent, progress.pending, progress.total) == ("done", 30, 0, 30)
    # Each row is an ordinary recorded send (so /sms log and replies work as for any send).
    log = rig.ports.storage.sends.recent_log(msisdn="27821000007")
    assert [e.text for e in log] == ["Hi P7, code C7"] and log[0].apimsgid
    kinds = [i.kind for i in _outbox(rig)]
    assert kinds.count(OutboxKind.BULK_RESULT) == 1 and OutboxKind.BULK_PROGRESS in kinds


def _outbox(rig: Rig):  # type: ignore[no-untyped-def]
    return rig.ports.storage.outbox.fetch_due(limit=1000, now=rig.clock.utc() + timedelta(days=1))


def test_a_run_from_the_command_line_queues_no_slack_work(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(3), channel=None)
    _start(rig, plan)
    _runner(rig).drive(plan.plan_id)
    assert len(rig.sent_to()) == 3 and _outbox(rig) == []


def test_progress_is_coalesced_into_one_pending_card_update(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(20))
    _start(rig, plan)
    runner = _runner(rig)
    runner.drive(plan.plan_id)
    items = [i for i in _outbox(rig) if i.kind == OutboxKind.BULK_PROGRESS]
    assert len(items) == 1 and items[0].payload == {"bulk_id": plan.plan_id}


def test_paused_rows_wait_and_cancelled_rows_never_go(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(10))
    _start(rig, plan)
    assert bulk.pause(rig.ports, plan.plan_id, user="U1").state == "paused"
    result = _runner(rig).drive(plan.plan_id)
    assert result.state is RunState.PAUSED and rig.sent_to() == []
    with pytest.raises(bulk.BulkRefused, match="Only <@U1>"):
        bulk.resume(rig.ports, plan.plan_id, user="USOMEONE")
    assert bulk.resume(rig.ports, plan.plan_id, user="UADMIN").state == "running"
    assert bulk.cancel(rig.ports, plan.plan_id, user="U1").state == "cancelled"
    _runner(rig).drive(plan.plan_id)
    assert rig.sent_to() == []
    progress = bulk.progress(rig.ports, plan.plan_id)
    assert (progress.skipped, progress.sent) == (10, 0)
    with pytest.raises(bulk.BulkRefused, match="ended already"):
        bulk.cancel(rig.ports, plan.plan_id, user="U1")


def test_a_plan_starts_once(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(2))
    with pytest.raises(bulk.BulkRefused, match="Only <@U1>"):
        bulk.start(rig.ports, plan.plan_id, user="UOTHER")
    _start(rig, plan)
    with pytest.raises(bulk.BulkRefused, match="started already"):
        _start(rig, plan)


def test_quiet_hours_hold_rows_until_the_window_ends_where_the_number_is(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    # 22:00 UTC is 00:00 in Johannesburg (UTC+2) and 17:00 in New York (UTC-5).
    clock.now = clock.utc().replace(hour=22, minute=0, second=0, microsecond=0).timestamp()
    settings = dataclasses.replace(SETTINGS, quiet_hours=QuietHours.parse("21:00-08:00"))
    rig = make_rig(settings)
    data = b"phone\n+27821000001\n+12125550123\n+27821000002\n"
    plan = _plan(rig, data, text="Hello")
    _start(rig, plan)
    runner = _runner(rig)
    first = runner.drive(plan.plan_id)
    assert rig.sent_to() == ["12125550123"]
    window_end = clock.utc() + timedelta(hours=8)  # 08:00 in Johannesburg, in UTC
    assert first.state is RunState.RUNNING and first.next_due == window_end
    progress = bulk.progress(rig.ports, plan.plan_id)
    assert (progress.held, progress.sent, progress.pending) == (2, 1, 0)
    clock.now = window_end.timestamp() - 60
    assert runner.drive(plan.plan_id).state is RunState.RUNNING and len(rig.sent_to()) == 1
    clock.advance(60)
    assert runner.drive(plan.plan_id).state is RunState.DONE
    assert sorted(rig.sent_to()) == ["12125550123", "27821000001", "27821000002"]


def test_a_scheduled_run_releases_each_row_when_its_own_quiet_window_ends(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    # Scheduled for 22:00 UTC (December): 00:00 in Johannesburg (quiet until 06:00 UTC) and
    # 22:00 in London (quiet until 08:00 UTC). Each row waits for its own window only.
    clock.now = (
        clock.utc().replace(month=12, day=6, hour=20, minute=0, second=0, microsecond=0).timestamp()
    )
    settings = dataclasses.replace(SETTINGS, quiet_hours=QuietHours.parse("21:00-08:00"))
    rig = make_rig(settings)
    plan = _plan(rig, b"phone\n+27821000001\n+447911123456\n", text="Hello")
    assert plan.valid == 2
    at = clock.utc() + timedelta(hours=2)
    assert _start(rig, plan, at=at).state == "scheduled"
    clock.now = at.timestamp()
    assert due_scheduled(rig.ports, clock.utc()) == [plan.plan_id]
    runner = _runner(rig)
    first = runner.drive(plan.plan_id)
    johannesburg_morning = at + timedelta(hours=8)  # 06:00 UTC
    assert rig.sent_to() == [] and first.next_due == johannesburg_morning
    clock.now = johannesburg_morning.timestamp()
    second = runner.drive(plan.plan_id)
    assert rig.sent_to() == ["27821000001"]  # London is still asleep
    assert second.next_due == at + timedelta(hours=10)  # 08:00 UTC
    clock.advance(2 * 3600)
    assert runner.drive(plan.plan_id).state is RunState.DONE
    assert rig.sent_to() == ["27821000001", "447911123456"]
    runner.close()


def test_a_scheduled_run_starts_when_due(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(3))
    at = clock.utc() + timedelta(hours=2)
    assert _start(rig, plan, at=at).state == "scheduled"
    assert due_scheduled(rig.ports, clock.utc()) == []
    assert _runner(rig).drive(plan.plan_id).state is RunState.SCHEDULED and rig.sent_to() == []
    clock.advance(2 * 3600)
    assert due_scheduled(rig.ports, clock.utc()) == [plan.plan_id]
    assert _runner(rig).drive(plan.plan_id).state is RunState.DONE
    assert len(rig.sent_to()) == 3


def test_rows_refused_by_the_gateway_fail_with_the_reason(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, b"phone\n27825550102\n27821000001\n", text="Hello")
    _start(rig, plan)
    _runner(rig).drive(plan.plan_id)
    [failure] = bulk.failures(rig.ports, plan.plan_id)
    assert failure.to == "27825550102" and failure.code == "114"
    progress = bulk.progress(rig.ports, plan.plan_id)
    assert (progress.sent, progress.failed, progress.state) == (1, 1, "done")


def test_a_number_that_opted_out_after_the_plan_is_skipped(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(2))
    rig.ports.storage.opt_outs.opt_out("27821000001")
    _start(rig, plan)
    _runner(rig).drive(plan.plan_id)
    assert rig.sent_to() == ["27821000000"]
    rows = rig.ports.storage.bulks.results(plan.plan_id)
    assert [(r.state, r.reason) for r in rows][1] == (RowState.SKIPPED, "opted out")


class _BusyOnce:
    """A gateway whose first send finds it busy (its retries used up): nothing was sent."""

    def __init__(self, gateway) -> None:  # type: ignore[no-untyped-def]
        self._gateway, self.refused = gateway, 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._gateway, name)

    def send(self, planned, text, **kwargs):  # type: ignore[no-untyped-def]
        if not self.refused:
            self.refused += 1
            raise Unavailable("901", "Internal error (retry)", "The gateway is busy.")
        return self._gateway.send(planned, text, **kwargs)


def test_a_busy_gateway_is_given_time_and_the_row_goes_later_once(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    rig.ports.gateway = _BusyOnce(rig.ports.gateway)  # type: ignore[assignment]
    plan = _plan(rig, _csv(1))
    _start(rig, plan)
    runner = _runner(rig, concurrency=1)
    first = runner.drive(plan.plan_id)
    assert first.state is RunState.RUNNING and rig.sent_to() == []
    assert first.next_due is not None and first.next_due > clock.utc()
    clock.now = first.next_due.timestamp()
    assert runner.drive(plan.plan_id).state is RunState.DONE
    assert rig.sent_to() == ["27821000000"]


def test_the_portals_rate_limit_is_honoured_and_every_row_goes_once(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(portal=True, rate_limit=3)  # the sandbox answers 429 past 3 messages a second
    plan = _plan(rig, _csv(10))
    _start(rig, plan)
    runner = _runner(rig, concurrency=4)
    rounds = 0
    while (result := runner.drive(plan.plan_id)).state is RunState.RUNNING:
        assert result.next_due is not None and result.next_due > clock.utc()  # backing off
        clock.now = result.next_due.timestamp()
        rounds += 1
    runner.close()
    assert rounds >= 2  # the limit made the run wait, more than once
    assert sorted(Counter(rig.sent_to()).values()) == [1] * 10
    assert bulk.progress(rig.ports, plan.plan_id).sent == 10


def _record_only(rig: Rig, plan: bulk.BulkPlan) -> None:
    """What a process that died between recording row 1 and its gateway call leaves behind."""
    storage = rig.ports.storage
    [row] = storage.bulks.claim_rows(plan.plan_id, limit=1, now=rig.clock.utc())
    send = storage.sends.record(
        slack_user="U1",
        channel="C1",
        text=row.text,
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient(row.to, row.climsgid)],
        intent_key=f"bulk:{plan.plan_id}:{row.row}",
    )
    assert storage.bulks.attach_send(plan.plan_id, row.row, send.id)


def test_a_restart_asks_before_sending_and_never_texts_a_row_twice(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(3))
    _start(rig, plan)
    _record_only(rig, plan)
    # The dead process's call did reach the gateway: the sandbox has row 1's message.
    [row1] = rig.ports.storage.bulks.results(plan.plan_id, limit=1)
    claimed = rig.ports.storage.sends.recent_log(msisdn=row1.to)[0]
    rig.ports.gateway.send([Planned(row1.to, claimed.climsgid)], row1.text)
    assert rig.sent_to() == [row1.to]
    runner = _runner(rig)
    assert runner.drive(plan.plan_id).state is RunState.RUNNING  # row 1 is still leased
    assert len(rig.sent_to()) == 3
    clock.advance(runner.lease.total_seconds() + 1)
    assert runner.drive(plan.plan_id).state is RunState.DONE
    assert sorted(Counter(rig.sent_to()).values()) == [1, 1, 1]  # row 1 not sent again
    assert "querymsg" in rig.calls.commands
    [first] = rig.ports.storage.bulks.results(plan.plan_id, limit=1)
    assert first.state is RowState.SENT and first.apimsgid


def test_a_restart_sends_a_row_the_gateway_never_got(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    plan = _plan(rig, _csv(2))
    _start(rig, plan)
    _record_only(rig, plan)
    clock.advance(3600)
    assert _runner(rig).drive(plan.plan_id).state is RunState.DONE
    assert sorted(rig.sent_to()) == ["27821000000", "27821000001"]


def test_on_the_portal_an_interrupted_row_is_left_unknown_not_resent(make_rig, clock) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(portal=True)
    plan = _plan(rig, _csv(2))
    _start(rig, plan)
    _record_only(rig, plan)
    clock.advance(3600)
    assert _runner(rig).drive(plan.plan_id).state is RunState.DONE
    assert rig.sent_to() == ["27821000001"]
    [failure] = bulk.failures(rig.ports, plan.plan_id)
    assert failure.row == 2 and failure.code == "unknown"


def test_the_result_file_has_every_row_and_escapes_formulas(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    data = b"phone,note\n+27821000001,=cmd|' /C calc'!A0\n+27821000001,dup\nnope,x\n"
    plan = _plan(rig, data, text="{note}")
    _start(rig, plan)
    _runner(rig).drive(plan.plan_id)
    text = bulk.result_csv(rig.ports, plan.plan_id).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "row,number,text,apimsgid,state,reason"
    assert lines[1].startswith("2,27821000001,'=cmd|")
    assert lines[2] == "3,27821000001,,,skipped,duplicate of row 2"
    assert lines[3].startswith("4,nope,,,skipped,invalid number:")


def test_on_postgresql_a_pause_between_claim_and_record_leaves_nothing_half_done(  # type: ignore[no-untyped-def]
    make_rig, postgres_url
) -> None:
    rig = make_rig(database=postgres_url)
    plan = _plan(rig, _csv(6))
    _start(rig, plan)
    bulks = rig.ports.storage.bulks
    claim = bulks.claim_rows

    def claim_then_pause(*args, **kwargs):  # type: ignore[no-untyped-def]
        rows = claim(*args, **kwargs)
        if not rows:
            return rows
        # Another replica's Pause commits while this runner is between claim and record.
        pausing = threading.Thread(
            target=bulk.pause, args=(rig.ports, plan.plan_id), kwargs={"user": "U1"}
        )
        pausing.start()
        pausing.join()
        return rows

    bulks.claim_rows = claim_then_pause  # type: ignore[method-assign]
    runner = _runner(rig, concurrency=2)
    assert runner.drive(plan.plan_id).state is RunState.PAUSED
    assert rig.sent_to() == [] and rig.ports.storage.sends.recent_log() == []
    bulks.claim_rows = claim  # type: ignore[method-assign]
    bulk.resume(rig.ports, plan.plan_id, user="U1")
    rig.clock.advance(runner.lease.total_seconds() + 1)  # the stopped claims run out
    assert runner.drive(plan.plan_id).state is RunState.DONE
    assert sorted(Counter(rig.sent_to()).values()) == [1] * 6
    runner.close()
