"""Sends and their recipients in SQLite, with the one path that writes a delivery status."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import bot.storage.sqlite.rows as rows
from bot.domain.delivery import OUTCOME_UNKNOWN, UNSETTLED, DeliveryStatus, moves_forward
from bot.domain.records import (
    CardPlace,
    LogEntry,
    NewRecipient,
    Recipient,
    Send,
    StatusApplied,
    StatusUpdate,
)
from bot.storage.sqlite.database import SqliteDatabase


class SqliteSends:
    """`SendRepository` over the `sends` and `recipients` tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # ---- recording

    def record(
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
        asked_at: datetime | None = None,
    ) -> Send:
        scheduled = rows.opt_seconds(scheduled_at)
        with self._db.write() as conn:
            if intent_key is not None:
                existing = conn.execute(
                    "SELECT id FROM sends WHERE intent_key = ?", (intent_key,)
                ).fetchone()
                if existing is not None:
                    return _load(conn, existing["id"])  # type: ignore[return-value]
            send_id = conn.execute(
                """INSERT INTO sends (created_at, slack_user, channel, text, encoding, parts,
                       sender, scheduled_at, sandbox, intent_key, thread_ts, asked_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    self._db.clock(),
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
                    rows.opt_seconds(asked_at),
                ),
            ).lastrowid
            conn.executemany(
                """INSERT INTO recipients (send_id, position, msisdn, contact_name, climsgid,
                       apimsgid, error_code, error_description, text)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
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
                        r.text,
                    )
                    for position, r in enumerate(recipients)
                ],
            )
            return _load(conn, send_id)  # type: ignore[arg-type,return-value]

    def record_result(
        self,
        recipient_id: int,
        *,
        apimsgid: str | None,
        error_code: str | None = None,
        error_description: str | None = None,
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE recipients SET apimsgid = ?, error_code = ?, error_description = ?
                   WHERE id = ?""",
                (apimsgid, error_code, error_description, recipient_id),
            )

    def attach_card(self, send_id: int, channel: str, ts: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE sends SET card_channel = ?, card_ts = ? WHERE id = ?",
                (channel, ts, send_id),
            )

    def set_card_item(self, send_id: int, item_id: int) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE sends SET card_item = ? WHERE id = ?", (item_id, send_id))

    def card_posted(self, item_id: int, channel: str, ts: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE sends SET card_channel = ?, card_ts = ?
                   WHERE card_item = ? AND card_ts IS NULL""",
                (channel, ts, item_id),
            )

    def mark_cancelled(self, send_id: int, at: datetime | None = None) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE sends SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL",
                (self._db.stamp(at), send_id),
            )
            return cursor.rowcount == 1

    # ---- reading

    def scheduled_by(
        self, slack_user: str, now: datetime | None = None, limit: int = 10
    ) -> list[Send]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT id FROM sends WHERE slack_user = ? AND scheduled_at > ?
                     AND cancelled_at IS NULL ORDER BY scheduled_at, id LIMIT ?""",
                (slack_user, self._db.stamp(now), max(0, limit)),
            ).fetchall()
            loaded = [_load(conn, row["id"]) for row in found]
        return [send for send in loaded if send is not None]

    def scheduled_to(self, msisdn: str, now: datetime | None = None) -> list[Send]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT id FROM sends WHERE scheduled_at > ? AND cancelled_at IS NULL
                     AND id IN (SELECT send_id FROM recipients WHERE msisdn = ?)
                   ORDER BY scheduled_at, id""",
                (self._db.stamp(now), msisdn),
            ).fetchall()
            loaded = [_load(conn, row["id"]) for row in found]
        return [send for send in loaded if send is not None]

    def get(self, send_id: int) -> Send | None:
        with self._db.read() as conn:
            return _load(conn, send_id)

    def by_intent(self, intent_key: str) -> Send | None:
        return self._send_where("intent_key = ?", (intent_key,))

    def by_card(self, channel: str, ts: str) -> Send | None:
        return self._send_where("card_channel = ? AND card_ts = ?", (channel, ts))

    def _send_where(self, where: str, args: tuple[object, ...]) -> Send | None:
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT id FROM sends WHERE {where} ORDER BY id DESC LIMIT 1", args
            ).fetchone()
            return None if row is None else _load(conn, row["id"])

    def card_place(self, send_id: int) -> CardPlace | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT channel, card_channel, card_ts, thread_ts FROM sends WHERE id = ?",
                (send_id,),
            ).fetchone()
        if row is None:
            return None
        return CardPlace(
            channel=row["card_channel"] or row["channel"],
            posted=row["card_ts"] is not None,
            is_reply=row["thread_ts"] is not None,
        )

    def unsettled(self, created_before: datetime, limit: int = 100) -> list[Send]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT DISTINCT s.id FROM sends s JOIN recipients r ON r.send_id = s.id
                   WHERE s.created_at < ? AND s.thread_ts IS NULL AND s.cancelled_at IS NULL
                     AND r.apimsgid IS NULL AND r.status IS NULL AND r.error_code IS NULL
                     AND r.error_description IS NULL
                   ORDER BY s.id LIMIT ?""",
                (self._db.stamp(created_before), max(0, limit)),
            ).fetchall()
            return [send for row in found if (send := _load(conn, row["id"])) is not None]

    def recent_log(
        self, msisdn: str | None = None, limit: int = 20, channel: str | None = None
    ) -> list[LogEntry]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT s.id AS send_id, s.created_at, s.slack_user, s.channel,
                          coalesce(r.text, s.text) AS text,
                          s.sender, s.scheduled_at, s.cancelled_at, r.msisdn, r.contact_name,
                          r.apimsgid, r.climsgid, r.status, r.status_words, r.error_code,
                          r.error_description
                   FROM recipients r JOIN sends s ON s.id = r.send_id
                   WHERE (?1 IS NULL OR r.msisdn = ?1) AND (?3 IS NULL OR s.channel = ?3)
                   ORDER BY s.created_at DESC, s.id DESC, r.position
                   LIMIT ?2""",
                (msisdn, max(0, limit), channel),
            ).fetchall()
        return [rows.log_entry(row) for row in found]

    def by_message_id(self, message_id: str) -> Send | None:
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT send_id FROM recipients WHERE apimsgid = ?1 OR climsgid = ?1
                   ORDER BY id DESC LIMIT 1""",
                (message_id,),
            ).fetchone()
            return None if row is None else _load(conn, row["send_id"])

    # ---- recipients

    def _recipient_where(self, where: str, args: tuple[object, ...]) -> Recipient | None:
        with self._db.read() as conn:
            # Newest first: should an ID ever repeat (a reset sandbox), the latest send wins.
            row = conn.execute(
                f"SELECT * FROM recipients WHERE {where} ORDER BY id DESC LIMIT 1", args
            ).fetchone()
        return None if row is None else rows.recipient(row)

    def recipient_by_apimsgid(self, apimsgid: str) -> Recipient | None:
        return self._recipient_where("apimsgid = ?", (apimsgid,))

    def recipient_by_climsgid(self, climsgid: str, msisdn: str) -> Recipient | None:
        return self._recipient_where("climsgid = ? AND msisdn = ?", (climsgid, msisdn))

    def recipients_by_climsgid(self, climsgid: str) -> list[Recipient]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT * FROM recipients WHERE climsgid = ? ORDER BY id", (climsgid,)
            ).fetchall()
        return list(rows.recipients(found))

    def find_recipient(
        self, *, apimsgid: str | None = None, climsgid: str | None = None, msisdn: str | None = None
    ) -> Recipient | None:
        if apimsgid:
            found = self.recipient_by_apimsgid(apimsgid)
            if found is not None:
                return found
        if climsgid and msisdn:
            return self.recipient_by_climsgid(climsgid, msisdn)
        if climsgid:
            with self._db.read() as conn:
                row = _only_by_climsgid(conn, climsgid, "*")
            return None if row is None else rows.recipient(row)
        return None

    # ---- delivery status: both entry points end in `_move`

    def update_status(
        self,
        recipient_id: int,
        status: DeliveryStatus,
        *,
        at: datetime | None = None,
        charge: float | None = None,
        apimsgid: str | None = None,
    ) -> bool:
        stamp = self._db.stamp(at)
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT id, send_id, status_progress FROM recipients WHERE id = ?",
                (recipient_id,),
            ).fetchone()
            if row is None:
                return False
            return _move(conn, row, status, stamp, charge, apimsgid)

    def apply_reports(self, reports: Sequence[StatusUpdate]) -> list[StatusApplied | None]:
        """ONE transaction with two statements per report: the inbox worker's hot path."""
        results: list[StatusApplied | None] = []
        with self._db.write() as conn:
            for report in reports:
                row = _matching_recipient(conn, report)
                if row is None:
                    results.append(None)
                    continue
                stamp = rows.seconds(report.at)
                changed = _move(conn, row, report.status, stamp, report.charge, report.apimsgid)
                results.append(StatusApplied(row["id"], row["send_id"], changed))
        return results


def _load(conn: sqlite3.Connection, send_id: int) -> Send | None:
    row = conn.execute("SELECT * FROM sends WHERE id = ?", (send_id,)).fetchone()
    if row is None:
        return None
    recipients = conn.execute(
        "SELECT * FROM recipients WHERE send_id = ? ORDER BY position", (send_id,)
    ).fetchall()
    return rows.from_row(
        Send,
        row,
        created_at=rows.time_of(row["created_at"]),
        scheduled_at=rows.opt_time(row["scheduled_at"]),
        sandbox=bool(row["sandbox"]),
        cancelled_at=rows.opt_time(row["cancelled_at"]),
        recipients=rows.recipients(recipients),
        asked_at=rows.opt_time(row["asked_at"]),
    )


def _matching_recipient(conn: sqlite3.Connection, report: StatusUpdate) -> sqlite3.Row | None:
    """By apimsgid, else by (climsgid, msisdn): as `find_recipient`, newest first."""
    row = conn.execute(
        "SELECT id, send_id, status_progress FROM recipients WHERE apimsgid = ? "
        "ORDER BY id DESC LIMIT 1",
        (report.apimsgid,),
    ).fetchone()
    if row is None and report.climsgid and report.msisdn:
        row = conn.execute(
            "SELECT id, send_id, status_progress FROM recipients WHERE climsgid = ? "
            "AND msisdn = ? ORDER BY id DESC LIMIT 1",
            (report.climsgid, report.msisdn),
        ).fetchone()
    elif row is None and report.climsgid:
        row = _only_by_climsgid(conn, report.climsgid, "id, send_id, status_progress")
    return row


def _only_by_climsgid(conn: sqlite3.Connection, climsgid: str, columns: str) -> sqlite3.Row | None:
    """The one recipient with this client ID; None when none or several have it (a client ID
    shared by a request's recipients names none of them alone)."""
    found = conn.execute(
        f"SELECT {columns} FROM recipients WHERE climsgid = ? LIMIT 2", (climsgid,)
    ).fetchall()
    return found[0] if len(found) == 1 else None


def _move(
    conn: sqlite3.Connection,
    row: sqlite3.Row,
    status: DeliveryStatus,
    stamp: float,
    charge: float | None,
    apimsgid: str | None,
) -> bool:
    """The status write: the new status only if `moves_forward` says so (the rule is the
    domain's, not written here); a charge whenever given; an apimsgid only where none is known;
    an unknown outcome settled (any report means the gateway has the message). Returns whether
    the status changed."""
    forward = moves_forward(row["status_progress"], status)
    conn.execute(
        """UPDATE recipients SET
               status = CASE WHEN ?1 THEN ?2 ELSE status END,
               state = CASE WHEN ?1 THEN ?3 ELSE state END,
               status_progress = CASE WHEN ?1 THEN ?4 ELSE status_progress END,
               status_words = CASE WHEN ?1 THEN ?5 ELSE status_words END,
               status_at = CASE WHEN ?1 THEN ?6 ELSE status_at END,
               charge = coalesce(?7, charge),
               apimsgid = coalesce(apimsgid, ?8),
               error_description = CASE WHEN error_code IN (?10, ?11) THEN NULL
                                        ELSE error_description END,
               error_code = CASE WHEN error_code IN (?10, ?11) THEN NULL ELSE error_code END
           WHERE id = ?9""",
        (
            forward,
            status.code,
            status.state.value,
            status.progress,
            status.words,
            stamp,
            charge,
            apimsgid or None,
            row["id"],
            OUTCOME_UNKNOWN,
            UNSETTLED,
        ),
    )
    return forward
