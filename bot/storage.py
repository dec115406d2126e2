"""All durable state of the bot, in one SQLite database (product.md §6, issues 3 and 4).

Design:
- One connection per thread (WAL mode lets readers run beside the one writer). Writers of this
  process queue on one lock (bounded, fair-ish latency); other processes on `busy_timeout`. A
  thread's connection is closed when the thread ends, all of them by `close()`.
- Every write method commits before it returns, so a callback stored by `store_callback` survives
  a SIGKILL right after the 200 (WAL; `synchronous="FULL"`, the default, also survives power
  loss; "NORMAL" is about 3x faster and still survives a killed process).
- `transaction()` groups several calls into one atomic unit (e.g. the inbound worker adds an MO
  part, enqueues the Slack post and marks the inbox row processed: all or nothing), so work is done
  exactly once even when the process dies half-way.
- Times: every datetime in and out is timezone-aware UTC; naive datetimes are refused
  (ValueError). Writes are stamped with the injected `clock` (Unix seconds) unless told otherwise.
- Schema version in `PRAGMA user_version`; migrations run on open.
- The inbox is meant for ONE processing worker (fetch_unprocessed does not claim rows); the outbox
  may be drained by several (fetch_due claims items with a lease).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal, TypeVar

from bot.gateway.clickatell_http.codes import status_rank

CallbackKind = Literal["status", "mo"]
Synchronous = Literal["FULL", "NORMAL"]
RowT = TypeVar("RowT")


# healthy()'s write probe: a row as large as the largest callback the endpoints accept.
_PROBE_KEY = "health.probe"
_PROBE_BYTES = 64 * 1024


class StorageError(Exception):
    """The database cannot be opened or used (bad path, newer schema, disk error). The message
    names the database path and the cause; it never contains secrets."""


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class NewRecipient:
    """One recipient as handed to `record_send`. `apimsgid` is None until the gateway answered
    (or when it refused this recipient: then `error_code`/`error_description` say why)."""

    msisdn: str
    climsgid: str
    contact_name: str | None = None
    apimsgid: str | None = None
    error_code: str | None = None
    error_description: str | None = None


@dataclass(frozen=True)
class Recipient:
    id: int
    send_id: int
    msisdn: str
    contact_name: str | None
    climsgid: str
    apimsgid: str | None
    status: str | None  # 3-digit code of the latest (highest-ranked) status, None before any
    status_at: datetime | None
    charge: float | None
    error_code: str | None
    error_description: str | None


@dataclass(frozen=True)
class Send:
    """One `/sms send` (or one relayed thread reply) with its recipients in input order.

    `card_channel`/`card_ts` is the Slack message that shows it (the card, or for a relayed thread
    reply the person's own message); `thread_ts` is set for a relayed reply: the thread it was
    typed in."""

    id: int
    created_at: datetime
    slack_user: str
    channel: str
    text: str
    encoding: str
    parts: int
    sender: str | None
    scheduled_at: datetime | None
    sandbox: bool
    intent_key: str | None
    thread_ts: str | None
    card_channel: str | None
    card_ts: str | None
    cancelled_at: datetime | None
    recipients: tuple[Recipient, ...]


@dataclass(frozen=True)
class LogEntry:
    """One recipient of one send, for `/sms log`."""

    send_id: int
    created_at: datetime
    slack_user: str
    channel: str
    text: str
    sender: str | None
    msisdn: str
    contact_name: str | None
    apimsgid: str | None
    climsgid: str
    status: str | None
    error_code: str | None
    error_description: str | None
    scheduled_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True)
class Contact:
    name: str  # as last typed; lookups ignore case
    msisdn: str
    updated_at: datetime


@dataclass(frozen=True)
class OptOut:
    msisdn: str
    opted_out: bool
    keyword: str  # the word that changed it: STOP, QUIT, ..., START
    changed_at: datetime


@dataclass(frozen=True)
class Conversation:
    """A Slack thread that carries SMS with phones. `thread_ts` is None while its root message is
    still waiting in the outbox (`root_item`); `complete()` of that item fills it in."""

    id: int
    channel: str
    thread_ts: str | None
    root_item: int | None
    msisdn: str  # the number it was started for
    last_msisdn: str  # the phone whose SMS arrived in it last
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ThreadRef:
    """Where an inbound SMS from a number goes: the newest card or conversation with it.

    Post into `thread_ts` of `channel`; when `thread_ts` is None the thread's root is still in the
    outbox: use `outbox_result(root_item)` (or let the outbox drainer resolve it) and give the
    post the same `order_key` so it follows the root."""

    channel: str
    thread_ts: str | None
    root_item: int | None
    send_id: int | None  # set when the thread is a card's
    conversation_id: int | None  # set when a conversation exists for the thread
    last_at: datetime


@dataclass(frozen=True)
class ThreadInfo:
    """What is known about a thread a person replied in (for relaying replies as SMS)."""

    channel: str
    thread_ts: str
    send_id: int | None  # the card that is the thread's root, if any
    recipients: tuple[str, ...]  # the card's recipients, or the conversation's number
    last_msisdn: str | None  # the phone whose SMS arrived in the thread last, None if none yet
    conversation_id: int | None


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: CallbackKind
    unique_key: str
    params: bytes  # the raw query string or body, exactly as received
    received_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class MoGroup:
    """An incomplete multi-part inbound SMS."""

    sender: str
    reference: int
    total: int
    parts: Mapping[int, str]  # sequence -> text
    first_received_at: datetime  # when its first part was taken in (the 10-minute wait)
    first_arrived_at: datetime  # when its first part reached us (what it can be answering)


@dataclass(frozen=True)
class OutboxItem:
    """Slack work still to do. `version` grows each time coalescing replaces the payload; pass the
    item back to `complete()` so a payload replaced while in flight is sent again."""

    id: int
    channel: str
    kind: str  # 'post', 'update', 'reaction', ... (the drainer's vocabulary)
    payload: Mapping[str, Any]
    coalesce_key: str | None
    order_key: str | None
    attempts: int
    not_before: datetime
    created_at: datetime
    version: int
    state: Literal["pending", "done", "failed"]
    result: str | None
    last_error: str | None


# --------------------------------------------------------------------------- schema

# One entry per schema version: the statements that migrate version i to i + 1. Never edit an
# entry once shipped; append a new one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sends (
            id INTEGER PRIMARY KEY,
            created_at REAL NOT NULL,
            slack_user TEXT NOT NULL,
            channel TEXT NOT NULL,
            text TEXT NOT NULL,
            encoding TEXT NOT NULL,
            parts INTEGER NOT NULL,
            sender TEXT,
            scheduled_at REAL,
            sandbox INTEGER NOT NULL DEFAULT 0,
            intent_key TEXT UNIQUE,
            thread_ts TEXT,
            card_channel TEXT,
            card_ts TEXT,
            card_item INTEGER,
            cancelled_at REAL
        )""",
        "CREATE INDEX sends_card ON sends(card_channel, card_ts)",
        "CREATE INDEX sends_card_item ON sends(card_item) WHERE card_item IS NOT NULL",
        """CREATE TABLE recipients (
            id INTEGER PRIMARY KEY,
            send_id INTEGER NOT NULL REFERENCES sends(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            msisdn TEXT NOT NULL,
            contact_name TEXT,
            climsgid TEXT NOT NULL,
            apimsgid TEXT,
            status TEXT,
            status_at REAL,
            charge REAL,
            error_code TEXT,
            error_description TEXT
        )""",
        "CREATE INDEX recipients_send ON recipients(send_id, position)",
        "CREATE INDEX recipients_apimsgid ON recipients(apimsgid)",
        "CREATE INDEX recipients_climsgid ON recipients(climsgid, msisdn)",
        "CREATE INDEX recipients_msisdn ON recipients(msisdn, send_id)",
        "CREATE TABLE claims (key TEXT PRIMARY KEY, claimed_at REAL NOT NULL)",
        "CREATE INDEX claims_age ON claims(claimed_at)",
        """CREATE TABLE contacts (
            name_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            msisdn TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX contacts_msisdn ON contacts(msisdn)",
        """CREATE TABLE opt_outs (
            msisdn TEXT PRIMARY KEY,
            opted_out INTEGER NOT NULL,
            keyword TEXT NOT NULL,
            changed_at REAL NOT NULL
        )""",
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            thread_ts TEXT,
            root_item INTEGER,
            msisdn TEXT NOT NULL,
            last_msisdn TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (channel, thread_ts)
        )""",
        "CREATE INDEX conversations_msisdn ON conversations(msisdn, updated_at)",
        "CREATE INDEX conversations_last ON conversations(last_msisdn, updated_at)",
        "CREATE INDEX conversations_root ON conversations(root_item) WHERE root_item IS NOT NULL",
        """CREATE TABLE inbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            unique_key TEXT NOT NULL,
            params BLOB NOT NULL,
            received_at REAL NOT NULL,
            processed_at REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            UNIQUE (kind, unique_key)
        )""",
        "CREATE INDEX inbox_pending ON inbox(id) WHERE processed_at IS NULL",
        """CREATE TABLE mo_parts (
            sender TEXT NOT NULL,
            reference INTEGER NOT NULL,
            total INTEGER NOT NULL,
            sequence INTEGER NOT NULL,
            text TEXT NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (sender, reference, total, sequence)
        )""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            coalesce_key TEXT,
            order_key TEXT,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before REAL NOT NULL,
            created_at REAL NOT NULL,
            finished_at REAL,
            claimed_until REAL,
            version INTEGER NOT NULL DEFAULT 1,
            result TEXT,
            last_error TEXT
        )""",
        "CREATE INDEX outbox_pending ON outbox(id) WHERE state = 'pending'",
        """CREATE UNIQUE INDEX outbox_coalesce ON outbox(coalesce_key)
            WHERE state = 'pending' AND coalesce_key IS NOT NULL""",
        """CREATE INDEX outbox_order ON outbox(order_key, id)
            WHERE state = 'pending' AND order_key IS NOT NULL""",
        "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)",
    ),
    # 2: when each part of a multi-part SMS reached us (its inbox arrival; NULL: as received_at).
    ("ALTER TABLE mo_parts ADD COLUMN arrived_at REAL",),
)
SCHEMA_VERSION = len(_MIGRATIONS)


# --------------------------------------------------------------------------- helpers


def _seconds(value: datetime) -> float:
    """Aware datetime -> Unix seconds; naive datetimes are ambiguous, so refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} given; use an aware (UTC) one")
    return value.timestamp()


def _opt_seconds(value: datetime | None) -> float | None:
    return None if value is None else _seconds(value)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _opt_time(seconds: float | None) -> datetime | None:
    return None if seconds is None else _time(seconds)


def _name_key(name: str) -> str:
    """Contact names are unique ignoring case, also beyond ASCII ('ZOË' == 'zoë')."""
    return name.strip().casefold()


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("a contact name cannot be empty")
    return cleaned


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _from_row(cls: type[RowT], row: sqlite3.Row, **converted: Any) -> RowT:
    """A `cls` whose every field is the column of the same name, except those given `converted`
    (columns stored in another type: times as Unix seconds, flags as 0/1, JSON as text).
    Positional, in field order: cheaper than keywords when a send's 1,000 recipients load."""
    return cls(*[converted[n] if n in converted else row[n] for n in _field_names(cls)])


def _recipient(row: sqlite3.Row) -> Recipient:
    return _from_row(Recipient, row, status_at=_opt_time(row["status_at"]))


def _conversation(row: sqlite3.Row) -> Conversation:
    return _from_row(
        Conversation,
        row,
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _outbox_item(row: sqlite3.Row) -> OutboxItem:
    return _from_row(
        OutboxItem,
        row,
        payload=json.loads(row["payload"]),
        not_before=_time(row["not_before"]),
        created_at=_time(row["created_at"]),
    )


def _inbox_item(row: sqlite3.Row) -> InboxItem:
    return _from_row(
        InboxItem, row, params=bytes(row["params"]), received_at=_time(row["received_at"])
    )


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


# --------------------------------------------------------------------------- storage


class Storage:
    """The database. Thread-safe: use one instance from every thread."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 30.0,
    ) -> None:
        """Open (creating or migrating) the database at `path`. `clock` returns Unix seconds and
        stamps every write. `synchronous` FULL survives power loss, NORMAL (faster) survives a
        killed process. Raises StorageError when the file cannot be used."""
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            # Every thread has its own connection, so an in-memory database would be a
            # different (empty) database per thread.
            raise StorageError(f"database path {self.path!r} must be a file path")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self._clock = clock
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._registry_lock = threading.Lock()
        self._writer = threading.Lock()
        self._connections: dict[int, sqlite3.Connection] = {}
        self._closed = False
        try:
            self._migrate(self._connection())
        except BaseException:
            self.close()
            raise

    # ---- connections and transactions

    def _open_connection(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; every write method opens its own
            # BEGIN IMMEDIATE so the write lock is taken up front (no upgrade deadlocks).
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # close() runs on another thread
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"database {self.path} cannot use WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            conn.close()
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        except StorageError:
            conn.close()
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StorageError(f"database {self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open_connection()
            self._local.conn = conn
            self._local.depth = 0
            key = id(conn)
            with self._registry_lock:
                self._connections[key] = conn
            # A thread that ends takes its connection with it (waitress threads live long, but
            # short-lived threads must not leak connections).
            weakref.finalize(threading.current_thread(), self._forget, key)
        return conn

    def _forget(self, key: int) -> None:
        with self._registry_lock:
            conn = self._connections.pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close every thread's connection. Further use raises StorageError."""
        self._closed = True
        with self._registry_lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write unit: BEGIN IMMEDIATE ... COMMIT, or a savepoint inside an outer one.

        Writers of this process queue on a lock first: SQLite's own busy handler polls with
        sleeps of up to 100 ms, which would give callbacks a long latency tail under load. The
        busy_timeout still arbitrates between processes."""
        depth: int = getattr(self._local, "depth", 0)
        if depth:
            yield from self._write_unit(depth)
            return
        if not self._writer.acquire(timeout=self._busy_timeout):
            raise StorageError(f"database {self.path} is busy (waited {self._busy_timeout}s)")
        try:
            yield from self._write_unit(0)
        finally:
            self._writer.release()

    def _write_unit(self, depth: int) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        name = f"sp{depth}"
        try:
            conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
        except sqlite3.Error as exc:
            raise StorageError(f"database {self.path}: {exc}") from exc
        self._local.depth = depth + 1
        try:
            yield conn
        except BaseException as exc:
            self._local.depth = depth
            self._undo(conn, depth, name)
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"database {self.path}: {exc}") from exc
            raise
        self._local.depth = depth
        try:
            conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
        except sqlite3.Error as exc:
            self._undo(conn, depth, name)
            raise StorageError(f"database {self.path}: {exc}") from exc

    @staticmethod
    def _undo(conn: sqlite3.Connection, depth: int, name: str) -> None:
        try:
            if depth == 0:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
        except sqlite3.Error:
            pass  # SQLite already rolled back (e.g. after an I/O error); nothing left to undo

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Reads see one consistent snapshot (a deferred transaction), or the outer one's."""
        conn = self._connection()
        try:
            if self._local.depth:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")  # nothing was written; just end the snapshot
        except sqlite3.Error as exc:
            raise StorageError(f"database {self.path}: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group calls made by this thread into one atomic, durable unit; nests (inner blocks join
        the outer one). An exception rolls everything back and propagates."""
        with self._write():
            yield

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with self._write():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"database {self.path} has schema version {version}, newer than this "
                    f"program's {SCHEMA_VERSION}; upgrade sms-bot"
                )
            for target in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[target]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target + 1}")

    def _stamp(self, value: datetime | None = None) -> float:
        return self._clock() if value is None else _seconds(value)

    def healthy(self, wait: float = 0.5) -> bool:
        """True when the database answers a query and could store a callback now (for /healthz);
        never raises. Reads keep working while another process holds the write lock or the disk
        is full, so a write is tried too: the lock within `wait` seconds, and a row as large as
        the largest callback, deleted again in the same transaction."""
        try:
            with self._read() as conn:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return self._can_write(wait)
        except Exception:
            return False

    def _can_write(self, wait: float) -> bool:
        if getattr(self._local, "depth", 0):
            return True  # inside a write on this thread: evidently writable
        if not self._writer.acquire(timeout=wait):
            return False  # this process's writer is stuck (e.g. behind another's lock)
        try:
            conn = self._connection()
            conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.execute(
                        "INSERT OR REPLACE INTO kv (key, value, updated_at) "
                        "VALUES (?, zeroblob(?), 0)",
                        (_PROBE_KEY, _PROBE_BYTES),
                    )
                    conn.execute("DELETE FROM kv WHERE key = ?", (_PROBE_KEY,))
                    conn.execute("COMMIT")
                except sqlite3.Error:
                    self._undo(conn, 0, "")
                    raise
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        except sqlite3.Error:
            return False
        finally:
            self._writer.release()
        return True

    # ---- sends and recipients

    def record_send(
        self,
        *,
        slack_user: str,
        channel: str,
        text: str,
        encoding: str,
        parts: int,
        recipients: Sequence[NewRecipient],
        sender: str | None = None,
        scheduled_at: datetime | None = None,
        sandbox: bool = False,
        intent_key: str | None = None,
        thread_ts: str | None = None,
    ) -> Send:
        """Record a send and its recipients (in order). With an `intent_key` already recorded,
        nothing is written and the existing send is returned (idempotent)."""
        scheduled = _opt_seconds(scheduled_at)
        with self._write() as conn:
            if intent_key is not None:
                existing = conn.execute(
                    "SELECT id FROM sends WHERE intent_key = ?", (intent_key,)
                ).fetchone()
                if existing is not None:
                    return self._load_send(conn, existing["id"])  # type: ignore[return-value]
            send_id = conn.execute(
                """INSERT INTO sends (created_at, slack_user, channel, text, encoding, parts,
                       sender, scheduled_at, sandbox, intent_key, thread_ts)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    self._clock(),
                    slack_user,
                    channel,
                    text,
                    encoding,
                    parts,
                    sender,
                    scheduled,
                    int(sandbox),
                    intent_key,
                    thread_ts,
                ),
            ).lastrowid
            conn.executemany(
                """INSERT INTO recipients (send_id, position, msisdn, contact_name, climsgid,
                       apimsgid, error_code, error_description)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (
                        send_id,
                        position,
                        r.msisdn,
                        r.contact_name,
                        r.climsgid,
                        r.apimsgid,
                        r.error_code,
                        r.error_description,
                    )
                    for position, r in enumerate(recipients)
                ],
            )
            return self._load_send(conn, send_id)  # type: ignore[arg-type,return-value]

    def update_recipient_result(
        self,
        recipient_id: int,
        *,
        apimsgid: str | None,
        error_code: str | None = None,
        error_description: str | None = None,
    ) -> None:
        """Store what the gateway answered for a recipient recorded before the call."""
        with self._write() as conn:
            conn.execute(
                """UPDATE recipients SET apimsgid = ?, error_code = ?, error_description = ?
                   WHERE id = ?""",
                (apimsgid, error_code, error_description, recipient_id),
            )

    def attach_card(self, send_id: int, channel: str, ts: str) -> None:
        """Remember the Slack message (channel, ts) that shows this send."""
        with self._write() as conn:
            conn.execute(
                "UPDATE sends SET card_channel = ?, card_ts = ? WHERE id = ?",
                (channel, ts, send_id),
            )

    def set_card_item(self, send_id: int, item_id: int) -> None:
        """The card is being posted by outbox item `item_id`: until it is, `find_thread` points
        at that item, and `complete()` of it attaches the posted message as the card."""
        with self._write() as conn:
            conn.execute("UPDATE sends SET card_item = ? WHERE id = ?", (item_id, send_id))

    def _load_send(self, conn: sqlite3.Connection, send_id: int) -> Send | None:
        row = conn.execute("SELECT * FROM sends WHERE id = ?", (send_id,)).fetchone()
        if row is None:
            return None
        recipients = conn.execute(
            "SELECT * FROM recipients WHERE send_id = ? ORDER BY position", (send_id,)
        ).fetchall()
        return _from_row(
            Send,
            row,
            created_at=_time(row["created_at"]),
            scheduled_at=_opt_time(row["scheduled_at"]),
            sandbox=bool(row["sandbox"]),
            cancelled_at=_opt_time(row["cancelled_at"]),
            recipients=tuple(_recipient(r) for r in recipients),
        )

    def get_send(self, send_id: int) -> Send | None:
        with self._read() as conn:
            return self._load_send(conn, send_id)

    def send_card(self, send_id: int) -> tuple[str, bool, bool] | None:
        """(the channel of the send's card, or the one it will be posted in; whether it is
        posted; whether the send is a relayed thread reply), without loading the recipients."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT channel, card_channel, card_ts, thread_ts FROM sends WHERE id = ?",
                (send_id,),
            ).fetchone()
        if row is None:
            return None
        channel = row["card_channel"] or row["channel"]
        return channel, row["card_ts"] is not None, row["thread_ts"] is not None

    def _send_where(self, where: str, args: tuple[object, ...]) -> Send | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT id FROM sends WHERE {where} ORDER BY id DESC LIMIT 1", args
            ).fetchone()
            return None if row is None else self._load_send(conn, row["id"])

    def send_by_intent(self, intent_key: str) -> Send | None:
        return self._send_where("intent_key = ?", (intent_key,))

    def send_by_card(self, channel: str, ts: str) -> Send | None:
        """The send shown by the Slack message (channel, ts): a card or a relayed reply."""
        return self._send_where("card_channel = ? AND card_ts = ?", (channel, ts))

    def _recipient_where(self, where: str, args: tuple[object, ...]) -> Recipient | None:
        with self._read() as conn:
            # Newest first: should an ID ever repeat (a reset sandbox), the latest send wins.
            row = conn.execute(
                f"SELECT * FROM recipients WHERE {where} ORDER BY id DESC LIMIT 1", args
            ).fetchone()
        return None if row is None else _recipient(row)

    def recipient_by_apimsgid(self, apimsgid: str) -> Recipient | None:
        return self._recipient_where("apimsgid = ?", (apimsgid,))

    def recipient_by_climsgid(self, climsgid: str, msisdn: str) -> Recipient | None:
        return self._recipient_where("climsgid = ? AND msisdn = ?", (climsgid, msisdn))

    def find_recipient(
        self, *, apimsgid: str | None = None, climsgid: str | None = None, msisdn: str | None = None
    ) -> Recipient | None:
        """For a status callback: by apimsgid first, else by (climsgid, msisdn)."""
        if apimsgid:
            found = self.recipient_by_apimsgid(apimsgid)
            if found is not None:
                return found
        if climsgid and msisdn:
            return self.recipient_by_climsgid(climsgid, msisdn)
        return None

    def update_status(
        self,
        recipient_id: int,
        status: str,
        *,
        at: datetime | None = None,
        charge: float | None = None,
        apimsgid: str | None = None,
    ) -> bool:
        """Apply a status only if it moves forward (codes.status_rank greater than the current
        one; a late 003 after 004 changes nothing). Returns True when the status changed.
        `charge` is stored whenever given; `apimsgid` fills a recipient that had none."""
        stamp = self._stamp(at)
        with self._write() as conn:
            row = conn.execute(
                "SELECT status FROM recipients WHERE id = ?", (recipient_id,)
            ).fetchone()
            if row is None:
                return False
            current = row["status"]
            forward = current is None or status_rank(status) > status_rank(current)
            if forward:
                conn.execute(
                    "UPDATE recipients SET status = ?, status_at = ? WHERE id = ?",
                    (status, stamp, recipient_id),
                )
            if charge is not None:
                conn.execute(
                    "UPDATE recipients SET charge = ? WHERE id = ?", (charge, recipient_id)
                )
            if apimsgid:
                conn.execute(
                    "UPDATE recipients SET apimsgid = ? WHERE id = ? AND apimsgid IS NULL",
                    (apimsgid, recipient_id),
                )
            return forward

    def mark_cancelled(self, send_id: int, at: datetime | None = None) -> bool:
        """Mark a (scheduled) send cancelled; False if it was already cancelled or unknown."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE sends SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL",
                (self._stamp(at), send_id),
            )
            return cursor.rowcount == 1

    def recent_log(self, msisdn: str | None = None, limit: int = 20) -> list[LogEntry]:
        """Recent recipients of sends, newest first, optionally only those to one number."""
        with self._read() as conn:
            rows = conn.execute(
                """SELECT s.id AS send_id, s.created_at, s.slack_user, s.channel, s.text,
                          s.sender, s.scheduled_at, s.cancelled_at, r.msisdn, r.contact_name,
                          r.apimsgid, r.climsgid, r.status, r.error_code, r.error_description
                   FROM recipients r JOIN sends s ON s.id = r.send_id
                   WHERE ?1 IS NULL OR r.msisdn = ?1
                   ORDER BY s.created_at DESC, s.id DESC, r.position
                   LIMIT ?2""",
                (msisdn, max(0, limit)),
            ).fetchall()
        return [
            _from_row(
                LogEntry,
                row,
                created_at=_time(row["created_at"]),
                scheduled_at=_opt_time(row["scheduled_at"]),
                cancelled_at=_opt_time(row["cancelled_at"]),
            )
            for row in rows
        ]

    # ---- Slack idempotency

    def claim(self, key: str) -> bool:
        """True exactly once per key, across threads and restarts (event_id, trigger_id, ...)."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO claims (key, claimed_at) VALUES (?, ?)",
                (key, self._clock()),
            )
            return cursor.rowcount == 1

    def prune_claims(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Forget claims older than `older_than`; returns how many were removed."""
        cutoff = self._stamp(now) - older_than.total_seconds()
        with self._write() as conn:
            return conn.execute("DELETE FROM claims WHERE claimed_at < ?", (cutoff,)).rowcount

    # ---- contacts

    def save_contact(self, name: str, msisdn: str) -> bool:
        """Add or update a contact; names are unique ignoring case (the casing typed last is
        kept). True if the contact is new, False if an existing one was updated."""
        name = _clean_name(name)
        with self._write() as conn:
            existed = conn.execute(
                "SELECT 1 FROM contacts WHERE name_key = ?", (_name_key(name),)
            ).fetchone()
            conn.execute(
                """INSERT INTO contacts (name_key, name, msisdn, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
                       msisdn = excluded.msisdn, updated_at = excluded.updated_at""",
                (_name_key(name), name, msisdn, self._clock()),
            )
            return existed is None

    def remove_contact(self, name: str) -> bool:
        """Remove by name (any case); False when there was no such contact."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM contacts WHERE name_key = ?", (_name_key(name),))
            return cursor.rowcount == 1

    @staticmethod
    def _contact(row: sqlite3.Row) -> Contact:
        return _from_row(Contact, row, updated_at=_time(row["updated_at"]))

    def contacts(self) -> list[Contact]:
        """All contacts sorted by name (ignoring case)."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM contacts ORDER BY name_key").fetchall()
        return [self._contact(row) for row in rows]

    def contact(self, name: str) -> Contact | None:
        """Look a contact up by name, ignoring case."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT * FROM contacts WHERE name_key = ?", (_name_key(name),)
            ).fetchone()
        return None if row is None else self._contact(row)

    def contact_name(self, msisdn: str) -> str | None:
        """The contact name for a number (the first by name if several share it)."""
        return self.contact_names([msisdn]).get(msisdn)

    def contact_names(self, msisdns: Sequence[str]) -> dict[str, str]:
        """Bulk `contact_name` for cards with many recipients; numbers without a name omitted."""
        wanted = sorted(set(msisdns))
        names: dict[str, str] = {}
        with self._read() as conn:
            # Chunks stay under SQLite's bound-parameter limit for 10,000-recipient sends.
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = conn.execute(
                    f"""SELECT msisdn, name FROM contacts
                        WHERE msisdn IN ({_placeholders(len(chunk))})
                        ORDER BY name_key DESC""",
                    chunk,
                ).fetchall()
                names.update((row["msisdn"], row["name"]) for row in rows)  # first name wins
        return names

    # ---- opt-outs

    def _set_opt_out(self, msisdn: str, opted_out: bool, keyword: str, at: datetime | None) -> bool:
        stamp = self._stamp(at)
        with self._write() as conn:
            row = conn.execute(
                "SELECT opted_out, changed_at FROM opt_outs WHERE msisdn = ?", (msisdn,)
            ).fetchone()
            if row is not None and (
                row["changed_at"] > stamp or bool(row["opted_out"]) == opted_out
            ):
                return False  # an older event (retried callback) or no change
            if row is None and not opted_out:
                return False  # START from a number that never opted out
            conn.execute(
                """INSERT INTO opt_outs (msisdn, opted_out, keyword, changed_at)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT (msisdn) DO UPDATE SET opted_out = excluded.opted_out,
                       keyword = excluded.keyword, changed_at = excluded.changed_at""",
                (msisdn, int(opted_out), keyword, stamp),
            )
            return True

    def record_opt_out(
        self, msisdn: str, keyword: str = "STOP", at: datetime | None = None
    ) -> bool:
        """Record an opt-out. `at` (the SMS's own time) guards against retried callbacks arriving
        out of order: an older event than the stored one is ignored. True if the state changed."""
        return self._set_opt_out(msisdn, True, keyword, at)

    def record_opt_in(
        self, msisdn: str, keyword: str = "START", at: datetime | None = None
    ) -> bool:
        """Undo an opt-out (the number texted START). True if the state changed."""
        return self._set_opt_out(msisdn, False, keyword, at)

    def is_opted_out(self, msisdn: str) -> bool:
        state = self.opt_out(msisdn)
        return state is not None and state.opted_out

    def opt_out(self, msisdn: str) -> OptOut | None:
        """The stored opt-out state of a number with its timestamp, None if never recorded."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM opt_outs WHERE msisdn = ?", (msisdn,)).fetchone()
        if row is None:
            return None
        return _from_row(
            OptOut, row, opted_out=bool(row["opted_out"]), changed_at=_time(row["changed_at"])
        )

    # ---- conversations

    def find_thread(
        self,
        msisdn: str,
        now: datetime | None = None,
        window: timedelta = timedelta(days=7),
        sent_by: datetime | None = None,
    ) -> ThreadRef | None:
        """The newest card (a send to this number that has a Slack message) or conversation with
        this number whose last activity is within `window` of `now`; None means start a new
        conversation. A relayed reply counts as activity in its thread. With `sent_by`, only
        sends recorded by then count (what the phone can have been answering)."""
        cutoff = self._stamp(now) - window.total_seconds()
        latest = float("inf") if sent_by is None else self._stamp(sent_by)
        with self._read() as conn:
            card = conn.execute(
                """SELECT s.id, s.created_at, s.card_channel, s.card_ts, s.thread_ts,
                          s.card_item, s.channel
                   FROM recipients r JOIN sends s ON s.id = r.send_id
                   WHERE r.msisdn = ? AND r.error_code IS NULL AND s.cancelled_at IS NULL
                     AND (s.card_ts IS NOT NULL OR s.card_item IS NOT NULL)
                     AND s.created_at >= ? AND s.created_at <= ?
                   ORDER BY s.created_at DESC, s.id DESC LIMIT 1""",
                (msisdn, cutoff, latest),
            ).fetchone()
            conv = conn.execute(
                """SELECT * FROM conversations
                   WHERE (msisdn = ?1 OR last_msisdn = ?1) AND updated_at >= ?2
                   ORDER BY updated_at DESC, id DESC LIMIT 1""",
                (msisdn, cutoff),
            ).fetchone()
            if conv is not None and (card is None or conv["updated_at"] >= card["created_at"]):
                return self._conversation_ref(conn, conv)
            if card is not None:
                return self._card_ref(conn, card)
        return None

    def _root_card(self, conn: sqlite3.Connection, channel: str, ts: str) -> int | None:
        row = conn.execute(
            """SELECT id FROM sends WHERE card_channel = ? AND card_ts = ? AND thread_ts IS NULL
               ORDER BY id DESC LIMIT 1""",
            (channel, ts),
        ).fetchone()
        return None if row is None else row["id"]

    def _conversation_ref(self, conn: sqlite3.Connection, conv: sqlite3.Row) -> ThreadRef:
        ts = conv["thread_ts"]
        return ThreadRef(
            channel=conv["channel"],
            thread_ts=ts,
            root_item=None if ts else conv["root_item"],
            send_id=self._root_card(conn, conv["channel"], ts) if ts else None,
            conversation_id=conv["id"],
            last_at=_time(conv["updated_at"]),
        )

    def _card_ref(self, conn: sqlite3.Connection, card: sqlite3.Row) -> ThreadRef:
        last_at = _time(card["created_at"])
        if card["card_ts"] is None:  # the card is still in the outbox
            return ThreadRef(card["channel"], None, card["card_item"], card["id"], None, last_at)
        channel = card["card_channel"]
        root = card["thread_ts"] or card["card_ts"]  # a relayed reply lives in its thread
        conv = conn.execute(
            "SELECT id FROM conversations WHERE channel = ? AND thread_ts = ?", (channel, root)
        ).fetchone()
        return ThreadRef(
            channel=channel,
            thread_ts=root,
            root_item=None,
            send_id=card["id"]
            if card["thread_ts"] is None
            else self._root_card(conn, channel, root),
            conversation_id=None if conv is None else conv["id"],
            last_at=last_at,
        )

    def start_conversation(
        self,
        msisdn: str,
        channel: str,
        *,
        thread_ts: str | None = None,
        root_item: int | None = None,
        at: datetime | None = None,
    ) -> Conversation:
        """A new conversation; give `thread_ts` when the root message is already posted, or
        `root_item` (the outbox item posting it) when it is not yet. `at`: when the SMS that
        starts it arrived (default now)."""
        if (thread_ts is None) == (root_item is None):
            raise ValueError("give exactly one of thread_ts and root_item")
        now = self._stamp(at)
        with self._write() as conn:
            if thread_ts is not None:
                return self.touch_conversation(channel, thread_ts, msisdn, at=at)
            # The root may have been posted already (the drainer is quick): take its ts.
            posted = conn.execute(
                "SELECT result FROM outbox WHERE id = ? AND state = 'done'", (root_item,)
            ).fetchone()
            conv_id = conn.execute(
                """INSERT INTO conversations (channel, thread_ts, root_item, msisdn, last_msisdn,
                       created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (
                    channel,
                    posted["result"] if posted else None,
                    root_item,
                    msisdn,
                    msisdn,
                    now,
                    now,
                ),
            ).lastrowid
            return self._load_conversation(conn, conv_id)  # type: ignore[arg-type]

    def touch_conversation(
        self, channel: str, thread_ts: str, msisdn: str, at: datetime | None = None
    ) -> Conversation:
        """An SMS from `msisdn` arrived in the thread (channel, thread_ts) at `at` (default now):
        create the conversation if needed (e.g. a card's thread), set its last phone and
        activity time (which never moves back)."""
        now = self._stamp(at)
        with self._write() as conn:
            conn.execute(
                """INSERT INTO conversations (channel, thread_ts, msisdn, last_msisdn,
                       created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (channel, thread_ts) DO UPDATE SET
                       last_msisdn = excluded.last_msisdn,
                       updated_at = MAX(updated_at, excluded.updated_at)""",
                (channel, thread_ts, msisdn, msisdn, now, now),
            )
            row = conn.execute(
                "SELECT * FROM conversations WHERE channel = ? AND thread_ts = ?",
                (channel, thread_ts),
            ).fetchone()
            return _conversation(row)

    def touch_conversation_id(
        self, conversation_id: int, msisdn: str, at: datetime | None = None
    ) -> Conversation:
        """As `touch_conversation`, for a conversation whose root is still in the outbox."""
        with self._write() as conn:
            conn.execute(
                """UPDATE conversations SET last_msisdn = ?, updated_at = MAX(updated_at, ?)
                   WHERE id = ?""",
                (msisdn, self._stamp(at), conversation_id),
            )
            conv = self._load_conversation(conn, conversation_id)
        if conv is None:
            raise KeyError(f"no conversation {conversation_id}")
        return conv

    @staticmethod
    def _load_conversation(conn: sqlite3.Connection, conversation_id: int) -> Conversation | None:
        row = conn.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return None if row is None else _conversation(row)

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        with self._read() as conn:
            return self._load_conversation(conn, conversation_id)

    def thread_info(self, channel: str, thread_ts: str) -> ThreadInfo | None:
        """The card and/or conversation rooted at (channel, thread_ts); None if the thread is
        not one of ours (then a reply in it is not relayed)."""
        with self._read() as conn:
            send_id = self._root_card(conn, channel, thread_ts)
            conv = conn.execute(
                "SELECT * FROM conversations WHERE channel = ? AND thread_ts = ?",
                (channel, thread_ts),
            ).fetchone()
            if send_id is None and conv is None:
                return None
            if send_id is not None:
                rows = conn.execute(
                    "SELECT msisdn FROM recipients WHERE send_id = ? ORDER BY position",
                    (send_id,),
                ).fetchall()
                recipients = tuple(dict.fromkeys(row["msisdn"] for row in rows))
            else:
                recipients = (conv["msisdn"],)
        return ThreadInfo(
            channel=channel,
            thread_ts=thread_ts,
            send_id=send_id,
            recipients=recipients,
            last_msisdn=None if conv is None else conv["last_msisdn"],
            conversation_id=None if conv is None else conv["id"],
        )

    # ---- inbox (durable callbacks)

    def store_callback(
        self,
        kind: CallbackKind,
        unique_key: str,
        params: bytes,
        received_at: datetime | None = None,
    ) -> bool:
        """Durably store a callback before it is acknowledged. False (nothing stored) when one
        with the same (kind, unique_key) was stored before."""
        if kind not in ("status", "mo"):
            raise ValueError(f"callback kind must be 'status' or 'mo', not {kind!r}")
        with self._write() as conn:
            cursor = conn.execute(
                """INSERT OR IGNORE INTO inbox (kind, unique_key, params, received_at)
                   VALUES (?, ?, ?, ?)""",
                (kind, unique_key, bytes(params), self._stamp(received_at)),
            )
            return cursor.rowcount == 1

    def fetch_unprocessed(
        self, limit: int = 100, kind: CallbackKind | None = None
    ) -> list[InboxItem]:
        """Unprocessed callbacks in arrival order."""
        with self._read() as conn:
            rows = conn.execute(
                """SELECT * FROM inbox WHERE processed_at IS NULL AND (?1 IS NULL OR kind = ?1)
                   ORDER BY id LIMIT ?2""",
                (kind, max(0, limit)),
            ).fetchall()
        return [_inbox_item(row) for row in rows]

    def mark_processed(self, item_id: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE inbox SET processed_at = ? WHERE id = ? AND processed_at IS NULL",
                (self._clock(), item_id),
            )

    def record_inbox_failure(self, item_id: int, error: str) -> int:
        """Count a failed processing attempt (item stays unprocessed); returns attempts so far."""
        with self._write() as conn:
            row = conn.execute(
                """UPDATE inbox SET attempts = attempts + 1, last_error = ? WHERE id = ?
                   RETURNING attempts""",
                (error, item_id),
            ).fetchone()
            return 0 if row is None else row["attempts"]

    def prune_inbox(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete processed callbacks older than `older_than` (keep it longer than the gateway's
        retry span, 4 days or more, or a late retry is no longer recognised as a duplicate)."""
        cutoff = self._stamp(now) - older_than.total_seconds()
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM inbox WHERE processed_at IS NOT NULL AND received_at < ?", (cutoff,)
            ).rowcount

    # ---- multi-part inbound SMS

    def add_mo_part(
        self,
        sender: str,
        reference: int,
        total: int,
        sequence: int,
        text: str,
        received_at: datetime | None = None,
        arrived_at: datetime | None = None,
    ) -> str | None:
        """Store one part (a repeated part is ignored), taken in at `received_at` (default now)
        after it reached us at `arrived_at` (default: the same). When all `total` parts are
        present return the whole text in sequence order (the group is kept until
        `delete_mo_group`, so a reprocessed part after a crash returns it again); else None."""
        if not 1 <= sequence <= total:
            raise ValueError(f"part {sequence} of {total} is not a valid part number")
        received = self._stamp(received_at)
        arrived = received if arrived_at is None else self._stamp(arrived_at)
        with self._write() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO mo_parts (sender, reference, total, sequence, text,
                       received_at, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (sender, reference, total, sequence, text, received, arrived),
            )
            rows = conn.execute(
                """SELECT text FROM mo_parts WHERE sender = ? AND reference = ? AND total = ?
                   ORDER BY sequence""",
                (sender, reference, total),
            ).fetchall()
        return "".join(row["text"] for row in rows) if len(rows) == total else None

    def mo_group_arrival(self, sender: str, reference: int, total: int) -> datetime | None:
        """When the group's first part reached us; None when no part is stored."""
        with self._read() as conn:
            row = conn.execute(
                """SELECT min(coalesce(arrived_at, received_at)) FROM mo_parts
                   WHERE sender = ? AND reference = ? AND total = ?""",
                (sender, reference, total),
            ).fetchone()
        return None if row[0] is None else _time(row[0])

    def stale_mo_groups(self, older_than: timedelta, now: datetime | None = None) -> list[MoGroup]:
        """Incomplete groups whose first part arrived more than `older_than` ago."""
        cutoff = self._stamp(now) - older_than.total_seconds()
        with self._read() as conn:
            groups = conn.execute(
                """SELECT sender, reference, total, min(received_at) AS first,
                          min(coalesce(arrived_at, received_at)) AS arrived
                   FROM mo_parts GROUP BY sender, reference, total
                   HAVING first < ? AND count(*) < total ORDER BY first""",
                (cutoff,),
            ).fetchall()
            result = []
            for group in groups:
                parts = conn.execute(
                    """SELECT sequence, text FROM mo_parts
                       WHERE sender = ? AND reference = ? AND total = ? ORDER BY sequence""",
                    (group["sender"], group["reference"], group["total"]),
                ).fetchall()
                result.append(
                    MoGroup(
                        sender=group["sender"],
                        reference=group["reference"],
                        total=group["total"],
                        parts={row["sequence"]: row["text"] for row in parts},
                        first_received_at=_time(group["first"]),
                        first_arrived_at=_time(group["arrived"]),
                    )
                )
        return result

    def delete_mo_group(self, sender: str, reference: int, total: int) -> None:
        with self._write() as conn:
            conn.execute(
                "DELETE FROM mo_parts WHERE sender = ? AND reference = ? AND total = ?",
                (sender, reference, total),
            )

    # ---- outbox (Slack work)

    def enqueue(
        self,
        channel: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        coalesce_key: str | None = None,
        order_key: str | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Queue Slack work (payload must be JSON-serializable); returns the item id. With a
        `coalesce_key` matching a pending item, that item's payload is replaced instead (same id,
        same place in line, its not_before kept) and its version bumped."""
        try:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"outbox payload is not JSON-serializable: {exc}") from exc
        now = self._clock()
        with self._write() as conn:
            if coalesce_key is not None:
                row = conn.execute(
                    """UPDATE outbox SET payload = ?, version = version + 1
                       WHERE coalesce_key = ? AND state = 'pending' RETURNING id""",
                    (body, coalesce_key),
                ).fetchone()
                if row is not None:
                    return row["id"]
            return conn.execute(  # type: ignore[return-value]
                """INSERT INTO outbox (channel, kind, payload, coalesce_key, order_key,
                       not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (
                    channel,
                    kind,
                    body,
                    coalesce_key,
                    order_key,
                    now if not_before is None else _seconds(not_before),
                    now,
                ),
            ).lastrowid

    def fetch_due(
        self,
        *,
        limit: int = 10,
        now: datetime | None = None,
        lease: timedelta = timedelta(seconds=60),
        exclude_channels: Sequence[str] = (),
    ) -> list[OutboxItem]:
        """Claim up to `limit` due items in queue order: pending, not_before reached, not claimed
        by another fetch within its lease, and no earlier pending item with the same order_key.
        Claimed items are not returned again until completed, rescheduled or the lease ends."""
        stamp = self._stamp(now)
        excluded = list(exclude_channels)
        with self._write() as conn:
            rows = conn.execute(
                f"""SELECT * FROM outbox o
                    WHERE o.state = 'pending' AND o.not_before <= ?
                      AND (o.claimed_until IS NULL OR o.claimed_until <= ?)
                      AND o.channel NOT IN ({_placeholders(len(excluded))})
                      AND (o.order_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM outbox p WHERE p.state = 'pending'
                            AND p.order_key = o.order_key AND p.id < o.id))
                    ORDER BY o.id LIMIT ?""",
                (stamp, stamp, *excluded, max(0, limit)),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET claimed_until = ? WHERE id = ?",
                [(stamp + lease.total_seconds(), row["id"]) for row in rows],
            )
        return [_outbox_item(row) for row in rows]

    def complete(self, item: OutboxItem, result: str | None = None) -> bool:
        """The item was done (result: e.g. the ts of the posted message). Returns False and keeps
        the item pending (due at once) when its payload was replaced while in flight."""
        now = self._clock()
        with self._write() as conn:
            done = conn.execute(
                """UPDATE outbox SET state = 'done', result = ?, finished_at = ?,
                       claimed_until = NULL
                   WHERE id = ? AND state = 'pending' AND version = ?""",
                (result, now, item.id, item.version),
            ).rowcount
            if not done:
                # Replaced while in flight: the newer payload must still go out.
                replaced = conn.execute(
                    """UPDATE outbox SET claimed_until = NULL, result = coalesce(?, result)
                       WHERE id = ? AND state = 'pending'""",
                    (result, item.id),
                ).rowcount
                return not replaced
            if result is not None:
                self._bind_posted_root(conn, item, result)
            return True

    @staticmethod
    def _bind_posted_root(conn: sqlite3.Connection, item: OutboxItem, ts: str) -> None:
        """A posted root message gives its conversation (or card) the thread it was waiting for,
        in the same transaction, so no crash can leave a thread without its ts."""
        conn.execute(
            "UPDATE OR IGNORE conversations SET thread_ts = ? WHERE root_item = ? "
            "AND thread_ts IS NULL",
            (ts, item.id),
        )
        conn.execute(
            """UPDATE sends SET card_channel = ?, card_ts = ?
               WHERE card_item = ? AND card_ts IS NULL""",
            (item.channel, ts, item.id),
        )

    def reschedule(
        self,
        item: OutboxItem,
        not_before: datetime,
        *,
        error: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Try again at `not_before` (429 Retry-After, 5xx backoff, pacing); releases the claim."""
        with self._write() as conn:
            conn.execute(
                """UPDATE outbox SET not_before = ?, attempts = attempts + ?,
                       last_error = coalesce(?, last_error), claimed_until = NULL
                   WHERE id = ? AND state = 'pending'""",
                (_seconds(not_before), int(count_attempt), error, item.id),
            )

    def give_up(self, item: OutboxItem, error: str) -> None:
        """Mark failed for good (e.g. channel_not_found); no longer blocks its order_key."""
        with self._write() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'failed', last_error = ?, finished_at = ?,
                       claimed_until = NULL
                   WHERE id = ? AND state = 'pending'""",
                (error, self._clock(), item.id),
            )

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM outbox WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else _outbox_item(row)

    def outbox_result(self, item_id: int) -> str | None:
        """The result stored by `complete()` (e.g. a posted message's ts), None if not done."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT result FROM outbox WHERE id = ? AND state = 'done'", (item_id,)
            ).fetchone()
        return None if row is None else row["result"]

    def pending_outbox(self) -> int:
        """How many items are still pending (for health and tests)."""
        with self._read() as conn:
            return conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]

    def prune_outbox(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete done/failed items older than `older_than`."""
        cutoff = self._stamp(now) - older_than.total_seconds()
        with self._write() as conn:
            return conn.execute(
                "DELETE FROM outbox WHERE state != 'pending' AND finished_at < ?", (cutoff,)
            ).rowcount

    # ---- small key/value state

    def get_value(self, key: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else row["value"]

    def set_value(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                """INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                       updated_at = excluded.updated_at""",
                (key, value, self._clock()),
            )

    def delete_value(self, key: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))

    # ---- added by the inbound work (engineer F): restart, group commit, batch processing

    def release_claims(self) -> int:
        """Make outbox items claimed by a previous run of this process due again (its claims
        died with it); call once at start-up, before any drainer runs. Returns how many."""
        with self._write() as conn:
            return conn.execute(
                """UPDATE outbox SET claimed_until = NULL
                   WHERE state = 'pending' AND claimed_until IS NOT NULL"""
            ).rowcount

    def store_callbacks(
        self, items: Sequence[tuple[CallbackKind, str, bytes]], received_at: datetime | None = None
    ) -> list[bool]:
        """`store_callback` for many callbacks in one transaction (group commit of the callback
        endpoints): per item True when stored, False for a duplicate (of a row stored before, or
        of an earlier item in `items`). A fixed handful of statements whatever the batch size:
        each SQLite call releases the interpreter lock, and under load getting it back is what
        costs, not the work."""
        for kind, _, _ in items:
            if kind not in ("status", "mo"):
                raise ValueError(f"callback kind must be 'status' or 'mo', not {kind!r}")
        stamp = self._stamp(received_at)
        results: list[bool] = []
        with self._write() as conn:
            for start in range(0, len(items), 200):  # 4 parameters each: under SQLite's limit
                results += self._insert_callbacks(conn, items[start : start + 200], stamp)
        return results

    @staticmethod
    def _insert_callbacks(
        conn: sqlite3.Connection, chunk: Sequence[tuple[str, str, bytes]], stamp: float
    ) -> list[bool]:
        seen: set[tuple[str, str]] = set()
        for kind in {kind for kind, _, _ in chunk}:  # one indexed lookup per kind (usually one)
            keys = [key for k, key, _ in chunk if k == kind]
            rows = conn.execute(
                "SELECT unique_key FROM inbox WHERE kind = ? AND unique_key IN ("
                + ", ".join(["?"] * len(keys))
                + ")",
                [kind, *keys],
            )
            seen.update((kind, row[0]) for row in rows)
        fresh: dict[tuple[str, str], bytes] = {}
        results = []
        for kind, key, raw in chunk:
            new = (kind, key) not in seen and (kind, key) not in fresh
            if new:
                fresh[(kind, key)] = bytes(raw)
            results.append(new)
        if fresh:
            conn.execute(
                "INSERT INTO inbox (kind, unique_key, params, received_at) VALUES "
                + ", ".join(["(?, ?, ?, ?)"] * len(fresh)),
                [v for (kind, key), raw in fresh.items() for v in (kind, key, raw, stamp)],
            )
        return results

    def apply_statuses(
        self,
        reports: Sequence[tuple[str, str | None, str, str, datetime, float | None]],
    ) -> list[tuple[int, int, bool] | None]:
        """`find_recipient` + `update_status` for a batch of status callbacks in ONE
        transaction with two statements per report (the inbox worker's hot path). Each report is
        (apimsgid, climsgid, msisdn, status, at, charge); each result is (recipient id, send id,
        status changed) or None when no recipient matches. Reports apply in order, so a batch
        holding 003 and 004 of one message ends at 004 whatever their order."""
        results: list[tuple[int, int, bool] | None] = []
        with self._write() as conn:
            for apimsgid, climsgid, msisdn, status, at, charge in reports:
                row = conn.execute(
                    "SELECT id, send_id, status FROM recipients WHERE apimsgid = ? "
                    "ORDER BY id DESC LIMIT 1",
                    (apimsgid,),
                ).fetchone()
                if row is None and climsgid and msisdn:
                    row = conn.execute(
                        "SELECT id, send_id, status FROM recipients WHERE climsgid = ? "
                        "AND msisdn = ? ORDER BY id DESC LIMIT 1",
                        (climsgid, msisdn),
                    ).fetchone()
                if row is None:
                    results.append(None)
                    continue
                current = row["status"]
                forward = current is None or status_rank(status) > status_rank(current)
                conn.execute(
                    """UPDATE recipients SET
                           status = CASE WHEN ?1 THEN ?2 ELSE status END,
                           status_at = CASE WHEN ?1 THEN ?3 ELSE status_at END,
                           charge = coalesce(?4, charge),
                           apimsgid = coalesce(apimsgid, ?5)
                       WHERE id = ?6""",
                    (forward, status, _seconds(at), charge, apimsgid or None, row["id"]),
                )
                results.append((row["id"], row["send_id"], forward))
        return results

    def mark_processed_many(self, item_ids: Sequence[int]) -> None:
        """`mark_processed` for many inbox rows in one statement per 500."""
        now = self._clock()
        with self._write() as conn:
            for start in range(0, len(item_ids), 500):
                chunk = list(item_ids[start : start + 500])
                conn.execute(
                    f"UPDATE inbox SET processed_at = ? WHERE processed_at IS NULL "
                    f"AND id IN ({_placeholders(len(chunk))})",
                    (now, *chunk),
                )
