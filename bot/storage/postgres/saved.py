"""Templates and groups in PostgreSQL: texts and lists of numbers people save to reuse.

A group's row is upserted first in each change, which locks it: two replicas adding members to
one group at once take turns, so positions never collide.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.records import Group, Template
from bot.storage.postgres.database import Connection, PostgresDatabase
from bot.storage.saved import clean_name, name_key, unique_members

_TEMPLATE = "SELECT name, text, updated_at, owner FROM templates"


class PostgresTemplates:
    """`TemplateRepository` over the `templates` table (keyed by the case-folded name)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def save(self, name: str, text: str, owner: str | None = None) -> bool:
        name = clean_name(name, "template")
        if not text.strip():
            raise ValueError("a template's text cannot be empty")
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO templates (name_key, name, text, updated_at, owner)
                   VALUES (%s, %s, %s, %s, %s)
                   ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
                       text = excluded.text, updated_at = excluded.updated_at,
                       owner = excluded.owner
                   RETURNING (xmax = 0) AS inserted""",
                (name_key(name), name, text, self._db.now(), owner),
            ).fetchone()
        return bool(row and row["inserted"])  # xmax 0: a new row version, not an update

    def remove(self, name: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute("DELETE FROM templates WHERE name_key = %s", (name_key(name),))
            return cursor.rowcount == 1

    def get(self, name: str) -> Template | None:
        with self._db.read() as conn:
            row = conn.execute(f"{_TEMPLATE} WHERE name_key = %s", (name_key(name),)).fetchone()
        return None if row is None else Template(**row)

    def all(self) -> list[Template]:
        with self._db.read() as conn:
            found = conn.execute(f'{_TEMPLATE} ORDER BY name_key COLLATE "C"').fetchall()
        return [Template(**row) for row in found]


class PostgresGroups:
    """`GroupRepository` over `recipient_groups` and `group_members` (members by position)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def add(self, name: str, members: Sequence[str], owner: str | None = None) -> bool:
        name = clean_name(name, "group")
        key = name_key(name)
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO recipient_groups (name_key, name, updated_at, owner)
                   VALUES (%s, %s, %s, %s)
                   ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
                       updated_at = excluded.updated_at, owner = excluded.owner
                   RETURNING (xmax = 0) AS inserted""",
                (key, name, self._db.now(), owner),
            ).fetchone()
            created = bool(row and row["inserted"])
            if created and not members:
                raise ValueError("a new group needs at least one member")  # rolls back the row
            conn.execute(
                """INSERT INTO group_members (group_key, msisdn, position)
                   SELECT %(key)s, m.msisdn,
                          (SELECT coalesce(max(position), 0) FROM group_members
                            WHERE group_key = %(key)s) + m.n
                   FROM unnest(%(members)s::text[]) WITH ORDINALITY AS m(msisdn, n)
                   ON CONFLICT (group_key, msisdn) DO NOTHING""",
                {"key": key, "members": unique_members(members)},
            )
            return created

    def remove_members(self, name: str, members: Sequence[str]) -> int:
        key = name_key(name)
        with self._db.write() as conn:
            conn.execute("SELECT 1 FROM recipient_groups WHERE name_key = %s FOR UPDATE", (key,))
            removed = conn.execute(
                "DELETE FROM group_members WHERE group_key = %s AND msisdn = ANY(%s::text[])",
                (key, unique_members(members)),
            ).rowcount
            conn.execute(
                """DELETE FROM recipient_groups g WHERE name_key = %s AND NOT EXISTS
                       (SELECT 1 FROM group_members WHERE group_key = g.name_key)""",
                (key,),
            )
            if removed:
                conn.execute(
                    "UPDATE recipient_groups SET updated_at = %s WHERE name_key = %s",
                    (self._db.now(), key),
                )
            return removed

    def renumber(self, old: str, new: str) -> list[str]:
        if old == new:
            return []
        with self._db.write() as conn:
            changed = conn.execute(
                """SELECT name_key, name FROM recipient_groups WHERE name_key IN
                       (SELECT group_key FROM group_members WHERE msisdn = %s)
                   ORDER BY name_key COLLATE "C" FOR UPDATE""",
                (old,),
            ).fetchall()
            if not changed:
                return []
            conn.execute(
                """DELETE FROM group_members WHERE msisdn = %s AND group_key IN
                       (SELECT group_key FROM group_members WHERE msisdn = %s)""",
                (old, new),
            )
            conn.execute("UPDATE group_members SET msisdn = %s WHERE msisdn = %s", (new, old))
            conn.execute(
                "UPDATE recipient_groups SET updated_at = %s WHERE name_key = ANY(%s::text[])",
                (self._db.now(), [row["name_key"] for row in changed]),
            )
            return [row["name"] for row in changed]

    def remove(self, name: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM recipient_groups WHERE name_key = %s", (name_key(name),)
            )
            return cursor.rowcount == 1

    def get(self, name: str) -> Group | None:
        with self._db.read() as conn:
            found = _groups(conn, "WHERE g.name_key = %s", (name_key(name),))
        return found[0] if found else None

    def all(self) -> list[Group]:
        with self._db.read() as conn:
            return _groups(conn, "", ())


def _groups(conn: Connection, where: str, args: tuple[str, ...]) -> list[Group]:
    found = conn.execute(
        f"""SELECT g.name, g.updated_at, g.owner,
                   array(SELECT msisdn FROM group_members m WHERE m.group_key = g.name_key
                         ORDER BY position) AS members
            FROM recipient_groups g {where} ORDER BY g.name_key COLLATE "C" """,
        args,
    ).fetchall()
    return [
        Group(row["name"], tuple(row["members"]), row["updated_at"], row["owner"]) for row in found
    ]
