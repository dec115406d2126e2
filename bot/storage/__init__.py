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
    Storage,
    StorageError,
    StorageUnavailable,
    ValueRepository,
)

__all__ = [
    "ClaimRepository",
    "ContactRepository",
    "ConversationRepository",
    "InboxRepository",
    "MoPartRepository",
    "OptOutRepository",
    "OutboxRepository",
    "SendRepository",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "ValueRepository",
    "open_storage",
]


def open_storage(
    location: str | os.PathLike[str],
    *,
    clock: Callable[[], float] = time.time,
    serving: bool = False,
) -> Storage:
    """Open (creating or migrating) the database `location` names: today a SQLite file path
    (SMS_BOT_DB). `clock` returns Unix seconds and stamps every write. `serving`: for the `serve`
    process, held as `Storage.hold_for_serving` holds it, before anything is migrated. Raises
    StorageError when the database cannot be used.

    The adapter is imported here, when a database is opened, not at import time: code that only
    needs the protocols and errors must not load a database driver.
    """
    from bot.storage.sqlite import SqliteStorage

    return SqliteStorage(location, clock=clock, serving=serving)
