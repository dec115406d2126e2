"""Templates and groups in SQLite: texts and lists of numbers people save to reuse."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from bot.domain.records import Group, Template
from bot.storage.saved import clean_name, name_key, unique_members
from bot.storage.sqlite.database import SqliteDatabase
from bot.storage.sqlite.rows import time_of


class SqliteTemplates:
    """`TemplateRepository` over the `templates` table (keyed by the case-folded name)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def save(self, name: str, text: str, owner: str | None = None) -> bool:
        name = clean_name(name, "template")
        if not text.strip():
            raise ValueError("a template's text cannot be empty")
        with self._db.write() as conn:
            existed = conn.execute(
                "SELECT 1 FROM templates WHERE name_key = ?", (name_key(name),)
            ).fetchone()
            conn.execute(
                """INSERT INTO templates (name_key, name, text, updated_at, owner)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
                       text = excluded.text, updated_at = excluded.updated_at,
                       owner = excluded.owner""",
                (name_key(name), name, text, self._db.clock(), owner),
            )
            return existed is None

    def remove(self, name: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute("DELETE FROM templates WHERE name_key = ?", (name_key(name),))
            return cursor.rowcount == 1

    def get(self, name: str) -> Template | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM templates WHERE name_key = ?", (name_key(name),)
            ).fetchone()
        return None if row is None else _template(row)

    def all(self) -> list[Template]:
        with self._db.read() as conn:
            found = conn.execute("SELECT * FROM templates ORDER BY name_key").fetchall()
        return [_template(row) for row in found]


def _template(row: sqlite3.Row) -> Template:
    return Template(row["name"], row["text"], time_of(row["updated_at"]), row["owner"])


class SqliteGroups:
    """`GroupRepository` over `recipient_groups` and `group_members` (members by position)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(self, name: str, members: Sequence[str], owner: str | None = None) -> bool:
        name = clean_name(name, "group")
        key = name_key(name)
        with self._db.write() as conn:
            existed = conn.execute(
                "SELECT 1 FROM recipient_groups WHERE name_key = ?", (key,)
            ).fetchone()
            if existed is None and not members:
                raise ValueError("a new group needs at least one member")
            conn.execute(
                """INSERT INTO recipient_groups (name_key, name, updated_at, owner)
                   VALUES (?, ?, ?, ?)
                   ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
                       updated_at = excluded.updated_at, owner = excluded.owner""",
                (key, name, self._db.clock(), owner),
            )
            row = conn.execute(
                "SELECT coalesce(max(position), 0) FROM group_members WHERE group_key = ?", (key,)
            ).fetchone()
            conn.executemany(
                """INSERT INTO group_members (group_key, msisdn, position) VALUES (?, ?, ?)
                   ON CONFLICT (group_key, msisdn) DO NOTHING""",
                [(key, msisdn, row[0] + i) for i, msisdn in enumerate(unique_members(members), 1)],
            )
            return existed is None

    def remove_members(self, name: str, members: Sequence[str]) -> int:
        key = name_key(name)
        with self._db.write() as conn:
            removed = sum(
                conn.execute(
                    "DELETE FROM group_members WHERE group_key = ? AND msisdn = ?", (key, msisdn)
                ).rowcount
                for msisdn in unique_members(members)
            )
            left = conn.execute(
                "SELECT 1 FROM group_members WHERE group_key = ? LIMIT 1", (key,)
            ).fetchone()
            if left is None:
                conn.execute("DELETE FROM recipient_groups WHERE name_key = ?", (key,))
            elif removed:
                conn.execute(
                    "UPDATE recipient_groups SET updated_at = ? WHERE name_key = ?",
                    (self._db.clock(), key),
                )
            return removed

    def renumber(self, old: str, new: str) -> list[str]:
        if old == new:
            return []
        with self._db.write() as conn:
            changed = conn.execute(
                """SELECT name_key, name FROM recipient_groups WHERE name_key IN
                       (SELECT group_key FROM group_members WHERE msisdn = ?)
                   ORDER BY name_key""",
                (old,),
            ).fetchall()
            if not changed:
                return []
            conn.execute(
                """DELETE FROM group_members WHERE msisdn = ? AND group_key IN
                       (SELECT group_key FROM group_members WHERE msisdn = ?)""",
                (old, new),
            )
            conn.execute("UPDATE group_members SET msisdn = ? WHERE msisdn = ?", (new, old))
            now = self._db.clock()
            conn.executemany(
                "UPDATE recipient_groups SET updated_at = ? WHERE name_key = ?",
                [(now, row["name_key"]) for row in changed],
            )
            return [row["name"] for row in changed]

    def remove(self, name: str) -> bool:
        key = name_key(name)
        with self._db.write() as conn:
            conn.execute("DELETE FROM group_members WHERE group_key = ?", (key,))
            cursor = conn.execute("DELETE FROM recipient_groups WHERE name_key = ?", (key,))
            return cursor.rowcount == 1

    def get(self, name: str) -> Group | None:
        with self._db.read() as conn:
            found = _groups(conn, "WHERE name_key = ?", (name_key(name),))
        return found[0] if found else None

    def all(self) -> list[Group]:
        with self._db.read() as conn:
            return _groups(conn, "", ())


def _groups(conn: sqlite3.Connection, where: str, args: tuple[str, ...]) -> list[Group]:
    heads = conn.execute(
        f"SELECT * FROM recipient_groups {where} ORDER BY name_key", args
    ).fetchall()
    members: dict[str, list[str]] = {row["name_key"]: [] for row in heads}
    for row in conn.execute(
        f"""SELECT group_key, msisdn FROM group_members WHERE group_key IN
               (SELECT name_key FROM recipient_groups {where}) ORDER BY group_key, position""",
        args,
    ):
        members[row["group_key"]].append(row["msisdn"])
    return [
        Group(
            row["name"], tuple(members[row["name_key"]]), time_of(row["updated_at"]), row["owner"]
        )
        for row in heads
    ]
