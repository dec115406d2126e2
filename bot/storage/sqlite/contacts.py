"""Contacts and opt-outs in SQLite: what the bot knows about phone numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import bot.storage.sqlite.rows as rows
from bot.domain.records import Contact, OptOut
from bot.storage.sqlite.database import SqliteDatabase

_CHUNK = 500  # numbers per query: under SQLite's bound-parameter limit for 10,000-recipient sends


def _name_key(name: str) -> str:
    """Contact names are unique ignoring case, also beyond ASCII ('ZOË' == 'zoë')."""
    return name.strip().casefold()


def _clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("a contact name cannot be empty")
    return cleaned


class SqliteContacts:
    """`ContactRepository` over the `contacts` table (keyed by the case-folded name)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def save(self, name: str, msisdn: str, owner: str | None = None) -> bool:
        name = _clean_name(name)
        with self._db.write() as conn:
            existed = conn.execute(
                "SELECT 1 FROM contacts WHERE name_key = ?", (_name_key(name),)
            ).fetchone()
            conn.execute(
                """INSERT INTO contacts (name_key, name, msisdn, updated_at, owner)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
                       msisdn = excluded.msisdn, updated_at = excluded.updated_at,
                       owner = excluded.owner""",
                (_name_key(name), name, msisdn, self._db.clock(), owner),
            )
            return existed is None

    def remove(self, name: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute("DELETE FROM contacts WHERE name_key = ?", (_name_key(name),))
            return cursor.rowcount == 1

    def all(self) -> list[Contact]:
        with self._db.read() as conn:
            found = conn.execute("SELECT * FROM contacts ORDER BY name_key").fetchall()
        return [rows.contact(row) for row in found]

    def get(self, name: str) -> Contact | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM contacts WHERE name_key = ?", (_name_key(name),)
            ).fetchone()
        return None if row is None else rows.contact(row)

    def name_for(self, msisdn: str) -> str | None:
        return self.names_for([msisdn]).get(msisdn)

    def names_for(self, msisdns: Sequence[str]) -> dict[str, str]:
        wanted = sorted(set(msisdns))
        names: dict[str, str] = {}
        with self._db.read() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                found = conn.execute(
                    f"""SELECT msisdn, name FROM contacts
                        WHERE msisdn IN ({rows.placeholders(len(chunk))})
                        ORDER BY name_key DESC""",
                    chunk,
                ).fetchall()
                names.update((row["msisdn"], row["name"]) for row in found)  # first name wins
        return names


class SqliteOptOuts:
    """`OptOutRepository` over the `opt_outs` table (one row per number, its latest change)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def opt_out(
        self,
        msisdn: str,
        keyword: str = "STOP",
        at: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        return self._change(msisdn, True, keyword, at, by)

    def opt_in(
        self,
        msisdn: str,
        keyword: str = "START",
        at: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        return self._change(msisdn, False, keyword, at, by)

    def _change(
        self, msisdn: str, opted_out: bool, keyword: str, at: datetime | None, by: str | None
    ) -> bool:
        stamp = self._db.stamp(at)
        with self._db.write() as conn:
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
                """INSERT INTO opt_outs (msisdn, opted_out, keyword, changed_at, changed_by)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (msisdn) DO UPDATE SET opted_out = excluded.opted_out,
                       keyword = excluded.keyword, changed_at = excluded.changed_at,
                       changed_by = excluded.changed_by""",
                (msisdn, int(opted_out), keyword, stamp, by),
            )
            return True

    def is_opted_out(self, msisdn: str) -> bool:
        state = self.get(msisdn)
        return state is not None and state.opted_out

    def get(self, msisdn: str) -> OptOut | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM opt_outs WHERE msisdn = ?", (msisdn,)).fetchone()
        return None if row is None else rows.opt_out(row)

    def all(self) -> list[OptOut]:
        with self._db.read() as conn:
            found = conn.execute("SELECT * FROM opt_outs ORDER BY msisdn").fetchall()
        return [rows.opt_out(row) for row in found]
