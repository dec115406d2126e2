"""Rows to records: PostgreSQL hands back typed columns, so little is left to convert (the
payload's JSON text, the delivery state's enum, raw bytes); times are checked aware going in."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime
from typing import TypeVar

from psycopg.rows import DictRow

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

RecordT = TypeVar("RecordT")
Row = DictRow  # column name -> value, as the pool's connections hand rows out


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; naive datetimes are ambiguous, so refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware (UTC) one")
    return value.astimezone(UTC)


def opt_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def nul_free(text: str) -> str:
    """`text` as PostgreSQL stores it: NUL, which its text type cannot hold, becomes U+FFFD
    (what every text parameter goes through: `database.NulFreeText`)."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return names


def from_row(cls: type[RecordT], row: Row, /, **converted: object) -> RecordT:
    """A `cls` whose every field is the column of the same name, except those given
    `converted`. Positional, in field order: a send's 1,000 recipients load fast."""
    return cls(*[converted[n] if n in converted else row[n] for n in _field_names(cls)])


def recipient(row: Row) -> Recipient:
    state = row["state"]
    return from_row(Recipient, row, state=None if state is None else DeliveryState(str(state)))


def log_entry(row: Row) -> LogEntry:
    return from_row(LogEntry, row)


def contact(row: Row) -> Contact:
    return from_row(Contact, row)


def opt_out(row: Row) -> OptOut:
    return from_row(OptOut, row)


def conversation(row: Row) -> Conversation:
    return from_row(Conversation, row)


def inbox_item(row: Row) -> InboxItem:
    return from_row(InboxItem, row, params=bytes(row["params"]))


def outbox_item(row: Row) -> OutboxItem:
    return from_row(OutboxItem, row, payload=json.loads(str(row["payload"])))
