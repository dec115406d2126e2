"""Fixtures of the fault tests: the app with short waits and the sandbox's time moved by the
test (`INBOUND`); a test passes its faults as options (`make_app(storage_factory=...)`)."""

from __future__ import annotations

import pytest

from bot.testing.app import INBOUND, AppOptions


@pytest.fixture
def app_options() -> AppOptions:
    return INBOUND
