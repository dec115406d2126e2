"""The real app for the fault tests: `InboundHarness` (Runtime on 127.0.0.1, the in-process sandbox
on a fake clock, the bot's WebClient pointed at a fake Slack, FAST outbox timings) with the seams
the faults need: a storage of the test's choosing, the services' clock, and sandbox options.

A `ManualClock` (bot/testing/clocks.py) is an injected wall clock for the app's own workers and
its storage (which must share it: the outbox compares the times storage stamps with the
workers' now): with `Options(start=False)` nothing runs in the background and a test drives the
inbox processor and the Slack outbox itself, so every step happens exactly when it says.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bot.inbound import Options
from bot.serve import Runtime
from bot.services import build_web_client
from bot.testing.clocks import ManualClock
from bot.testing.slack import FakeSlack
from tests.inbound.harness import FAST, SMS_CHANNEL, InboundHarness
from tests.support.slack_app import harness_settings

__all__ = ["FAST", "FaultApp"]


class FaultApp(InboundHarness):
    """`InboundHarness` plus `storage_factory` (build the app's Storage: a fault-injecting one),
    `clock` (the services' clock) and extra `sandbox_options`."""

    def __init__(
        self,
        fake: FakeSlack,
        db_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        options: Options = FAST,
        storage_factory: Callable[[Path], Any] | None = None,
        clock: Callable[[], datetime] | None = None,
        sandbox_options: Mapping[str, Any] | None = None,
    ):
        self.fake = fake
        self.settings = harness_settings(fake, db_dir, SMS_CHANNEL, env)
        self.clock = ManualClock.from_wall_clock()  # the sandbox's, as in InboundHarness
        services_options: dict[str, Any] = {
            "slack": build_web_client(self.settings, sleep=lambda _s: None, backoff=0.0),
            "sandbox_options": {"clock": self.clock, **(sandbox_options or {})},
        }
        if storage_factory is not None:
            services_options["storage"] = storage_factory(Path(self.settings.db_path))
        if clock is not None:
            services_options["clock"] = clock
        self.runtime = Runtime(
            self.settings, services_options=services_options, inbound_options=options
        )
        self.services = self.runtime.services
        self.storage = self.services.storage
        self.sandbox = self.services.sandbox
        self.inbound = self.services.inbound
        self.http = requests.Session()
        self._ids = itertools.count(1)
