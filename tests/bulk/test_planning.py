"""`prepare`: every check before anything is sent, and the plan stored (or nothing)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.domain.bulk import RunState
from bot.usecases import bulk
from tests.bulk.conftest import SETTINGS, Rig


def _prepare(rig: Rig, data: bytes, text: str, **source: object) -> bulk.BulkPlan:
    return bulk.prepare(
        rig.ports,
        bulk.BulkSource(csv_bytes=data, **source),  # type: ignore[arg-type]
        text,
        starter="U1",
        channel="C1",
    )


def _stored_runs(rig: Rig) -> list[str]:
    states = list(RunState)
    return [r.bulk_id for r in rig.ports.storage.bulks.runs(states)]


def test_counts_preview_and_skips(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    rig.ports.storage.opt_outs.opt_out("27821000003")
    rig.ports.storage.contacts.save("Jane Doe", "27821000001")
    data = (
        b"Phone,Order\n"
        b"+27821000001,A1\n"
        b"27821000002,B2\n"
        b"+27 82 100 0001,dup\n"
        b"0821000004,x\n"
        b"27821000003,out\n"
    )
    plan = _prepare(rig, data, "Hi {first_name}, order {ORDER} is ready")
    assert (plan.rows, plan.valid, plan.invalid, plan.duplicates, plan.opted_out) == (5, 2, 1, 1, 1)
    assert [(p.row, p.to, p.text) for p in plan.preview] == [
        (2, "27821000001", "Hi Jane, order A1 is ready"),
        (3, "27821000002", "Hi , order B2 is ready"),
    ]
    assert [(s.row, s.reason.split(":")[0]) for s in plan.skipped] == [
        (4, "duplicate of row 2"),
        (5, "invalid number"),
        (6, "opted out"),
    ]
    assert (plan.parts, plan.encoding, plan.starter, plan.channel) == (1, "gsm7", "U1", "C1")
    assert _stored_runs(rig) == [plan.plan_id]
    assert rig.ports.storage.bulks.tally(plan.plan_id).pending == 2


def test_a_column_fills_a_field_before_the_contact_does(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    rig.ports.storage.contacts.save("Jane Doe", "27821000001")
    plan = _prepare(rig, b"name,to\nJ.,27821000001\n", "Dear {name}")
    assert plan.preview[0].text == "Dear J."


def test_an_unknown_field_is_refused_by_name_and_nothing_is_stored(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    with pytest.raises(bulk.BulkRefused, match=r"\{ordr\}"):
        _prepare(rig, b"phone,order\n27821000001,A\n", "Order {ordr}")
    with pytest.raises(bulk.BulkRefused, match="unmatched brace"):
        _prepare(rig, b"phone\n27821000001\n", "Price {")
    assert _stored_runs(rig) == [] and rig.calls.count() == 0


def test_over_long_rows_are_skipped_and_the_worst_row_sets_parts(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(dataclasses.replace(SETTINGS, max_parts=2))
    data = (
        b"phone,note\n27821000001,short\n27821000002,"
        + b"x" * 400
        + b"\n27821000003,\xc3\xa1"
        + b"y" * 100
        + b"\n"
    )
    plan = _prepare(rig, data, "{note}")
    assert plan.valid == 2 and (plan.parts, plan.encoding) == (2, "ucs2")
    [skip] = plan.skipped
    assert skip.row == 3 and skip.reason.startswith("too long: The text is 400 GSM characters")


def test_nothing_sendable_is_refused(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    with pytest.raises(bulk.BulkRefused, match=r"No row can be sent \(row 2: invalid number"):
        _prepare(rig, b"phone\nabc\n", "Hi")
    with pytest.raises(bulk.BulkRefused, match="message is empty"):
        _prepare(rig, b"phone\n27821000001\n", "  ")
    assert _stored_runs(rig) == []


def test_only_allowed_users_may_plan(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(dataclasses.replace(SETTINGS, allowed_users=frozenset({"UOK"})))
    with pytest.raises(bulk.BulkRefused, match="not allowed"):
        _prepare(rig, b"phone\n27821000001\n", "Hi")


def test_credits_are_estimated_with_a_bounded_number_of_coverage_calls(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    prefixes = [f"+27{p}{d}234567" for p in range(60, 63) for d in range(10)]  # 30 prefixes
    data = ("phone\n" + "\n".join(prefixes) + "\n").encode()
    plan = _prepare(rig, data, "Hello " + "x" * 200)  # two parts each
    coverage_calls = [c for c in rig.calls.commands if c.lower() == "routecoverage"]
    assert len(coverage_calls) == 20
    assert plan.credits_estimate == pytest.approx(30 * 2 * 1.0)


def test_the_portal_cannot_estimate_credits(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig(portal=True)
    assert _prepare(rig, b"phone\n27821000001\n", "Hi").credits_estimate is None


def test_pasted_numbers_and_contact_names(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    rig.ports.storage.contacts.save("Jane Doe", "27821000001")
    plan = bulk.prepare(
        rig.ports,
        bulk.BulkSource(numbers=("jane doe", "+27821000002", "nobody")),
        "Hi {first_name}",
        starter="U1",
        channel=None,
    )
    assert [(p.to, p.text) for p in plan.preview] == [
        ("27821000001", "Hi Jane"),
        ("27821000002", "Hi "),
    ]
    assert plan.invalid == 1
    with pytest.raises(bulk.BulkRefused, match="one source"):
        bulk.prepare(rig.ports, bulk.BulkSource(), "Hi", starter="U1", channel=None)


def test_a_group_is_a_source_its_members_one_row_each(make_rig) -> None:  # type: ignore[no-untyped-def]
    rig = make_rig()
    rig.ports.storage.contacts.save("Jane Doe", "27821000001")
    rig.ports.storage.groups.add("Team", ["27821000001", "27821000002"])
    plan = bulk.prepare(
        rig.ports, bulk.BulkSource(group="team"), "Hi {first_name}", starter="U1", channel=None
    )
    assert [(p.row, p.to, p.text) for p in plan.preview] == [
        (1, "27821000001", "Hi Jane"),
        (2, "27821000002", "Hi "),
    ]
    pasted = bulk.BulkSource(numbers=("Team", "+27821000003"))
    plan = bulk.prepare(rig.ports, pasted, "Hi", starter="U1", channel=None)
    assert [p.to for p in plan.preview] == ["27821000001", "27821000002", "27821000003"]
    with pytest.raises(bulk.BulkRefused, match="no group named 'nobody'"):
        bulk.prepare(rig.ports, bulk.BulkSource(group="nobody"), "Hi", starter="U1", channel=None)
