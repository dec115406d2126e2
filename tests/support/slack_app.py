"""The real app, started as `sms-bot serve` starts it, for tests and benchmarks.

`AppHarness` runs `bot.serve.Runtime` (waitress on 127.0.0.1, port 0) with the bot's WebClient
pointed at a `FakeSlack`, the in-process sandbox gateway, and a temporary database; it sends
signed requests exactly as Slack does. `Gate` blocks the sandbox's replies until opened, to show
what happens while the gateway is slow without sleeping.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import requests

from bot.config import Settings, settings_from
from bot.serve import Runtime
from bot.slack.client import build_web_client
from tests.support.fake_slack import FakeSlack
from tests.support.signing import SlackRequest, slash_command

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1234-5678-test"
CHANNEL = "C0GENERAL"
ALERTS = "C0ALERTS"


def harness_settings(
    fake: FakeSlack, db_dir: Path, sms_channel: str, env: Mapping[str, str] | None = None
) -> Settings:
    """An app under test's settings: Slack is `fake`, the database lives in `db_dir`, the listener
    is 127.0.0.1 on a free port; `env` adds or overrides variables."""
    base = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "SMS_CHANNEL": sms_channel,
        "SMS_BOT_DB": str(db_dir / "sms-bot.sqlite3"),
        "HOST": "127.0.0.1",
        "PORT": "0",
    }
    return settings_from({**base, **(env or {})})


def post_signed(
    http: requests.Session,
    url: str,
    request: SlackRequest,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> requests.Response:
    """POST `request` to the app at `url` as Slack does: to /slack/events, signed with `secret`."""
    return http.post(
        f"{url}/slack/events",
        data=request.body,
        headers=request.headers(secret, timestamp),
        timeout=30,
    )


class _Stoppable(Protocol):
    def stop(self) -> None: ...


H = TypeVar("H", bound=_Stoppable)


def started_apps(
    start: Callable[..., H], fake: FakeSlack, tmp_path: Path
) -> Iterator[Callable[..., H]]:
    """The body of a `make_app` fixture: yields `make(**options)`, which starts `start(fake,
    <its own directory>, **options)`; every app started is stopped (newest first) afterwards."""
    started: list[H] = []

    def make(**options: Any) -> H:
        directory = tmp_path / f"app{len(started)}"
        directory.mkdir()
        harness = start(fake, directory, **options)
        started.append(harness)
        return harness

    yield make
    for harness in reversed(started):
        harness.stop()


class Gate:
    """A sandbox `sleep` that holds every gateway reply until `open()`; `waiting` counts the
    replies held so far."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self._count = itertools.count(1)
        self.waiting = 0
        self.held: list[threading.Thread] = []

    def sleep(self, seconds: float) -> None:
        self.waiting = next(self._count)
        self.held.append(threading.current_thread())
        self.opened.wait(30)

    def open(self) -> None:
        self.opened.set()

    def drain(self, timeout: float = 10.0) -> None:
        """Open, and wait until every held reply has been written (or failed to be)."""
        self.open()
        for thread in self.held:
            thread.join(timeout)

    def close(self) -> None:
        self.opened.clear()


class AppHarness:
    def __init__(
        self,
        fake: FakeSlack,
        db_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        sandbox_options: Mapping[str, Any] | None = None,
        workers: int = 32,
        http_threads: int = 16,
        portal_sandbox: bool = False,  # with CLICKATELL_API_KEY: the sandbox's Platform mode
    ):
        self.fake = fake
        self.settings = harness_settings(fake, db_dir, ALERTS, env)
        self.slack_sleeps: list[float] = []
        slack = build_web_client(self.settings, sleep=self.slack_sleeps.append, backoff=0.0)
        self.runtime = Runtime(
            self.settings,
            services_options={
                "slack": slack,
                "sandbox_options": dict(sandbox_options or {}),
                "workers": workers,
                "portal_sandbox": portal_sandbox,
            },
            http_threads=http_threads,
        )
        self.services = self.runtime.services
        self.sandbox = self.services.sandbox
        self.http = requests.Session()
        self._triggers = itertools.count(1)
        self._stopped = False

    @property
    def url(self) -> str:
        return self.runtime.url

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.http.close()
        self.runtime.stop()

    def post(
        self, request: SlackRequest, *, secret: str = SECRET, timestamp: int | None = None
    ) -> requests.Response:
        return post_signed(self.http, self.url, request, secret=secret, timestamp=timestamp)

    def command(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
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

    def responses(self, name: str) -> list[dict[str, Any]]:
        """What the command's response_url received (respond() calls), in order."""
        return [c.params for c in self.fake.calls_to("response_url") if c.path.endswith(name)]

    def wait_response(self, name: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        calls = self.fake.wait_for_call(
            "response_url", lambda c: c.path.endswith("/" + name), timeout=timeout, count=count
        )
        return calls[count - 1].params
