"""Scheduled work runs once per tick across replicas: two rigs on one database stand for two
replicas (each its own Storage, its own workers), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.gateway.base import Balance
from bot.testing.slack import FakeSlack
from tests.inbound.rig import SMS_CHANNEL, Rig

PHONE = "27821234567"


@pytest.fixture(params=["sqlite", "postgres"])
def pair(request: pytest.FixtureRequest, tmp_path: Path, slack: FakeSlack) -> Iterator[list[Rig]]:
    location = (
        str(request.getfixturevalue("postgres_url"))
        if request.param == "postgres"
        else str(tmp_path / "shared.sqlite3")
    )
    rigs = [Rig(tmp_path, slack, location=location) for _ in range(2)]
    yield rigs
    for rig in rigs:
        rig.close()


def advance(rigs: list[Rig], seconds: float) -> None:
    for rig in rigs:
        rig.clock.advance(seconds)


def test_an_incomplete_sms_is_posted_once_whichever_replica_sweeps(pair: list[Rig]) -> None:
    first, second = pair
    first.mo(PHONE, "one ", udh="0500030903" + "01")
    first.process()
    advance(pair, 11 * 60)
    for rig in (first, second, first, second):
        rig.processor.step()
    advance(pair, 6)  # the next sweep's tick
    for rig in (second, first):
        rig.processor.step()
        rig.settle()
    assert len(first.fake.posts(SMS_CHANNEL)) == 1


def test_the_balance_is_checked_once_per_interval_across_replicas(pair: list[Rig]) -> None:
    asked: list[int] = []
    for n, rig in enumerate(pair):
        rig.gateway.balance = lambda n=n: asked.append(n) or Balance(3.0)  # type: ignore[method-assign]
    for _ in range(3):
        for rig in pair:
            rig.inbound.balance.step()
    assert len(asked) == 1
    advance(pair, 900)
    for rig in reversed(pair):
        rig.inbound.balance.step()
    assert len(asked) == 2
    for rig in pair:
        rig.settle()
    alerts = [p for p in pair[0].fake.posts(SMS_CHANNEL) if "Low SMS" in p["text"]]
    assert len(alerts) == 1  # and the low balance is told once


def test_pruning_runs_once_per_hour_across_replicas(pair: list[Rig], monkeypatch) -> None:
    pruned: list[int] = []
    for n, rig in enumerate(pair):
        monkeypatch.setattr(rig.processor, "prune", lambda now, n=n: pruned.append(n))
    for rig in pair * 2:
        rig.processor.step()
    assert len(pruned) == 1
    advance(pair, 3600)
    for rig in pair * 2:
        rig.processor.step()
    assert len(pruned) == 2
