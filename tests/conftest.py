"""Suite-wide settings.

Hypothesis runs derandomized and without its example database so that CI and a developer's
machine see the same examples; no deadline, because a loaded 2-core CI box must not turn a
slow example into a failure (speed is measured in bench/, never asserted in tests).
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from bot.testing.app import SLACK_SIDE, AppOptions, RunningApp, started_apps
from bot.testing.slack import FakeSlack

# The throwaway PostgreSQL cluster (fixtures, and the summary line when it had to be skipped).
pytest_plugins = ["tests.support.postgres_plugin"]

settings.register_profile(
    "sms-bot",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("sms-bot")


# --------------------------------------------------------------------------- the app under test
# One way to start it (bot/testing/app.py); each directory's conftest says how its tests want it
# (`app_options`), and a test module may replace the fake Slack (`slack`).


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def app_options() -> AppOptions:
    return SLACK_SIDE


@pytest.fixture
def make_app(
    slack: FakeSlack, tmp_path: Path, app_options: AppOptions
) -> Iterator[Callable[..., RunningApp]]:
    """Start the app, `app_options` changed by keyword (AppOptions fields); stopped after the
    test."""
    yield from started_apps(slack, tmp_path, app_options)


@pytest.fixture
def app(make_app: Callable[..., RunningApp]) -> RunningApp:
    return make_app()
