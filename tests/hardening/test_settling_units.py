"""The send settler on its own (storage and a gateway double, no app): what it records for a
send a crash cut off, on a gateway that can be asked by client ID and on one that cannot (the
Clickatell Portal), and that the sender is told once however many replicas settle it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain.delivery import OUTCOME_UNKNOWN
from bot.domain.outbox import GATEWAY_CHANNEL, OutboxKind
from bot.domain.records import NewRecipient, Send
from bot.storage import Storage, open_storage
from bot.testing.clocks import ManualClock
from bot.testing.gateway import MemoryGateway
from bot.usecases.settling import CANNOT_ASK, NOT_TAKEN, SendSettler


@dataclass
class Ports:
    """The little of the app the settler uses."""

    storage: Storage
    gateway: MemoryGateway
    refreshed: list[int] = field(default_factory=list)

    def refresh_card(self, send_id: int) -> None:
        self.refreshed.append(send_id)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def storage(tmp_path: Path, clock: ManualClock) -> Iterator[Storage]:
    with open_storage(tmp_path / "bot.sqlite3", clock=clock) as opened:
        yield opened


def _cut_off(storage: Storage) -> Send:
    return storage.sends.record(
        slack_user="U0ALICE",
        channel="C0GENERAL",
        text="cut off",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli-a"), NewRecipient("27822222222", "cli-b")],
    )


def _settle(ports: Ports, clock: ManualClock, told: list[tuple[int, ...]]) -> None:
    settler = SendSettler(
        ports,  # type: ignore[arg-type]
        started_at=clock.utc(),
        quiet=timedelta(seconds=1),
        clock=clock.utc,
        tell=lambda send, *counts: told.append((send.id, *counts)),
    )
    assert settler.settle_once() == 0


def test_an_askable_gateway_says_which_were_sent(storage: Storage, clock: ManualClock) -> None:
    send = _cut_off(storage)
    gateway = MemoryGateway(known={"cli-a": "api-a"})
    clock.advance(5)
    told: list[tuple[int, ...]] = []
    _settle(Ports(storage, gateway), clock, told)
    got = storage.sends.get(send.id)
    assert got is not None
    assert [(r.apimsgid, r.error_description) for r in got.recipients] == [
        ("api-a", None),
        (None, NOT_TAKEN),
    ]
    assert told == [(send.id, 2, 1, 0)]


def test_a_gateway_that_cannot_be_asked_leaves_the_outcome_unknown(
    storage: Storage, clock: ManualClock
) -> None:
    send = _cut_off(storage)
    portal_like = dataclasses.replace(MemoryGateway().capabilities, query_by_client_id=False)
    gateway = MemoryGateway(capabilities=portal_like)
    clock.advance(5)
    told: list[tuple[int, ...]] = []
    ports = Ports(storage, gateway)
    _settle(ports, clock, told)
    got = storage.sends.get(send.id)
    assert got is not None
    assert {(r.error_code, r.error_description) for r in got.recipients} == {
        (OUTCOME_UNKNOWN, CANNOT_ASK)
    }
    assert told == [(send.id, 2, 0, 2)] and ports.refreshed == [send.id]
    offer = storage.outbox.fetch_due(now=clock.utc() + timedelta(hours=1))
    assert [(i.channel, i.kind, i.payload) for i in offer] == [
        (GATEWAY_CHANNEL, OutboxKind.OFFER_RESEND, {"send_id": send.id})
    ]
    assert storage.sends.unsettled(clock.utc()) == []  # settled: not asked about again


def test_the_sender_is_told_once_when_two_settle_together(
    storage: Storage, clock: ManualClock
) -> None:
    """Two replicas starting together may both settle one dead replica's send."""
    send = _cut_off(storage)
    clock.advance(5)
    told: list[tuple[int, ...]] = []
    for _ in range(2):
        _settle(Ports(storage, MemoryGateway()), clock, told)
        storage.sends.record_result(send.recipients[0].id, apimsgid=None)  # as if unseen
    assert told == [(send.id, 2, 0, 0)]
