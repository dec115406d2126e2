"""Fixtures of the fault tests: a fake Slack with history (the outbox's exactly-once lookups) and
the real app around it, stopped after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.testing.slack import FakeSlack
from tests.faults.harness import FaultApp
from tests.support.slack_app import started_apps


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def make_app(slack: FakeSlack, tmp_path: Path) -> Iterator[Callable[..., FaultApp]]:
    yield from started_apps(FaultApp, slack, tmp_path)
