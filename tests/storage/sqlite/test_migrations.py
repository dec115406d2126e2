"""SQLite only: databases of older schema versions are migrated with their data kept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.delivery import DeliveryState
from bot.gateway.clickatell_http.codes import STATUS_CODES
from bot.storage.sqlite import SqliteStorage
from bot.storage.sqlite.schema import MIGRATIONS
from bot.testing.clocks import ManualClock
from tests.storage.support import T0, status


def database_of_version(path: Path, version: int) -> sqlite3.Connection:
    """A raw database at schema `version`, as an older sms-bot left it."""
    raw = sqlite3.connect(path)
    for migration in MIGRATIONS[:version]:
        for statement in migration:
            raw.execute(statement)
    raw.execute(f"PRAGMA user_version = {version}")
    return raw


def test_a_version_1_database_is_migrated_with_its_parts_kept(db_path: Path) -> None:
    """Version 2 records when each SMS part reached us; parts stored before count from when
    they were taken in."""
    raw = database_of_version(db_path, 1)
    raw.execute(
        "INSERT INTO mo_parts (sender, reference, total, sequence, text, received_at) "
        "VALUES ('27821234567', 7, 2, 1, 'part one ', ?)",
        (T0,),
    )
    raw.commit()
    raw.close()
    store = SqliteStorage(db_path, clock=ManualClock(T0 + 60))
    try:
        assert store.mo_parts.first_arrival("27821234567", 7, 2) == datetime.fromtimestamp(T0, UTC)
        whole = store.mo_parts.add("27821234567", 7, 2, 2, "part two")
        assert whole == "part one part two"
        assert store.mo_parts.first_arrival("27821234567", 7, 2) == datetime.fromtimestamp(T0, UTC)
    finally:
        store.close()


def test_version_2_statuses_get_their_state_progress_and_words(db_path: Path) -> None:
    """Version 3 keeps each status in the shared vocabulary too. Rows stored before get it from
    their legacy code, exactly as `delivery_status` maps it today (the migration's frozen table
    must agree with the code table), and the forward-only rule then holds across the upgrade."""
    codes = [*sorted(STATUS_CODES), "099", None]
    raw = database_of_version(db_path, 2)
    raw.execute(
        "INSERT INTO sends (id, created_at, slack_user, channel, text, encoding, parts) "
        "VALUES (1, ?, 'U1', 'C1', 'hi', 'gsm7', 1)",
        (T0,),
    )
    raw.executemany(
        "INSERT INTO recipients (send_id, position, msisdn, climsgid, apimsgid, status) "
        "VALUES (1, ?, '27821111111', 'cli', ?, ?)",
        [(position, f"api-{position}", code) for position, code in enumerate(codes)],
    )
    raw.commit()
    raw.close()
    with SqliteStorage(db_path) as store:
        send = store.sends.get(1)
        assert send is not None
        for recipient, code in zip(send.recipients, codes, strict=True):
            if code is None:
                assert (recipient.state, recipient.status_words) == (None, None)
                continue
            expected = status(code)
            assert (recipient.status, recipient.state, recipient.status_words) == (
                code,
                expected.state,
                expected.words,
            )
        with store.database.read() as conn:
            progress = dict(conn.execute("SELECT status, status_progress FROM recipients"))
        assert progress == {code: status(code).progress for code in codes if code} | {None: None}
        delivered = send.recipients[sorted(STATUS_CODES).index("004")]
        assert not store.sends.update_status(delivered.id, status("003"))  # a late "sent"
        assert store.sends.update_status(send.recipients[-1].id, status("003"))  # no status yet
        unknown = send.recipients[codes.index("099")]
        assert unknown.state == DeliveryState.UNKNOWN
        assert store.sends.update_status(unknown.id, status("008"))


def test_a_version_4_database_gets_contact_owners_and_keeps_its_contacts(db_path: Path) -> None:
    """Version 5 remembers who set a contact; contacts saved before have no owner recorded."""
    raw = database_of_version(db_path, 4)
    raw.execute(
        "INSERT INTO contacts (name_key, name, msisdn, updated_at) "
        "VALUES ('bob', 'Bob', '27821111111', ?)",
        (T0,),
    )
    raw.commit()
    raw.close()
    with SqliteStorage(db_path) as store:
        bob = store.contacts.get("Bob")
        assert bob is not None and (bob.msisdn, bob.owner) == ("27821111111", None)
        store.contacts.save("Bob", "27822222222", owner="U0ALICE")
        assert store.contacts.get("bob").owner == "U0ALICE"  # type: ignore[union-attr]


def test_a_version_5_database_takes_todays_templates_groups_bulk_runs_and_slots(
    db_path: Path,
) -> None:
    """Versions 6 to 8 (templates and groups, a recipient's own text, bulk runs, time slots)
    applied to the database yesterday's sms-bot left: its sends keep their text for every
    recipient, and each new repository works at once."""
    raw = database_of_version(db_path, 5)
    raw.execute(
        "INSERT INTO sends (id, created_at, slack_user, channel, text, encoding, parts) "
        "VALUES (1, ?, 'U1', 'C1', 'hello', 'gsm7', 1)",
        (T0,),
    )
    raw.execute(
        "INSERT INTO recipients (send_id, position, msisdn, climsgid) "
        "VALUES (1, 0, '27821111111', 'cli1')"
    )
    raw.commit()
    raw.close()
    with SqliteStorage(db_path, clock=ManualClock(T0)) as store:
        send = store.sends.get(1)
        assert send is not None and send.text_for(send.recipients[0]) == "hello"
        store.templates.save("Reminder", "Hi {first_name}")
        store.groups.add("crew", ["27821111111"])
        assert store.templates.get("reminder").text == "Hi {first_name}"  # type: ignore[union-attr]
        assert store.groups.get("Crew").members == ("27821111111",)  # type: ignore[union-attr]
        assert store.bulks.get("nothing") is None and store.bulks.by_send(1) is None
        assert store.slots.take({"slack:C1": timedelta(seconds=1)}) is None  # free: taken
