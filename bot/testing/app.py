"""The real app under test, started the one way tests and benchmarks start it.

`RunningApp(fake, directory, options)` runs `bot.serve.Runtime` — exactly what `sms-bot serve`
runs: waitress on 127.0.0.1 (port 0), the services, the inbound workers, the Bolt app — with the
bot's WebClient pointed at a `FakeSlack` (its retries recorded in `slack_sleeps`, not slept), its
database in `directory`, and the built-in sandbox as gateway (started by the app itself, its
callbacks pointed at the app's endpoints) unless `options.env` configures a real one. It sends
signed requests exactly as Slack does.

`AppOptions` holds everything that differs between suites, and nothing else: the environment,
the SMS channel, the inbound timings, the sandbox's options and clock (and, with an API key,
whether it runs in Platform mode), and the seams for faults
(a storage of the test's choosing, the services' clock). `ServedApp` (bot/testing/process.py)
runs the same configuration as a `python -m bot serve` subprocess, for tests that must kill the
process or benchmarks that measure its memory. The presets: `SLACK_SIDE` (the product's
timings), `INBOUND` (short waits, the sandbox's time moved only by `advance()`), `QUIET`
(`INBOUND` without the low-balance watcher, so the gateway sees only what a test causes).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bot.config import settings_from
from bot.executor import DEFAULT_WORKERS
from bot.inbound import Options
from bot.inbound.outbox import Timing
from bot.serve import HTTP_THREADS, Runtime
from bot.slack.client import build_web_client
from bot.testing.clocks import ManualClock
from bot.testing.signing import (
    CHANNEL,
    SECRET,
    USER,
    SlackRequest,
    event_callback,
    post_signed,
    slash_command,
)
from bot.testing.slack import FakeSlack
from bot.testing.state import AppState
from bot.testing.waiting import wait_for

BOT_TOKEN = "xoxb-1234-5678-test"
ALERTS = "C0ALERTS"  # SMS_CHANNEL of the Slack-side tests (alerts only)
SMS_CHANNEL = "C0SMS"  # SMS_CHANNEL of the inbound tests (SMS from unknown phones)
DATABASE = "sms-bot.sqlite3"

# Inbound waits shortened: Slack writes and card updates as fast as they come, quick retries.
FAST = Options(
    timing=Timing(post_interval=0.0, card_interval=0.0, backoff=0.01, max_backoff=0.05, idle=0.02),
    balance_interval=3600.0,
)


@dataclass(frozen=True)
class AppOptions:
    """How the app under test differs from a default `sms-bot serve` on the fake Slack."""

    env: Mapping[str, str] = field(default_factory=dict)  # added to / overriding the settings
    sms_channel: str = ALERTS
    inbound: Options | None = None  # bot.inbound.Options; None: the product's
    sandbox_options: Mapping[str, Any] = field(default_factory=dict)  # for SandboxServer
    frozen_gateway_clock: bool = False  # the sandbox's time moves only by `advance()`
    storage_factory: Callable[[Path], Any] | None = None  # build the app's Storage (faults)
    clock: Callable[[], datetime] | None = None  # the services' clock (aware UTC)
    workers: int = DEFAULT_WORKERS
    http_threads: int = HTTP_THREADS
    portal_sandbox: bool = False  # with CLICKATELL_API_KEY: the sandbox's Platform mode

    def environment(self, slack_api_url: str, directory: Path) -> dict[str, str]:
        """The app's settings as environment variables: Slack is at `slack_api_url`, the
        database in `directory`, the listener 127.0.0.1 on a free port; `env` on top."""
        base = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack_api_url,
            "SMS_CHANNEL": self.sms_channel,
            "SMS_BOT_DB": str(database_path(directory)),
            "HOST": "127.0.0.1",
            "PORT": "0",
        }
        return {**base, **self.env}

    def in_process_only(self) -> list[str]:
        """The options set here that only an app in this process can take (objects, not
        settings): a subprocess refuses them rather than silently ignoring them."""
        default = AppOptions()
        names = ("inbound", "sandbox_options", "frozen_gateway_clock", "storage_factory", "clock")
        names += ("workers", "http_threads", "portal_sandbox")
        return [name for name in names if getattr(self, name) != getattr(default, name)]


SLACK_SIDE = AppOptions()
INBOUND = AppOptions(sms_channel=SMS_CHANNEL, inbound=FAST, frozen_gateway_clock=True)
QUIET = dataclasses.replace(INBOUND, inbound=dataclasses.replace(FAST, low_balance=0.0))


def database_path(directory: Path) -> Path:
    """Where the app started in `directory` keeps its database."""
    return directory / DATABASE


class RunningApp:
    """The app, started in this process; `stop()` stops it (idempotent)."""

    def __init__(self, fake: FakeSlack, directory: Path, options: AppOptions = SLACK_SIDE):
        self.fake = fake
        self.options = options
        self.settings = settings_from(options.environment(fake.api_url, directory))
        self.slack_sleeps: list[float] = []
        self.gateway_clock = ManualClock.from_wall_clock() if options.frozen_gateway_clock else None
        self.runtime = Runtime(
            self.settings,
            services_options=self._services_options(),
            inbound_options=options.inbound,
            http_threads=options.http_threads,
        )
        self.services = self.runtime.services
        self.storage = self.services.storage
        self.sandbox = self.services.sandbox
        self.inbound = self.services.inbound
        self.state = AppState(self.storage)
        self.http = requests.Session()
        self._triggers = itertools.count(1)
        self._ids = itertools.count(1)
        self._stopped = False

    def _services_options(self) -> dict[str, Any]:
        options = self.options
        sandbox = dict(options.sandbox_options)
        if self.gateway_clock is not None:
            sandbox = {"clock": self.gateway_clock, **sandbox}
        slack = build_web_client(self.settings, sleep=self.slack_sleeps.append, backoff=0.0)
        built: dict[str, Any] = {
            "slack": slack,
            "sandbox_options": sandbox,
            "workers": options.workers,
            "portal_sandbox": options.portal_sandbox,
        }
        if options.storage_factory is not None:
            built["storage"] = options.storage_factory(Path(self.settings.db_path))
        if options.clock is not None:
            built["clock"] = options.clock
        return built

    @property
    def url(self) -> str:
        return self.runtime.url

    @property
    def callback_auth(self) -> tuple[str, str]:
        """The basic credentials the app's callback endpoints take (generated for the sandbox)."""
        return self.services.settings.callback_user, self.services.settings.callback_password

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.http.close()
        self.runtime.stop()

    def advance(self, seconds: float) -> None:
        """Move the sandbox's time; its due reports and replies are sent (synchronously)."""
        self.sandbox.advance(seconds)

    # -- Slack traffic --------------------------------------------------------------------------
    def post(
        self, request: SlackRequest, *, secret: str = SECRET, timestamp: int | None = None
    ) -> requests.Response:
        return post_signed(self.http, self.url, request, secret=secret, timestamp=timestamp)

    def command(
        self,
        text: str,
        *,
        user: str = USER,
        channel: str = CHANNEL,
        trigger_id: str | None = None,
    ) -> tuple[requests.Response, str]:
        """Type `/sms TEXT`; returns the acknowledgement and the response_url's name."""
        trigger = trigger_id or f"trigger{next(self._triggers)}.{id(self)}"
        name = trigger.replace(".", "-")
        request = slash_command(
            text,
            user_id=user,
            channel_id=channel,
            trigger_id=trigger,
            response_url=self.fake.response_url(name),
        )
        return self.post(request), name

    def send(self, text: str, *, user: str = USER, channel: str = CHANNEL) -> dict[str, Any]:
        """Type `/sms send ...` and wait for its card; returns the card's postMessage params."""
        before = len(self.fake.posts(channel))
        answer, _ = self.command(
            text, user=user, channel=channel, trigger_id=f"trigger{next(self._ids)}"
        )
        assert answer.status_code == 200
        posts = wait_for(
            lambda: self.fake.posts(channel)[before:] or None, what=f"the card of /sms {text}"
        )
        return posts[0]

    def reply_in_thread(
        self,
        text: str,
        thread_ts: str,
        *,
        user: str = USER,
        channel: str = CHANNEL,
        ts: str | None = None,
        event_id: str | None = None,
        **extra: Any,
    ) -> tuple[requests.Response, str]:
        """A person's reply in a thread, as the Events API delivers it; returns its ts."""
        ts = ts or f"1800000000.{next(self._ids):06d}"
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "channel_type": "channel",
            **extra,
        }
        request = event_callback(event, event_id=event_id or f"Ev{next(self._ids):06d}")
        return self.post(request), ts

    def event(self, event: dict[str, Any]) -> requests.Response:
        return self.post(event_callback(event, event_id=f"Ev{next(self._ids):06d}"))

    # -- what Slack shows -----------------------------------------------------------------------
    def responses(self, name: str) -> list[dict[str, Any]]:
        """What the command's response_url received (respond() calls), in order."""
        return [c.params for c in self.fake.calls_to("response_url") if c.path.endswith(name)]

    def wait_response(self, name: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        calls = self.fake.wait_for_call(
            "response_url", lambda c: c.path.endswith("/" + name), timeout=timeout, count=count
        )
        return calls[count - 1].params

    def card_ts(self, channel: str = CHANNEL) -> str:
        """The ts of the newest card in a channel (the fake numbers messages in order)."""
        return max(ts for (ch, ts) in self.fake.messages if ch == channel)

    def card_text(self, channel: str, ts: str) -> str:
        return json.dumps(self.fake.message(channel, ts), ensure_ascii=False)

    def wait_idle(self) -> None:
        """Every stored callback processed and every outbox item sent."""
        wait_for(self.state.idle, what="the inbox and outbox to drain")


def started_apps(
    fake: FakeSlack, tmp_path: Path, options: AppOptions
) -> Iterator[Callable[..., RunningApp]]:
    """The body of a `make_app` fixture: yields `make(**overrides)`, which starts the app with
    `options` changed by `overrides` (AppOptions fields) in a directory of its own; every app
    started is stopped (newest first) afterwards."""
    started: list[RunningApp] = []

    def make(**overrides: Any) -> RunningApp:
        directory = tmp_path / f"app{len(started)}"
        directory.mkdir()
        app = RunningApp(fake, directory, dataclasses.replace(options, **overrides))
        started.append(app)
        return app

    yield make
    for app in reversed(started):
        app.stop()


@contextmanager
def running_app(directory: Path, options: AppOptions = QUIET) -> Iterator[RunningApp]:
    """A started app with its own fake Slack, stopped (and the fake closed) afterwards: for
    module-scoped fixtures, which cannot use a test's fake."""
    directory.mkdir(parents=True, exist_ok=True)
    with FakeSlack() as fake:
        app = RunningApp(fake, directory, options)
        try:
            yield app
        finally:
            app.stop()
