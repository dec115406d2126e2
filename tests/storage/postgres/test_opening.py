"""PostgreSQL only: opening a database, migrating it once across replicas, and start-up errors
that name the database without ever printing its password."""

from __future__ import annotations

import pytest

from bot.storage import StorageError, StorageUnavailable, open_storage
from bot.storage.postgres import SCHEMA_VERSION, PostgresStorage
from bot.storage.postgres.errors import redact_url
from bot.testing.waiting import wait_for
from tests.storage.postgres.conftest import OpenStorage
from tests.storage.support import run_threads
from tests.support.postgres import PASSWORD, ThrowawayCluster, free_loopback_port, query


def applied_migrations(url: str) -> list[int]:
    found = query(url, "SELECT version FROM schema_migrations ORDER BY version")
    return [int(row[0]) for row in found]  # type: ignore[call-overload]


def test_both_url_schemes_open_postgres(postgres_url: str) -> None:
    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        with open_storage(url) as storage:
            assert isinstance(storage, PostgresStorage) and storage.healthy()
            assert PASSWORD not in storage.url


def test_replicas_starting_together_migrate_once(
    open_postgres: OpenStorage, postgres_url: str
) -> None:
    """Eight openers released at once on an empty database: each waits on the migration lock,
    one migrates, the others find nothing to do (without the lock, CREATE TABLE would collide)."""
    opened = run_threads(8, lambda _: open_postgres())
    assert all(storage.healthy() for storage in opened)  # type: ignore[attr-defined]
    assert applied_migrations(postgres_url) == list(range(1, SCHEMA_VERSION + 1))
    claimers = {storage.database.claimer for storage in opened}  # type: ignore[attr-defined]
    assert len(claimers) == 8  # every instance owns its claims under its own number


def test_newer_schema_is_refused(open_postgres: OpenStorage, postgres_url: str) -> None:
    open_postgres().close()
    query(postgres_url, "INSERT INTO schema_migrations (version) VALUES (99)")
    with pytest.raises(StorageError, match="newer") as refused:
        open_postgres()
    assert not isinstance(refused.value, StorageUnavailable)


def _refusal(url: str) -> StorageError:
    with pytest.raises(StorageError) as refused:
        PostgresStorage(url, connect_timeout=2)
    return refused.value


def _one_safe_line(error: StorageError, *secrets: str) -> str:
    text = str(error)
    assert "\n" not in text
    for secret in secrets:
        assert secret not in text and secret not in repr(error)
    return text


def test_a_wrong_password_is_a_setting_error_without_the_password(
    postgres_cluster: ThrowawayCluster, postgres_url: str
) -> None:
    wrong = "Wr0ng-Passw0rd-Zebra"
    error = _refusal(postgres_cluster.url(postgres_url.rsplit("/", 1)[1], password=wrong))
    text = _one_safe_line(error, wrong, PASSWORD)
    assert not isinstance(error, StorageUnavailable)  # waiting will not fix a password
    assert "password authentication failed" in text and "127.0.0.1" in text


def test_a_malformed_url_never_echoes_its_password(postgres_cluster: ThrowawayCluster) -> None:
    secret = "Hunter2%zzSecret"  # a bad percent escape: libpq quotes the token back
    error = _refusal(f"postgresql://bot:{secret}@127.0.0.1:{postgres_cluster.port}/db")
    _one_safe_line(error, secret, "Hunter2", "zzSecret")
    assert not isinstance(error, StorageUnavailable)


def test_a_missing_database_is_a_setting_error(postgres_cluster: ThrowawayCluster) -> None:
    error = _refusal(postgres_cluster.url("no_such_database"))
    text = _one_safe_line(error, PASSWORD)
    assert not isinstance(error, StorageUnavailable) and "no_such_database" in text


def test_a_refused_connection_is_unavailable() -> None:
    nobody_listens = f"postgresql://bot:{PASSWORD}@127.0.0.1:{free_loopback_port()}/db"
    error = _refusal(nobody_listens)
    assert isinstance(error, StorageUnavailable)  # the server may come: try again later
    _one_safe_line(error, PASSWORD)


def test_redacted_urls() -> None:
    assert redact_url("postgresql://u:p%40ss@db.example:6543/bot?sslmode=require") == (
        "postgresql://u@db.example:6543/bot"
    )
    assert redact_url("postgres://db/bot") == "postgres://db/bot"
    assert "secret" not in redact_url("postgresql://u:secret@host:notaport/db")


def test_closing_ends_this_instances_connections(
    open_postgres: OpenStorage, postgres_url: str
) -> None:
    storage = open_postgres()
    run_threads(6, lambda i: storage.claims.claim(f"k{i}"))
    assert sessions_on(postgres_url) >= 1
    storage.close()
    # A closed connection's server process ends a moment after the client hangs up.
    wait_for(lambda: sessions_on(postgres_url) == 0, what="the server to end our sessions")


def sessions_on(url: str) -> int:
    """Sessions on the test's database besides the one asking."""
    ((count,),) = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()",
    )
    return int(count)  # type: ignore[call-overload]


def test_text_with_nul_characters_is_stored(store: PostgresStorage) -> None:
    """PostgreSQL's text cannot hold NUL (SQLite's can): outside text that carries one is
    stored with U+FFFD instead, and a retried callback is still recognised."""
    assert store.inbox.store("mo", "id\x00junk", b"text=%00")
    assert not store.inbox.store("mo", "id\x00junk", b"text=%00")
    (item,) = store.inbox.unprocessed()
    assert item.unique_key == "id\ufffdjunk" and item.params == b"text=%00"
    assert store.mo_parts.add("27821111111", 1, 1, 1, "a\x00b") == "a\ufffdb"
