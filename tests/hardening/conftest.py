"""Fixtures of the hardening tests: a fake Slack and the real app on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.support import (
    ErrorLog,
    FaultApp,
    HistorySlack,
    InboundHarness,
    start_app,
    started_apps,
)


@pytest.fixture
def slack() -> Iterator[HistorySlack]:
    with HistorySlack() as fake:
        yield fake


@pytest.fixture
def make_app(slack: HistorySlack, tmp_path: Path) -> Iterator[Callable[..., InboundHarness]]:
    """Start the real app with extra environment variables; stopped after the test."""
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


@pytest.fixture
def make_fault_app(slack: HistorySlack, tmp_path: Path) -> Iterator[Callable[..., FaultApp]]:
    """Start the real app with a storage of the test's choosing (`storage_factory`)."""
    directory = tmp_path / "faults"
    directory.mkdir()
    yield from started_apps(FaultApp, slack, directory)
