"""Fixtures of the Slack-side tests: a fake Slack Web API and the real app around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.testing.slack import FakeSlack
from tests.support.slack_app import AppHarness, started_apps


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def make_app(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Callable[..., AppHarness]]:
    """Start the app with extra environment / sandbox options; stopped after the test."""
    yield from started_apps(AppHarness, fake_slack, tmp_path)


@pytest.fixture
def app(make_app: Callable[..., AppHarness]) -> AppHarness:
    return make_app()
