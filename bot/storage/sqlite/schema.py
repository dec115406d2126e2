"""The SQLite schema and its migrations (the version lives in `PRAGMA user_version`).

Migrations run when a database is opened, in one transaction with the version bump, so a
database is never left half-migrated. A database newer than this program is refused: its data
may mean what this code does not know.
"""

from __future__ import annotations

import sqlite3

from bot.storage.base import StorageError

# One entry per schema version: the statements that migrate version i to i + 1. Never edit an
# entry once shipped; append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
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
    # 3: delivery status in the shared vocabulary beside the gateway's own code. The forward-only
    # rule compares `status_progress`, so rows stored before it existed get it here, from their
    # legacy codes; without it a late "sent" could replace a "delivered". The table is frozen in
    # SQL (not read from the gateway's code table) so this step gives the same result whenever
    # it runs, whatever later code says; tests/storage/sqlite checks it against the code table.
    (
        "ALTER TABLE recipients ADD COLUMN state TEXT",
        "ALTER TABLE recipients ADD COLUMN status_progress INTEGER",
        "ALTER TABLE recipients ADD COLUMN status_words TEXT",
        """WITH legacy (code, state, progress, words) AS (VALUES
               ('001', 'unknown', 0, 'Unknown to the gateway'),
               ('011', 'scheduled', 100, 'Scheduled for later delivery'),
               ('008', 'queued', 101, 'Received by gateway'),
               ('002', 'queued', 102, 'Queued at the gateway'),
               ('003', 'sent', 200, 'Delivered to gateway'),
               ('004', 'delivered', 300, 'Received by recipient'),
               ('005', 'failed', 300, 'Failed: error with the message'),
               ('006', 'cancelled', 300, 'Cancelled'),
               ('007', 'failed', 300, 'Delivery failed'),
               ('009', 'failed', 300, 'Failed: cannot route to this number'),
               ('010', 'expired', 300, 'Expired before delivery'),
               ('012', 'failed', 300, 'Failed: out of credit'),
               ('014', 'failed', 300, 'Failed: message limit exceeded'))
           UPDATE recipients SET
               state = coalesce(
                   (SELECT state FROM legacy WHERE code = recipients.status), 'unknown'),
               status_progress = coalesce(
                   (SELECT progress FROM legacy WHERE code = recipients.status), 0),
               status_words = coalesce(
                   (SELECT words FROM legacy WHERE code = recipients.status),
                   rtrim('Unknown status ' || recipients.status))
           WHERE status IS NOT NULL""",
    ),
    # 4: a conversation's last inbound SMS and when it arrived, for the Home tab's list.
    (
        "ALTER TABLE conversations ADD COLUMN last_text TEXT",
        "ALTER TABLE conversations ADD COLUMN last_text_at REAL",
        "CREATE INDEX conversations_recent ON conversations(updated_at)",
    ),
    # 5: who set a contact's number last, so replacing someone else's contact can tell them.
    ("ALTER TABLE contacts ADD COLUMN owner TEXT",),
    # 6: saved templates and groups, and a recipient's own text when a template was filled in
    # per contact (NULL: the send's text).
    (
        """CREATE TABLE templates (
            name_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            text TEXT NOT NULL,
            updated_at REAL NOT NULL,
            owner TEXT
        )""",
        """CREATE TABLE recipient_groups (
            name_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            updated_at REAL NOT NULL,
            owner TEXT
        )""",
        """CREATE TABLE group_members (
            group_key TEXT NOT NULL REFERENCES recipient_groups(name_key) ON DELETE CASCADE,
            msisdn TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (group_key, msisdn)
        )""",
        "ALTER TABLE recipients ADD COLUMN text TEXT",
    ),
    # 7: bulk runs and their rows, the rows being durable work items claimed with a lease.
    (
        """CREATE TABLE bulk_runs (
            id TEXT PRIMARY KEY,
            starter TEXT NOT NULL,
            channel TEXT,
            text TEXT NOT NULL,
            parts INTEGER NOT NULL,
            encoding TEXT NOT NULL,
            credits_estimate REAL,
            rows INTEGER NOT NULL,
            valid INTEGER NOT NULL,
            invalid INTEGER NOT NULL,
            duplicates INTEGER NOT NULL,
            opted_out INTEGER NOT NULL,
            state TEXT NOT NULL,
            start_at REAL,
            created_at REAL NOT NULL,
            finished_at REAL,
            card_channel TEXT,
            card_ts TEXT
        )""",
        "CREATE INDEX bulk_runs_state ON bulk_runs(state, created_at)",
        """CREATE TABLE bulk_rows (
            bulk_id TEXT NOT NULL REFERENCES bulk_runs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            msisdn TEXT NOT NULL,
            text TEXT NOT NULL,
            climsgid TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            send_id INTEGER,
            not_before REAL,
            held INTEGER NOT NULL DEFAULT 0,
            claimed_until REAL,
            PRIMARY KEY (bulk_id, position)
        )""",
        """CREATE INDEX bulk_rows_pending ON bulk_rows(bulk_id, position)
            WHERE state = 'pending'""",
        "CREATE INDEX bulk_rows_send ON bulk_rows(send_id) WHERE send_id IS NOT NULL",
    ),
    # 8: time slots: Slack's pace per channel and per card, and scheduled jobs' next runs.
    (
        "CREATE TABLE slots (key TEXT PRIMARY KEY, free_at REAL NOT NULL)",
        "CREATE INDEX slots_free_at ON slots(free_at)",
    ),
    # 9: who changed an opt-out by command (NULL: the phone or the gateway did), and every
    # inbound SMS, so /sms log shows both directions and a thread knows which numbers texted in.
    (
        "ALTER TABLE opt_outs ADD COLUMN changed_by TEXT",
        """CREATE TABLE inbound_messages (
            id INTEGER PRIMARY KEY,
            received_at REAL NOT NULL,
            msisdn TEXT NOT NULL,
            text TEXT NOT NULL,
            channel TEXT NOT NULL,
            send_id INTEGER,
            conversation_id INTEGER,
            post_item INTEGER NOT NULL
        )""",
        "CREATE INDEX inbound_recent ON inbound_messages(received_at)",
        "CREATE INDEX inbound_msisdn ON inbound_messages(msisdn, received_at)",
        "CREATE INDEX inbound_send ON inbound_messages(send_id) WHERE send_id IS NOT NULL",
        """CREATE INDEX inbound_conversation ON inbound_messages(conversation_id)
            WHERE conversation_id IS NOT NULL""",
    ),
    # 10: the time a person asked for, kept when SMS_QUIET_HOURS moved the send (the card
    # says so).
    ("ALTER TABLE sends ADD COLUMN asked_at REAL",),
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the database to SCHEMA_VERSION; run inside a write transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"database {path} has schema version {version}, newer than this "
            f"program's {SCHEMA_VERSION}; upgrade sms-bot"
        )
    for target in range(version, SCHEMA_VERSION):
        for statement in MIGRATIONS[target]:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {target + 1}")
