"""Fixtures of the Slack-side tests: a fake Slack Web API and the real app around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_slack import FakeSlack
from tests.support.slack_app import AppHarness


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def make_app(fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Callable[..., AppHarness]]:
    """Start the app with extra environment / sandbox options; stopped after the test."""
    started: list[AppHarness] = []

    def start(**options: Any) -> AppHarness:
        directory = tmp_path / f"app{len(started)}"
        directory.mkdir()
        harness = AppHarness(fake_slack, directory, **options)
        started.append(harness)
        return harness

    yield start
    for harness in reversed(started):
        harness.stop()


@pytest.fixture
def app(make_app: Callable[..., AppHarness]) -> AppHarness:
    return make_app()
