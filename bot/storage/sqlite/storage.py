"""`SqliteStorage`: the storage port over one SQLite file (the embedded default)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from bot.storage.base import WorkQueue
from bot.storage.sqlite.bulks import SqliteBulks
from bot.storage.sqlite.contacts import SqliteContacts, SqliteOptOuts
from bot.storage.sqlite.conversations import SqliteConversations
from bot.storage.sqlite.database import SqliteDatabase, Synchronous
from bot.storage.sqlite.inbound import SqliteInbound
from bot.storage.sqlite.inbox import SqliteInbox, SqliteMoParts
from bot.storage.sqlite.outbox import SqliteOutbox
from bot.storage.sqlite.saved import SqliteGroups, SqliteTemplates
from bot.storage.sqlite.schema import migrate
from bot.storage.sqlite.sends import SqliteSends
from bot.storage.sqlite.serving import ServeLock
from bot.storage.sqlite.slots import SqliteSlots
from bot.storage.sqlite.state import SqliteClaims, SqliteValues


class SqliteStorage:
    """All durable state in one SQLite database. Thread-safe: use one instance from every
    thread; one `serve` process per file (`hold_for_serving`), while other processes may share
    it (the command line)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 30.0,
        serving: bool = False,
    ) -> None:
        """Open (creating or migrating) the database at `path`. `clock` returns Unix seconds and
        stamps every write. `synchronous` FULL survives power loss, NORMAL (faster) survives a
        killed process. `serving`: `hold_for_serving()` first, so a second `serve` (a newer
        version, in a rolling deploy) is refused before it migrates the schema under the one
        running. Raises StorageError when the file cannot be used."""
        self.database = self._database(
            path, clock=clock, synchronous=synchronous, busy_timeout=busy_timeout
        )
        self.path = self.database.path
        self._serve_lock = ServeLock(self.path)
        try:
            if serving:
                self._serve_lock.acquire()
            with self.database.write() as conn:
                migrate(conn, self.path)
        except BaseException:
            self.close()
            raise
        self.sends = SqliteSends(self.database)
        self.contacts = SqliteContacts(self.database)
        self.opt_outs = SqliteOptOuts(self.database)
        self.templates = SqliteTemplates(self.database)
        self.groups = SqliteGroups(self.database)
        self.conversations = SqliteConversations(self.database)
        self.inbound = SqliteInbound(self.database)
        self.inbox = SqliteInbox(self.database)
        self.mo_parts = SqliteMoParts(self.database)
        self.outbox = SqliteOutbox(self.database)
        self.claims = SqliteClaims(self.database)
        self.values = SqliteValues(self.database)
        self.bulks = SqliteBulks(self.database)
        self.slots = SqliteSlots(self.database)

    def _database(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float],
        synchronous: Synchronous,
        busy_timeout: float,
    ) -> SqliteDatabase:
        """The connections under every repository. A method, so a test can put faults beneath
        the adapter (a full disk) without a seam in production code paths."""
        return SqliteDatabase(path, clock=clock, synchronous=synchronous, busy_timeout=busy_timeout)

    def transaction(self) -> AbstractContextManager[None]:
        return self.database.transaction()

    def watch(self, queue: WorkQueue, wake: Callable[[], None]) -> None:
        """In-process: one `serve` process per file, so only its own commits add work."""
        self.database.watch(queue, wake)

    def healthy(self, wait: float = 0.5) -> bool:
        return self.database.healthy(wait)

    def hold_for_serving(self) -> None:
        self._serve_lock.acquire()

    def close(self) -> None:
        self.database.close()
        self._serve_lock.release()

    def __enter__(self) -> SqliteStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
