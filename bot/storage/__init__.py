"""Durable state: the storage port (`base`) and how to open a backend (`open_storage`).

Import the protocols and errors from here; only the composition root opens a backend.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from bot.storage.base import (
    ClaimRepository,
    ContactRepository,
    ConversationRepository,
    InboxRepository,
    MoPartRepository,
    OptOutRepository,
    OutboxRepository,
    SendRepository,
    SlotRepository,
    Storage,
    StorageError,
    StorageUnavailable,
    ValueRepository,
    WorkQueue,
)
from bot.storage.location import is_postgres_url
from bot.storage.saved import GroupRepository, TemplateRepository

__all__ = [
    "ClaimRepository",
    "ContactRepository",
    "ConversationRepository",
    "GroupRepository",
    "InboxRepository",
    "MoPartRepository",
    "OptOutRepository",
    "OutboxRepository",
    "SendRepository",
    "SlotRepository",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "TemplateRepository",
    "ValueRepository",
    "WorkQueue",
    "is_postgres_url",
    "open_storage",
]


def open_storage(
    location: str | os.PathLike[str],
    *,
    clock: Callable[[], float] = time.time,
    serving: bool = False,
) -> Storage:
    """Open (creating or migrating) the database `location` names (SMS_BOT_DB): a PostgreSQL URL
    (`postgresql://` or `postgres://`), shared by any number of replicas, or else a SQLite file
    path. `clock` returns Unix seconds and stamps every write. `serving`: for the `serve` process,
    held as `Storage.hold_for_serving` holds it, before anything is migrated (on PostgreSQL, where
    replicas share the database, it holds nothing). Raises StorageError when the database cannot
    be used (StorageUnavailable when it may work later, e.g. the server is restarting); its
    message never holds a password.

    The adapter is imported here, when a database is opened, not at import time: code that only
    needs the protocols and errors must not load a database driver.
    """
    if is_postgres_url(location):
        from bot.storage.postgres import PostgresStorage

        return PostgresStorage(str(location).strip(), clock=clock)
    from bot.storage.sqlite import SqliteStorage

    return SqliteStorage(location, clock=clock, serving=serving)
