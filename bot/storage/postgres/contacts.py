"""Contacts and opt-outs in PostgreSQL: what the bot knows about phone numbers.

Each write is one statement that decides and writes at once (an upsert with a condition), so two
replicas recording the same number at the same moment cannot both think they changed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import bot.storage.postgres.rows as rows
from bot.domain.records import Contact, OptOut
from bot.storage.postgres.database import PostgresDatabase


def _name_key(name: str) -> str:
    """Contact names are unique ignoring case, also beyond ASCII ('ZOË' == 'zoë')."""
    return name.strip().casefold()


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("a contact name cannot be empty")
    return cleaned


class PostgresContacts:
    """`ContactRepository` over the `contacts` table (keyed by the case-folded name)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def save(self, name: str, msisdn: str, owner: str | None = None) -> bool:
        name = _clean_name(name)
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO contacts (name_key, name, msisdn, updated_at, owner)
                   VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
                       msisdn = excluded.msisdn, updated_at = excluded.updated_at,
                       owner = excluded.owner
                   RETURNING (xmax = 0) AS inserted""",
                (_name_key(name), name, msisdn, self._db.now(), owner),
            ).fetchone()
        return bool(row and row["inserted"])  # xmax 0: a new row version, not an update

    def remove(self, name: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute("DELETE FROM contacts WHERE name_key = %s", (_name_key(name),))
            return cursor.rowcount == 1

    def all(self) -> list[Contact]:
        with self._db.read() as conn:
            found = conn.execute(
                'SELECT name, msisdn, updated_at, owner FROM contacts ORDER BY name_key COLLATE "C"'
            ).fetchall()
        return [rows.contact(row) for row in found]

    def get(self, name: str) -> Contact | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT name, msisdn, updated_at, owner FROM contacts WHERE name_key = %s",
                (_name_key(name),),
            ).fetchone()
        return None if row is None else rows.contact(row)

    def name_for(self, msisdn: str) -> str | None:
        return self.names_for([msisdn]).get(msisdn)

    def names_for(self, msisdns: Sequence[str]) -> dict[str, str]:
        wanted = sorted(set(msisdns))
        if not wanted:
            return {}
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT DISTINCT ON (msisdn) msisdn, name FROM contacts
                   WHERE msisdn = ANY(%s) ORDER BY msisdn, name_key COLLATE "C" """,
                (wanted,),
            ).fetchall()
        return {str(row["msisdn"]): str(row["name"]) for row in found}  # first name wins


class PostgresOptOuts:
    """`OptOutRepository` over the `opt_outs` table (one row per number, its latest change)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def opt_out(
        self,
        msisdn: str,
        keyword: str = "STOP",
        at: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        """A new row, or a row that was in and is not newer than this event."""
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO opt_outs (msisdn, opted_out, keyword, changed_at, changed_by)
                   VALUES (%s, true, %s, %s, %s)
                   ON CONFLICT (msisdn) DO UPDATE SET opted_out = true,
                       keyword = excluded.keyword, changed_at = excluded.changed_at,
                       changed_by = excluded.changed_by
                   WHERE NOT opt_outs.opted_out AND opt_outs.changed_at <= excluded.changed_at
                   RETURNING 1""",
                (msisdn, keyword, self._db.now(at), by),
            ).fetchone()
        return row is not None

    def opt_in(
        self,
        msisdn: str,
        keyword: str = "START",
        at: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        """Only a number that is out, by an event not older than its opt-out (a number that
        never opted out gets no row)."""
        stamp = self._db.now(at)
        with self._db.write() as conn:
            cursor = conn.execute(
                """UPDATE opt_outs SET opted_out = false, keyword = %s, changed_at = %s,
                       changed_by = %s
                   WHERE msisdn = %s AND opted_out AND changed_at <= %s""",
                (keyword, stamp, by, msisdn, stamp),
            )
            return cursor.rowcount == 1

    def is_opted_out(self, msisdn: str) -> bool:
        state = self.get(msisdn)
        return state is not None and state.opted_out

    def get(self, msisdn: str) -> OptOut | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM opt_outs WHERE msisdn = %s", (msisdn,)).fetchone()
        return None if row is None else rows.opt_out(row)

    def all(self) -> list[OptOut]:
        with self._db.read() as conn:
            found = conn.execute('SELECT * FROM opt_outs ORDER BY msisdn COLLATE "C"').fetchall()
        return [rows.opt_out(row) for row in found]
