"""Fixtures of the abuse and security tests: the app with short waits and no low-balance
watcher (`QUIET`: the gateway sees only the requests a test causes), an error recorder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.testing.app import QUIET, AppOptions
from tests.security.support import ErrorLog


@pytest.fixture
def app_options() -> AppOptions:
    return QUIET


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    with ErrorLog().installed() as recorder:
        yield recorder
