"""The real app, assembled for the console: the same services, Bolt app and WSGI app as `serve`,
served by waitress on a loopback port, with Slack replaced by the local stand-in.

Configuration: the console needs no Slack tokens. It makes up its own bot token, signing secret
and channel and points SLACK_API_URL at the stand-in, overriding whatever Slack settings exist
(`console_settings`); the gateway settings are kept, so the console uses the sandbox unless a
real Clickatell account is configured. The database is a fresh temporary file deleted at exit
(a console session never touches the production database), unless SMS_CONSOLE_DB names one.

`busy()` says what is still outstanding (commands on the work executor,
Slack posts in the outbox, callbacks in the inbox, gateway events due soon), so the console can
wait for the app to finish before it leaves.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bot.config import Settings
from bot.console.payloads import SlackRequest, User, Workspace
from bot.console.slack_standin import BOT_USER, SlackStandIn
from bot.executor import WorkExecutor
from bot.serve import Runtime as AppRuntime
from bot.when import local_zone

log = logging.getLogger(__name__)

CHANNEL = "C0CONSOLE"
CHANNEL_NAME = "sms"
CONSOLE_USER = User("U0CONSOLE", "you")
BOT_NAME = "sms-bot"
# A made-up token in the bot-token format: Slack is the stand-in, which accepts any token.
CONSOLE_BOT_TOKEN = "xoxb-console-local-standin"
SETTLE = 0.3  # idle this long, continuously, before the app counts as idle
ACTIVITY = "Slack activity"


def tries_portal(settings: Settings) -> bool:
    """An API key with no CLICKATELL_BASE_URL: the console tries the Portal's way with the
    sandbox in Platform mode, so no account is needed (a base URL given means a real one)."""
    return settings.uses_portal and not settings.clickatell_base_url_given


def console_settings(settings: Settings, *, api_url: str, db_path: str) -> Settings:
    """Slack settings replaced by the console's own; gateway settings kept. The console user may
    send and is an admin (so every command can be tried), beside whoever is configured."""
    allowed = settings.allowed_users | {CONSOLE_USER.id} if settings.allowed_users else frozenset()
    return dataclasses.replace(
        settings,
        slack_bot_token=CONSOLE_BOT_TOKEN,
        slack_signing_secret=secrets.token_hex(20),
        slack_app_token=None,
        slack_api_url=api_url,
        sms_channel=CHANNEL,
        db_path=db_path,
        host="127.0.0.1",
        port=0,
        allowed_users=allowed,
        admins=settings.admins | {CONSOLE_USER.id},
    )


class InFlight:
    """Counts work in progress (thread-safe)."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self, *_: object) -> None:
        with self._lock:
            self._count -= 1

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


class TrackedExecutor:
    """The services' work executor, counting the jobs not finished yet (the console waits for
    them before it leaves)."""

    name = WorkExecutor.name

    def __init__(self, inner: WorkExecutor):
        self._inner = inner
        self.in_flight = InFlight()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.in_flight.enter()
        try:
            future = self._inner.submit(fn, *args, **kwargs)
        except BaseException:
            self.in_flight.leave()
            raise
        future.add_done_callback(self.in_flight.leave)
        return future

    def alive(self) -> bool:
        return self._inner.alive()

    def stop(self) -> None:
        self._inner.stop()


@dataclass(frozen=True)
class Reply:
    """The app's HTTP answer to a request Slack would have sent."""

    status: int
    content_type: str
    body: bytes
    seconds: float

    def json(self) -> dict[str, Any] | None:
        import json

        if not self.body or "json" not in self.content_type:
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


class Runtime:
    """Everything started for one console session; `close()` stops it all.

    The app itself is `bot.serve.Runtime`, exactly what `sms-bot serve` runs (HTTP listener,
    services, inbound workers, Bolt app), on settings that point it at the stand-in.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        db_path: str | None = None,
        sandbox_options: dict[str, Any] | None = None,
        inbound_options: Any = None,
    ):
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        if db_path is None:
            self._temp = tempfile.TemporaryDirectory(prefix="sms-bot-console-")
            db_path = str(Path(self._temp.name) / "console.sqlite3")
        self.db_path = db_path
        zone = getattr(local_zone(), "key", None)  # the person at this keyboard: its clock
        self.standin = SlackStandIn(
            users={CONSOLE_USER.id: _profile(CONSOLE_USER.name)},
            time_zones={CONSOLE_USER.id: zone} if zone else {},
        ).start()
        self.workspace = Workspace(CHANNEL, CHANNEL_NAME)
        self.http = requests.Session()
        self.settings = console_settings(settings, api_url=self.standin.api_url, db_path=db_path)
        self._last_activity = time.monotonic()
        self.standin.subscribe(self._touch)
        self.app: Any = None
        try:
            self._start(sandbox_options or {}, inbound_options)
        except BaseException:
            self.close()
            raise

    def _start(self, sandbox_options: dict[str, Any], inbound_options: Any) -> None:
        # Count the work executor's jobs, so the console can wait for them.
        self.executor = TrackedExecutor(WorkExecutor())
        self.app = AppRuntime(
            self.settings,
            services_options={
                "sandbox_options": sandbox_options,
                "executor": self.executor,
                "portal_sandbox": tries_portal(self.settings),
            },
            http_threads=8,
            inbound_options=inbound_options,
        )
        self.services = self.app.services
        self.settings = self.services.settings

    def _touch(self, _: object) -> None:
        self._last_activity = time.monotonic()

    @property
    def url(self) -> str:
        return str(self.app.url)

    @property
    def sandboxed(self) -> bool:
        return bool(self.services.sandboxed)

    # -- talking to the app as Slack does -------------------------------------------------------
    def send(self, request: SlackRequest, timeout: float = 30.0) -> Reply:
        started = time.monotonic()
        self._touch(None)
        response = self.http.post(
            f"{self.url}/slack/events",
            data=request.body,
            headers=request.headers(self.settings.slack_signing_secret or ""),
            timeout=timeout,
        )
        self._touch(None)
        return Reply(
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.content,
            time.monotonic() - started,
        )

    # -- outstanding work -----------------------------------------------------------------------
    def busy(
        self, horizon: float = 10.0, *, gateway: bool = True, settle: float = SETTLE
    ) -> list[str]:
        """What is still going on; empty when the app has nothing left to do soon. Without
        `gateway`, what the gateway will report later (delivery reports, phone replies) does not
        count. Slack activity within the last `settle` seconds counts."""
        reasons: list[str] = []
        if self.executor.in_flight.count:
            reasons.append("commands in progress")
        storage = self.services.storage
        if storage.outbox.count():
            reasons.append("Slack posts in the outbox")
        if gateway and storage.inbox.unprocessed(limit=1):
            reasons.append("callbacks not processed yet")
        if gateway and _gateway_events_due(self.services.sandbox, horizon):
            reasons.append("sandbox gateway events (delivery reports, replies)")
        if time.monotonic() - self._last_activity < settle:
            reasons.append(ACTIVITY)
        return reasons

    def wait_idle(
        self, timeout: float, *, gateway: bool = True, settle: float = SETTLE
    ) -> list[str]:
        """Wait (at most `timeout` seconds) until nothing is outstanding for `settle` seconds in
        a row; returns what was still busy at the deadline (empty: idle). The quiet period
        covers the instants no counter sees: a callback on the wire, a Bolt listener between
        its acknowledgement and its hand-over to the work executor."""
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while True:
            now = time.monotonic()
            reasons = self.busy(max(0.0, deadline - now), gateway=gateway, settle=settle)
            if [r for r in reasons if r != ACTIVITY]:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            if not reasons and quiet_since is not None and now - quiet_since >= settle:
                return []
            if now >= deadline:
                return reasons
            pause.wait(0.02)

    def close(self) -> None:
        """Stop the app (its workers finish what they hold), then the stand-in."""
        if self.app is not None:
            _quietly(self.app.stop)
        _quietly(self.http.close)
        _quietly(self.standin.stop)
        if self._temp is not None:
            _quietly(self._temp.cleanup)


def _profile(name: str) -> dict[str, str]:
    return {"real_name": name, "display_name": name}


def _gateway_events_due(sandbox: Any, horizon: float) -> bool:
    """Whether the in-process sandbox has events (status changes, phone replies, callback
    retries) due within `horizon` seconds. False for a real gateway: its work is not ours."""
    if sandbox is None:
        return False
    pending = getattr(sandbox, "pending_events", None)
    if callable(pending):
        return bool(pending(horizon))
    scheduler = getattr(sandbox, "scheduler", None) or getattr(sandbox, "_scheduler", None)
    clock = getattr(sandbox, "clock", None) or getattr(sandbox, "_clock", None) or time.time
    if scheduler is None or not hasattr(scheduler, "pending"):
        return False
    limit = clock() + horizon
    return any(event.due <= limit for event in scheduler.pending())


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception:
        log.exception("error while stopping the console")


__all__ = [
    "BOT_NAME",
    "BOT_USER",
    "CHANNEL",
    "CHANNEL_NAME",
    "CONSOLE_USER",
    "Reply",
    "Runtime",
    "console_settings",
]
