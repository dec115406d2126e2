"""The pytest side of the throwaway PostgreSQL cluster (tests/support/postgres.py).

`postgres_cluster` starts one server for the whole session, lazily: a run that needs no
PostgreSQL starts none. `postgres_url` gives each test a database of its own, dropped after.
Without server binaries those tests skip, and the session ends with a loud line saying how many
and how to install the server; with CI=true they fail instead, so CI never passes green with
PostgreSQL untested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.postgres import ClusterUnavailable, ThrowawayCluster

SKIP_MARK = "PostgreSQL tests need a server"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[ThrowawayCluster]:
    try:
        cluster = ThrowawayCluster()
    except ClusterUnavailable as exc:
        if _in_ci():
            pytest.fail(f"CI=true and {exc}", pytrace=False)
        pytest.skip(f"{SKIP_MARK}: {exc}")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def postgres_url(postgres_cluster: ThrowawayCluster) -> Iterator[str]:
    """The URL of a new, empty database (password included), dropped after the test."""
    if not postgres_cluster.running:  # a test that stopped the server failed to restart it
        postgres_cluster.start()
    name = postgres_cluster.create_database()
    yield postgres_cluster.url(name)
    if not postgres_cluster.running:
        postgres_cluster.start()
    postgres_cluster.drop_database(name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if SKIP_MARK in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_sep(
            "!",
            f"{len(skipped)} PostgreSQL tests SKIPPED: no server binaries. "
            "Install the PostgreSQL 15 server (apt-get install postgresql-15) to run them",
            red=True,
            bold=True,
        )
