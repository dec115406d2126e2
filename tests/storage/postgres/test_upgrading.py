"""PostgreSQL only: a database yesterday's sms-bot left (schema 5) takes today's migrations
(templates and groups, bulk runs, shared time slots with the NOTIFY trigger) with its data."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from bot.storage.postgres import SCHEMA_VERSION
from bot.storage.postgres.schema import MIGRATIONS
from tests.storage.postgres.conftest import OpenStorage
from tests.storage.postgres.test_opening import applied_migrations


def test_a_version_5_database_is_brought_to_today_with_its_sends(
    open_postgres: OpenStorage, postgres_url: str
) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, migration in enumerate(MIGRATIONS[:5], start=1):
            for statement in migration:
                conn.execute(statement)  # type: ignore[arg-type]
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        conn.execute(
            "INSERT INTO sends (id, created_at, slack_user, channel, text, encoding, parts) "
            "VALUES (1, now(), 'U1', 'C1', 'hello', 'gsm7', 1)"
        )
        conn.execute(
            "INSERT INTO recipients (send_id, position, msisdn, climsgid) "
            "VALUES (1, 0, '27821111111', 'cli1')"
        )
    store = open_postgres()
    assert applied_migrations(postgres_url) == list(range(1, SCHEMA_VERSION + 1))
    send = store.sends.get(1)
    assert send is not None and send.text_for(send.recipients[0]) == "hello"
    store.templates.save("Reminder", "Hi {first_name}")
    store.groups.add("crew", ["27821111111"])
    assert store.groups.get("Crew").members == ("27821111111",)  # type: ignore[union-attr]
    assert store.bulks.by_send(1) is None
    assert store.slots.take({"slack:C1": timedelta(seconds=1)}) is None
