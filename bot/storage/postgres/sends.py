"""Sends and their recipients in PostgreSQL, and the delivery status writes.

A status is read and written under the recipient's row lock (FOR UPDATE), so two replicas
applying "sent" and "delivered" of one message at once still end at "delivered": the forward-only
rule (`moves_forward`, the domain's) always compares with the status actually stored. Batches of
reports go through `statuses`, which does the same for many recipients in three statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import bot.storage.postgres.rows as rows
import bot.storage.postgres.statuses as statuses
from bot.domain.delivery import SETTLED_BY_A_REPORT, DeliveryStatus, moves_forward
from bot.domain.records import (
    CardPlace,
    LogEntry,
    NewRecipient,
    Recipient,
    Send,
    StatusApplied,
    StatusUpdate,
)
from bot.storage.postgres.database import LIVE_CLAIMERS, Connection, PostgresDatabase

_STATUS_ROW = "SELECT id, send_id, status_progress FROM recipients"


class PostgresSends:
    """`SendRepository` over the `sends` and `recipients` tables."""

    def __init__(self, db: PostgresDatabase) -> None:
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
        """ON CONFLICT on the intent key: of two replicas recording one intent, one inserts and
        the other waits for its commit and returns that send."""
        scheduled = rows.opt_utc(scheduled_at)
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO sends (created_at, slack_user, channel, text, encoding, parts,
                       sender, scheduled_at, sandbox, intent_key, thread_ts, created_by, asked_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (intent_key) DO NOTHING RETURNING id""",
                (
                    self._db.now(),
                    slack_user,
                    channel,
                    text,
                    encoding,
                    parts,
                    sender,
                    scheduled,
                    sandbox,
                    intent_key,
                    thread_ts,
                    self._db.claimer,
                    rows.opt_utc(asked_at),
                ),
            ).fetchone()
            if row is None:  # the intent was recorded before
                existing = conn.execute(
                    "SELECT id FROM sends WHERE intent_key = %s", (intent_key,)
                ).fetchone()
                return _load(conn, int(existing["id"]))
            send_id = int(row["id"])
            with conn.cursor() as cursor:
                cursor.executemany(
                    """INSERT INTO recipients (send_id, position, msisdn, contact_name, climsgid,
                           apimsgid, error_code, error_description, text)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
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
            return _load(conn, send_id)

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
                """UPDATE recipients SET apimsgid = %s, error_code = %s, error_description = %s
                   WHERE id = %s""",
                (apimsgid, error_code, error_description, recipient_id),
            )

    def attach_card(self, send_id: int, channel: str, ts: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE sends SET card_channel = %s, card_ts = %s WHERE id = %s",
                (channel, ts, send_id),
            )

    def set_card_item(self, send_id: int, item_id: int) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE sends SET card_item = %s WHERE id = %s", (item_id, send_id))

    def card_posted(self, item_id: int, channel: str, ts: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE sends SET card_channel = %s, card_ts = %s
                   WHERE card_item = %s AND card_ts IS NULL""",
                (channel, ts, item_id),
            )

    def mark_cancelled(self, send_id: int, at: datetime | None = None) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE sends SET cancelled_at = %s WHERE id = %s AND cancelled_at IS NULL",
                (self._db.now(at), send_id),
            )
            return cursor.rowcount == 1

    # ---- reading

    def scheduled_by(
        self, slack_user: str, now: datetime | None = None, limit: int = 10
    ) -> list[Send]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT id FROM sends WHERE slack_user = %s AND scheduled_at > %s
                     AND cancelled_at IS NULL ORDER BY scheduled_at, id LIMIT %s""",
                (slack_user, self._db.now(now), max(0, limit)),
            ).fetchall()
            loaded = [_load(conn, int(row["id"])) for row in found]
        return [send for send in loaded if send is not None]

    def scheduled_to(self, msisdn: str, now: datetime | None = None) -> list[Send]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT id FROM sends WHERE scheduled_at > %s AND cancelled_at IS NULL
                     AND id IN (SELECT send_id FROM recipients WHERE msisdn = %s)
                   ORDER BY scheduled_at, id""",
                (self._db.now(now), msisdn),
            ).fetchall()
            loaded = [_load(conn, int(row["id"])) for row in found]
        return [send for send in loaded if send is not None]

    def get(self, send_id: int) -> Send | None:
        with self._db.read() as conn:
            return _load(conn, send_id)

    def by_intent(self, intent_key: str) -> Send | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT id FROM sends WHERE intent_key = %s", (intent_key,))
            return _load_found(conn, row.fetchone())

    def by_card(self, channel: str, ts: str) -> Send | None:
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT id FROM sends WHERE card_channel = %s AND card_ts = %s
                   ORDER BY id DESC LIMIT 1""",
                (channel, ts),
            )
            return _load_found(conn, row.fetchone())

    def card_place(self, send_id: int) -> CardPlace | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT channel, card_channel, card_ts, thread_ts FROM sends WHERE id = %s",
                (send_id,),
            ).fetchone()
        if row is None:
            return None
        return CardPlace(
            channel=str(row["card_channel"] or row["channel"]),
            posted=row["card_ts"] is not None,
            is_reply=row["thread_ts"] is not None,
        )

    def unsettled(self, created_before: datetime, limit: int = 100) -> list[Send]:
        """Only sends recorded by an instance that is gone (none of its connections hold its
        presence lock): a live replica may still be between its gateway call and the answer.
        A send from before the instance was recorded (schema 5) is left alone: a replica of an
        older version may still be sending it."""
        with self._db.read() as conn:
            found = conn.execute(
                f"""SELECT DISTINCT s.id FROM sends s JOIN recipients r ON r.send_id = s.id
                    WHERE s.created_at < %(before)s AND s.thread_ts IS NULL
                      AND s.cancelled_at IS NULL AND r.apimsgid IS NULL AND r.status IS NULL
                      AND r.error_code IS NULL AND r.error_description IS NULL
                      AND s.created_by IS NOT NULL AND s.created_by NOT IN ({LIVE_CLAIMERS})
                    ORDER BY s.id LIMIT %(limit)s""",
                {"before": self._db.now(created_before), "limit": max(0, limit)},
            ).fetchall()
            loaded = [_load(conn, int(row["id"])) for row in found]
        return [send for send in loaded if send is not None]

    def by_message_id(self, message_id: str) -> Send | None:
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT send_id FROM recipients WHERE apimsgid = %(id)s OR climsgid = %(id)s
                   ORDER BY id DESC LIMIT 1""",
                {"id": message_id},
            ).fetchone()
            return None if row is None else _load(conn, int(row["send_id"]))

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
                   WHERE (%(msisdn)s::text IS NULL OR r.msisdn = %(msisdn)s)
                     AND (%(channel)s::text IS NULL OR s.channel = %(channel)s)
                   ORDER BY s.created_at DESC, s.id DESC, r.position
                   LIMIT %(limit)s""",
                {"msisdn": msisdn, "limit": max(0, limit), "channel": channel},
            ).fetchall()
        return [rows.log_entry(row) for row in found]

    # ---- recipients

    def recipient_by_apimsgid(self, apimsgid: str) -> Recipient | None:
        with self._db.read() as conn:
            # Newest first: should an ID ever repeat (a reset sandbox), the latest send wins.
            row = conn.execute(
                "SELECT * FROM recipients WHERE apimsgid = %s ORDER BY id DESC LIMIT 1",
                (apimsgid,),
            ).fetchone()
        return None if row is None else rows.recipient(row)

    def recipient_by_climsgid(self, climsgid: str, msisdn: str) -> Recipient | None:
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT * FROM recipients WHERE climsgid = %s AND msisdn = %s
                   ORDER BY id DESC LIMIT 1""",
                (climsgid, msisdn),
            ).fetchone()
        return None if row is None else rows.recipient(row)

    def recipients_by_climsgid(self, climsgid: str) -> list[Recipient]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT * FROM recipients WHERE climsgid = %s ORDER BY id", (climsgid,)
            ).fetchall()
        return [rows.recipient(row) for row in found]

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
                found = conn.execute(
                    "SELECT * FROM recipients WHERE climsgid = %s LIMIT 2", (climsgid,)
                ).fetchall()
            return rows.recipient(found[0]) if len(found) == 1 else None
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
        stamp = self._db.now(at)
        with self._db.write() as conn:
            row = conn.execute(f"{_STATUS_ROW} WHERE id = %s FOR UPDATE", (recipient_id,))
            found = row.fetchone()
            if found is None:
                return False
            return _move(conn, found, status, stamp, charge, apimsgid)

    def apply_reports(self, reports: Sequence[StatusUpdate]) -> list[StatusApplied | None]:
        """ONE transaction of three statements for the whole batch (`statuses`)."""
        with self._db.write() as conn:
            return statuses.apply_reports(conn, reports)


def _load_found(conn: Connection, row: rows.Row | None) -> Send | None:
    return None if row is None else _load(conn, int(row["id"]))


def _load(conn: Connection, send_id: int) -> Send | None:
    row = conn.execute("SELECT * FROM sends WHERE id = %s", (send_id,)).fetchone()
    if row is None:
        return None
    recipients = conn.execute(
        "SELECT * FROM recipients WHERE send_id = %s ORDER BY position", (send_id,)
    ).fetchall()
    return rows.from_row(Send, row, recipients=tuple(rows.recipient(r) for r in recipients))


def _move(
    conn: Connection,
    row: rows.Row,
    status: DeliveryStatus,
    stamp: datetime,
    charge: float | None,
    apimsgid: str | None,
) -> bool:
    """The status write: the new status only if `moves_forward` says so (the rule is the
    domain's, not written here); a charge whenever given; an apimsgid only where none is known;
    an unknown outcome settled (any report means the gateway has the message). Returns whether
    the status changed. The row is locked by the caller's FOR UPDATE."""
    progress = row["status_progress"]
    forward = moves_forward(None if progress is None else int(progress), status)
    conn.execute(
        """UPDATE recipients SET
               status = CASE WHEN %(forward)s THEN %(code)s ELSE status END,
               state = CASE WHEN %(forward)s THEN %(state)s ELSE state END,
               status_progress = CASE WHEN %(forward)s THEN %(progress)s
                                      ELSE status_progress END,
               status_words = CASE WHEN %(forward)s THEN %(words)s ELSE status_words END,
               status_at = CASE WHEN %(forward)s THEN %(at)s ELSE status_at END,
               charge = coalesce(%(charge)s, charge),
               apimsgid = coalesce(apimsgid, %(apimsgid)s),
               error_description = CASE WHEN error_code = ANY(%(settled)s::text[]) THEN NULL
                                        ELSE error_description END,
               error_code = CASE WHEN error_code = ANY(%(settled)s::text[]) THEN NULL
                                 ELSE error_code END
           WHERE id = %(id)s""",
        {
            "forward": forward,
            "code": status.code,
            "state": status.state.value,
            "progress": status.progress,
            "words": status.words,
            "at": stamp,
            "charge": charge,
            "apimsgid": apimsgid or None,
            "id": row["id"],
            "settled": sorted(SETTLED_BY_A_REPORT),
        },
    )
    return forward
