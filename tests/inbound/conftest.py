"""Fixtures of the inbound tests: the app with short waits and the sandbox's time moved by the
test (`INBOUND`), and a rig of the inbound pieces without HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.testing.app import INBOUND, AppOptions
from bot.testing.slack import FakeSlack
from tests.inbound.rig import Rig


@pytest.fixture
def app_options() -> AppOptions:
    return INBOUND


@pytest.fixture
def rig(tmp_path: Path, slack: FakeSlack) -> Iterator[Rig]:
    built = Rig(tmp_path, slack)
    yield built
    built.close()
