"""PostgreSQL only: which interrupted sends a replica may settle. Several replicas send at once,
so a send without an outcome may be one a live replica is still sending (between its gateway call
and the answer); only sends recorded by an instance that is gone are handed out, whenever it
started them."""

from __future__ import annotations

from bot.domain.records import NewRecipient, Send
from bot.storage.postgres import PostgresStorage
from bot.testing.clocks import ManualClock
from tests.storage.postgres.conftest import OpenStorage
from tests.storage.support import at
from tests.support.postgres import query


def _unanswered(store: PostgresStorage) -> Send:
    return store.sends.record(
        slack_user="U1",
        channel="C1",
        text="in flight",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli-flight")],
    )


def test_a_live_replicas_send_is_left_to_it_until_it_is_gone(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    sending, starting = open_postgres(clock=clock), open_postgres(clock=clock)
    send = _unanswered(sending)
    clock.advance(600)
    assert starting.sends.unsettled(at(300)) == []  # its replica may still get the answer
    sending.close()  # the replica dies: its connections and their presence locks go
    assert [s.id for s in starting.sends.unsettled(at(300))] == [send.id]


def test_an_instance_does_not_settle_its_own_sends_while_it_runs(
    open_postgres: OpenStorage, clock: ManualClock
) -> None:
    store = open_postgres(clock=clock)
    _unanswered(store)
    clock.advance(600)
    assert store.sends.unsettled(at(300)) == []


def test_a_send_recorded_before_instances_were_recorded_is_left_alone(
    open_postgres: OpenStorage, clock: ManualClock, postgres_url: str
) -> None:
    """Schema 5 added the recording instance; an older replica may still be sending such a send
    during a rolling upgrade, so it is not settled automatically."""
    with open_postgres(clock=clock) as old:
        _unanswered(old)
    query(postgres_url, "UPDATE sends SET created_by = NULL")
    clock.advance(600)
    assert open_postgres(clock=clock).sends.unsettled(at(300)) == []
