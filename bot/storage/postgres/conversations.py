"""Conversations in PostgreSQL, and the card-versus-conversation thread lookup.

The lookup reads sends, recipients and bulk rows beside conversations: which thread an SMS from a
number belongs in depends on all (the newest card sent to it, the newest conversation with it, or a
newer bulk row meaning none), and one read unit keeps them one snapshot. It writes only
conversations.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import bot.storage.postgres.rows as rows
from bot.domain.records import Conversation, ThreadInfo, ThreadRef, ThreadSummary
from bot.domain.threading import THREAD_WINDOW, ThreadChoice, thread_to_use
from bot.storage.postgres.bulks import newest_row_send
from bot.storage.postgres.database import Connection, PostgresDatabase

RECENT_ROWS = 500  # how far back `latest` reads, per table

# Each thread's last message: the phone's (kept on the conversation) or the newest card or
# relayed reply in it (a send whose Slack message is the thread's root or one of its replies).
_LATEST = """
WITH events AS (
    (SELECT channel, thread_ts, last_msisdn AS msisdn, last_text AS text, true AS inbound,
            last_text_at AS at
     FROM conversations WHERE thread_ts IS NOT NULL AND last_text IS NOT NULL
     ORDER BY updated_at DESC LIMIT %(rows)s)
    UNION ALL
    (SELECT s.card_channel, coalesce(s.thread_ts, s.card_ts),
            (SELECT msisdn FROM recipients r WHERE r.send_id = s.id
             ORDER BY r.position LIMIT 1),
            s.text, false, s.created_at
     FROM sends s WHERE s.card_ts IS NOT NULL ORDER BY s.id DESC LIMIT %(rows)s)
),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY channel, thread_ts ORDER BY at DESC, inbound DESC) AS n
    FROM events WHERE msisdn IS NOT NULL
)
SELECT channel, thread_ts, msisdn, text, inbound, at FROM ranked WHERE n = 1
ORDER BY at DESC LIMIT %(limit)s
"""

# Keep the later of the stored and the new inbound text (callbacks arrive out of order).
_NEWER = "%(text)s::text IS NOT NULL AND (c.last_text_at IS NULL OR %(at)s >= c.last_text_at)"


class PostgresConversations:
    """`ConversationRepository` over the `conversations` table."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    # ---- where an SMS goes

    def find_thread(
        self,
        msisdn: str,
        now: datetime | None = None,
        window: timedelta = THREAD_WINDOW,
        sent_by: datetime | None = None,
    ) -> ThreadRef | None:
        cutoff = self._db.now(now) - window
        latest = None if sent_by is None else rows.as_utc(sent_by)
        with self._db.read() as conn:
            card = conn.execute(
                """SELECT s.id, s.created_at, s.card_channel, s.card_ts, s.thread_ts,
                          s.card_item, s.channel
                   FROM recipients r JOIN sends s ON s.id = r.send_id
                   WHERE r.msisdn = %s AND r.error_code IS NULL AND s.cancelled_at IS NULL
                     AND (s.card_ts IS NOT NULL OR s.card_item IS NOT NULL)
                     AND s.created_at >= %s AND (%s::timestamptz IS NULL OR s.created_at <= %s)
                   ORDER BY s.created_at DESC, s.id DESC LIMIT 1""",
                (msisdn, cutoff, latest, latest),
            ).fetchone()
            conv = conn.execute(
                """SELECT * FROM conversations
                   WHERE (msisdn = %(n)s OR last_msisdn = %(n)s) AND updated_at >= %(cutoff)s
                   ORDER BY updated_at DESC, id DESC LIMIT 1""",
                {"n": msisdn, "cutoff": cutoff},
            ).fetchone()
            bulk = newest_row_send(conn, msisdn, cutoff, latest)
            choice = thread_to_use(
                None if conv is None else conv["updated_at"],
                None if card is None else card["created_at"],
                None if bulk is None else bulk["created_at"],
            )
            if choice is ThreadChoice.CONVERSATION:
                return _conversation_ref(conn, conv)
            if choice is ThreadChoice.CARD:
                return _card_ref(conn, card)
        return None

    def thread_info(self, channel: str, thread_ts: str) -> ThreadInfo | None:
        with self._db.read() as conn:
            send_id = _root_card(conn, channel, thread_ts)
            conv = conn.execute(
                "SELECT * FROM conversations WHERE channel = %s AND thread_ts = %s",
                (channel, thread_ts),
            ).fetchone()
            if send_id is None and conv is None:
                return None
            if send_id is not None:
                numbers = conn.execute(
                    "SELECT msisdn FROM recipients WHERE send_id = %s ORDER BY position",
                    (send_id,),
                ).fetchall()
                recipients = tuple(dict.fromkeys(str(row["msisdn"]) for row in numbers))
            else:
                recipients = (str(conv["msisdn"]),)
        return ThreadInfo(
            channel=channel,
            thread_ts=thread_ts,
            send_id=send_id,
            recipients=recipients,
            last_msisdn=None if conv is None else str(conv["last_msisdn"]),
            conversation_id=None if conv is None else int(conv["id"]),
        )

    # ---- writing

    def start(
        self,
        msisdn: str,
        channel: str,
        *,
        thread_ts: str | None = None,
        root_item: int | None = None,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        if (thread_ts is None) == (root_item is None):
            raise ValueError("give exactly one of thread_ts and root_item")
        if thread_ts is not None:
            return self.touch(channel, thread_ts, msisdn, at=at, text=text)
        now = self._db.now(at)
        with self._db.write() as conn:
            # The root may have been posted already (the drainer is quick): take its ts. FOR
            # SHARE waits for a drainer completing the item right now, and makes a drainer that
            # comes after wait for this conversation, so its `root_posted` sees it: either way
            # the conversation gets its thread.
            posted = conn.execute(
                "SELECT state, result FROM outbox WHERE id = %s FOR SHARE", (root_item,)
            ).fetchone()
            thread = posted["result"] if posted and posted["state"] == "done" else None
            row = conn.execute(
                """INSERT INTO conversations (channel, thread_ts, root_item, msisdn, last_msisdn,
                       created_at, updated_at, last_text, last_text_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                   RETURNING *""",
                (channel, thread, root_item, msisdn, msisdn, now, now, text, _at(text, now)),
            ).fetchone()
        return rows.conversation(row)

    def touch(
        self,
        channel: str,
        thread_ts: str,
        msisdn: str,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        now = self._db.now(at)
        with self._db.write() as conn:
            row = conn.execute(
                f"""INSERT INTO conversations AS c (channel, thread_ts, msisdn, last_msisdn,
                       created_at, updated_at, last_text, last_text_at)
                   VALUES (%(channel)s, %(ts)s, %(n)s, %(n)s, %(now)s, %(now)s, %(text)s,
                           %(at)s)
                   ON CONFLICT (channel, thread_ts) DO UPDATE SET
                       last_msisdn = excluded.last_msisdn,
                       updated_at = greatest(c.updated_at, excluded.updated_at),
                       last_text = CASE WHEN {_NEWER} THEN %(text)s ELSE c.last_text END,
                       last_text_at = CASE WHEN {_NEWER} THEN %(at)s ELSE c.last_text_at END
                   RETURNING *""",
                {
                    "channel": channel,
                    "ts": thread_ts,
                    "n": msisdn,
                    "now": now,
                    "text": text,
                    "at": _at(text, now),
                },
            ).fetchone()
        return rows.conversation(row)

    def touch_by_id(
        self,
        conversation_id: int,
        msisdn: str,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        now = self._db.now(at)
        with self._db.write() as conn:
            row = conn.execute(
                f"""UPDATE conversations c SET last_msisdn = %(n)s,
                       updated_at = greatest(c.updated_at, %(now)s),
                       last_text = CASE WHEN {_NEWER} THEN %(text)s ELSE c.last_text END,
                       last_text_at = CASE WHEN {_NEWER} THEN %(at)s ELSE c.last_text_at END
                   WHERE id = %(id)s RETURNING *""",
                {"n": msisdn, "now": now, "text": text, "at": now, "id": conversation_id},
            ).fetchone()
        if row is None:
            raise KeyError(f"no conversation {conversation_id}")
        return rows.conversation(row)

    def root_posted(self, item_id: int, ts: str) -> None:
        with self._db.write() as conn:
            # Should the thread already be another conversation's, keep that one.
            conn.execute(
                """UPDATE conversations c SET thread_ts = %(ts)s
                   WHERE c.root_item = %(item)s AND c.thread_ts IS NULL
                     AND NOT EXISTS (SELECT 1 FROM conversations o
                                     WHERE o.channel = c.channel AND o.thread_ts = %(ts)s)""",
                {"ts": ts, "item": item_id},
            )

    # ---- reading

    def get(self, conversation_id: int) -> Conversation | None:
        with self._db.read() as conn:
            return _load(conn, conversation_id)

    def recent(self, limit: int = 100) -> list[Conversation]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT * FROM conversations ORDER BY updated_at DESC, id DESC LIMIT %s",
                (max(0, limit),),
            ).fetchall()
        return [rows.conversation(row) for row in found]

    def latest(self, limit: int = 10) -> list[ThreadSummary]:
        with self._db.read() as conn:
            found = conn.execute(_LATEST, {"rows": RECENT_ROWS, "limit": max(0, limit)}).fetchall()
        return [
            ThreadSummary(
                channel=str(row["channel"]),
                thread_ts=str(row["thread_ts"]),
                msisdn=str(row["msisdn"]),
                last_text=str(row["text"]),
                inbound=bool(row["inbound"]),
                last_at=row["at"],
            )
            for row in found
        ]


def _at(text: str | None, now: datetime) -> datetime | None:
    """When the kept inbound text arrived: only with a text."""
    return None if text is None else now


def _load(conn: Connection, conversation_id: int) -> Conversation | None:
    row = conn.execute("SELECT * FROM conversations WHERE id = %s", (conversation_id,)).fetchone()
    return None if row is None else rows.conversation(row)


def _root_card(conn: Connection, channel: str, ts: str) -> int | None:
    row = conn.execute(
        """SELECT id FROM sends WHERE card_channel = %s AND card_ts = %s AND thread_ts IS NULL
           ORDER BY id DESC LIMIT 1""",
        (channel, ts),
    ).fetchone()
    return None if row is None else int(row["id"])


def _conversation_ref(conn: Connection, conv: rows.Row) -> ThreadRef:
    ts = conv["thread_ts"]
    channel = str(conv["channel"])
    return ThreadRef(
        channel=channel,
        thread_ts=None if ts is None else str(ts),
        root_item=None if ts else conv["root_item"],
        send_id=_root_card(conn, channel, str(ts)) if ts else None,
        conversation_id=int(conv["id"]),
        last_at=conv["updated_at"],
    )


def _card_ref(conn: Connection, card: rows.Row) -> ThreadRef:
    last_at: datetime = card["created_at"]
    send_id = int(card["id"])
    if card["card_ts"] is None:  # the card is still in the outbox
        item: int = card["card_item"]
        return ThreadRef(str(card["channel"]), None, item, send_id, None, last_at)
    channel = str(card["card_channel"])
    root = str(card["thread_ts"] or card["card_ts"])  # a relayed reply lives in its thread
    conv = conn.execute(
        "SELECT id FROM conversations WHERE channel = %s AND thread_ts = %s", (channel, root)
    ).fetchone()
    return ThreadRef(
        channel=channel,
        thread_ts=root,
        root_item=None,
        send_id=send_id if card["thread_ts"] is None else _root_card(conn, channel, root),
        conversation_id=None if conv is None else int(conv["id"]),
        last_at=last_at,
    )
