"""Fixtures of the inbound tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.testing.slack import FakeSlack
from tests.inbound.harness import InboundHarness
from tests.inbound.rig import Rig
from tests.support.slack_app import started_apps


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def rig(tmp_path: Path, slack: FakeSlack) -> Iterator[Rig]:
    built = Rig(tmp_path, slack)
    yield built
    built.close()


@pytest.fixture
def make_app(slack: FakeSlack, tmp_path: Path) -> Iterator[Callable[..., InboundHarness]]:
    yield from started_apps(InboundHarness, slack, tmp_path)


@pytest.fixture
def app(make_app: Callable[..., InboundHarness]) -> InboundHarness:
    return make_app()
