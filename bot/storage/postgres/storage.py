"""`PostgresStorage`: the storage port over one PostgreSQL database, shared by any number of
`serve` replicas."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import psycopg

from bot.storage.base import WorkQueue
from bot.storage.postgres.bulks import PostgresBulks
from bot.storage.postgres.contacts import PostgresContacts, PostgresOptOuts
from bot.storage.postgres.conversations import PostgresConversations
from bot.storage.postgres.database import PostgresDatabase
from bot.storage.postgres.errors import Redactor
from bot.storage.postgres.inbound import PostgresInbound
from bot.storage.postgres.inbox import PostgresInbox, PostgresMoParts
from bot.storage.postgres.listener import WorkListener
from bot.storage.postgres.outbox import PostgresOutbox
from bot.storage.postgres.saved import PostgresGroups, PostgresTemplates
from bot.storage.postgres.schema import migrate
from bot.storage.postgres.sends import PostgresSends
from bot.storage.postgres.slots import PostgresSlots
from bot.storage.postgres.state import PostgresClaims, PostgresValues


class PostgresStorage:
    """All durable state in one PostgreSQL database. Thread-safe: use one instance from every
    thread; any number of processes (replicas) may share the database."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        max_connections: int = 20,
        acquire_timeout: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> None:
        """Connect, migrate (once across replicas) and start the pool. `clock` returns Unix
        seconds and stamps every write. `acquire_timeout`: how long a unit of work waits for a
        connection (all busy, or the server away) before StorageUnavailable. Raises
        StorageError (StorageUnavailable when the server is away) whose message names the
        database without its password."""
        redactor = Redactor(url)
        self.url = redactor.safe_url  # printable: no password
        claimer = _prepare(url, redactor, connect_timeout)
        self.database = PostgresDatabase(
            url,
            claimer=claimer,
            clock=clock,
            max_connections=max_connections,
            acquire_timeout=acquire_timeout,
            connect_timeout=connect_timeout,
        )
        self.sends = PostgresSends(self.database)
        self.contacts = PostgresContacts(self.database)
        self.opt_outs = PostgresOptOuts(self.database)
        self.templates = PostgresTemplates(self.database)
        self.groups = PostgresGroups(self.database)
        self.conversations = PostgresConversations(self.database)
        self.inbound = PostgresInbound(self.database)
        self.inbox = PostgresInbox(self.database)
        self.mo_parts = PostgresMoParts(self.database)
        self.outbox = PostgresOutbox(self.database)
        self.claims = PostgresClaims(self.database)
        self.values = PostgresValues(self.database)
        self.bulks = PostgresBulks(self.database)
        self.slots = PostgresSlots(self.database)
        self.listener = WorkListener(
            url, safe_url=self.url, connect_timeout=max(1, round(connect_timeout))
        )

    def transaction(self) -> AbstractContextManager[None]:
        return self.database.transaction()

    def watch(self, queue: WorkQueue, wake: Callable[[], None]) -> None:
        self.listener.watch(queue, wake)

    def healthy(self, wait: float = 0.5) -> bool:
        return self.database.healthy(wait)

    def hold_for_serving(self) -> None:
        """Nothing to hold: any number of replicas serve one PostgreSQL database (the inbox is
        taken in turns, outbox items are claimed one replica each)."""

    def close(self) -> None:
        self.listener.close()
        self.database.close()

    def __enter__(self) -> PostgresStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _prepare(url: str, redactor: Redactor, connect_timeout: float) -> int:
    """One connection before the pool: a wrong setting fails here with the server's own words
    (a pool would only time out), the schema is migrated, and this instance takes its number
    as the owner of outbox claims."""
    try:
        with psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(connect_timeout))
        ) as conn:
            migrate(conn, redactor.safe_url)
            row = conn.execute("SELECT nextval('claimers')").fetchone()
    except psycopg.Error as exc:
        raise redactor.error(exc) from exc
    assert row is not None  # nextval always answers
    return int(row[0])
