"""Fixtures of the abuse and security tests: a fake Slack, the real app, an error recorder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.testing.slack import FakeSlack
from tests.inbound.harness import InboundHarness
from tests.security.support import ErrorLog, start_app


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def make_app(slack: FakeSlack, tmp_path: Path) -> Iterator[Callable[..., InboundHarness]]:
    """Start the app with extra environment variables; stopped after the test."""
    started: list[InboundHarness] = []

    def start(**env: Any) -> InboundHarness:
        harness = start_app(slack, tmp_path / f"app{len(started)}", **env)
        started.append(harness)
        return harness

    yield start
    for harness in reversed(started):
        harness.stop()


@pytest.fixture
def app(make_app: Callable[..., InboundHarness]) -> InboundHarness:
    return make_app()


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    with ErrorLog().installed() as recorder:
        yield recorder
