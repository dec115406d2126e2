"""Columns to records and back: times as Unix seconds, flags as 0/1, JSON as text."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import TypeVar

from bot.domain.delivery import DeliveryState
from bot.domain.records import (
    Contact,
    Conversation,
    InboxItem,
    LogEntry,
    OptOut,
    OutboxItem,
    Recipient,
)

RowT = TypeVar("RowT")


def seconds(value: datetime) -> float:
    """Aware datetime -> Unix seconds; naive datetimes are ambiguous, so refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware (UTC) one")
    return value.timestamp()


def opt_seconds(value: datetime | None) -> float | None:
    return None if value is None else seconds(value)


def time_of(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def opt_time(stamp: float | None) -> datetime | None:
    return None if stamp is None else time_of(stamp)


def placeholders(count: int) -> str:
    return ",".join("?" * count)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def from_row(cls: type[RowT], row: sqlite3.Row, /, **converted: object) -> RowT:
    """A `cls` whose every field is the column of the same name, except those given `converted`
    (columns stored in another type). Positional, in field order: cheaper than keywords when a
    send's 1,000 recipients load."""
    return cls(*[converted[n] if n in converted else row[n] for n in _field_names(cls)])


def recipient(row: sqlite3.Row) -> Recipient:
    return recipients([row])[0]


def recipients(found: Sequence[sqlite3.Row]) -> tuple[Recipient, ...]:
    """Rows of `recipients` to records. A card update loads a send's 1,000 recipients: the
    column of each field is looked up once for all of them (by name, per row and field, it took
    most of the load's time), then read by position."""
    if not found:
        return ()
    columns = found[0].keys()
    names = _field_names(Recipient)
    where = [columns.index(name) for name in names]
    state, status_at = names.index("state"), names.index("status_at")
    made = []
    for row in found:
        values = [row[column] for column in where]
        if values[state] is not None:
            values[state] = DeliveryState(values[state])
        values[status_at] = opt_time(values[status_at])
        made.append(Recipient(*values))
    return tuple(made)


def log_entry(row: sqlite3.Row) -> LogEntry:
    return from_row(
        LogEntry,
        row,
        created_at=time_of(row["created_at"]),
        scheduled_at=opt_time(row["scheduled_at"]),
        cancelled_at=opt_time(row["cancelled_at"]),
    )


def contact(row: sqlite3.Row) -> Contact:
    return from_row(Contact, row, updated_at=time_of(row["updated_at"]))


def opt_out(row: sqlite3.Row) -> OptOut:
    return from_row(
        OptOut, row, opted_out=bool(row["opted_out"]), changed_at=time_of(row["changed_at"])
    )


def conversation(row: sqlite3.Row) -> Conversation:
    return from_row(
        Conversation,
        row,
        created_at=time_of(row["created_at"]),
        updated_at=time_of(row["updated_at"]),
    )


def inbox_item(row: sqlite3.Row) -> InboxItem:
    return from_row(
        InboxItem, row, params=bytes(row["params"]), received_at=time_of(row["received_at"])
    )


def outbox_item(row: sqlite3.Row) -> OutboxItem:
    return from_row(
        OutboxItem,
        row,
        payload=json.loads(row["payload"]),
        not_before=time_of(row["not_before"]),
        created_at=time_of(row["created_at"]),
    )
