"""The composition root: the one place that builds adapters and wires them, once per process.

`build_services(settings, ...)` opens storage, the Slack client, the gateway (the in-process
sandbox unless an account is configured), the work executor, the card publisher and the inbound
side, and returns them as one typed `Services`. The listeners receive it through a global Bolt
middleware (`context["services"]`), which keeps each listener group's `register(app)` signature as
in Slack's Bolt templates; `serve`, the console and the tests all build the app through here.

Gateway: the Clickatell Portal when CLICKATELL_API_KEY is set (`portal_sandbox`: the sandbox's
Platform mode instead, for the console and tests), the legacy account when CLICKATELL_API_ID is
set; otherwise the built-in sandbox, started in-process on a free loopback port, with its status
and inbound callbacks pointed at this app's /clickatell/status and /clickatell/mo and a generated
callback password (or, in Platform mode, a generated `?token=`), so the callback endpoints are
exercised exactly as in production.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from slack_sdk import WebClient

from bot.blocks.send_report import settled_message
from bot.config import Settings
from bot.domain.outbox import OutboxKind
from bot.domain.records import Send
from bot.executor import DEFAULT_WORKERS, LOCAL_WORKERS, Executor, Worker, WorkExecutor
from bot.gateway.base import Gateway
from bot.gateway.clickatell_http import (
    CallbackTarget,
    Login,
    SandboxServer,
    build_gateway,
    start_platform_sandbox,
    start_sandbox,
)
from bot.gateway.clickatell_platform import build_gateway as build_platform_gateway
from bot.inbound import Inbound, InboundDeps, Options
from bot.inbound.worker import LoopWorker
from bot.slack.cards import CardPublisher
from bot.slack.client import build_web_client
from bot.slack.home import HomeBoard
from bot.slack.pace import SlackPace
from bot.slack.references import SlackNames
from bot.storage import Storage, open_storage
from bot.usecases.bulk.worker import IDLE, BulkDriver
from bot.usecases.settling import DONE, SendSettler
from bot.when import zone_named

log = logging.getLogger(__name__)

STATUS_PATH, MO_PATH = "/clickatell/status", "/clickatell/mo"  # as bot.web serves them
SANDBOX_CALLBACK_USER = "sandbox"
SANDBOX_API_ID = "sandbox"
SANDBOX_LOGIN = "sandbox"  # the in-process sandbox's user and password (it is loopback-only)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What every handler may use, built by `build_services`. `settings` is the effective
    configuration: with the sandbox its callback credentials are the generated ones it uses."""

    settings: Settings
    storage: Storage
    gateway: Gateway
    slack: WebClient
    executor: Executor
    cards: CardPublisher
    pace: SlackPace  # Slack's per-channel pace, shared by replicas, for writes outside the outbox
    inbound: Inbound
    home: HomeBoard
    gateway_label: str  # "sandbox" or the gateway's base URL, for the start-up line
    gateway_api_id: str  # the api_id callbacks must carry
    # Work that needs no gateway (help, contacts, the log): never queued behind gateway calls.
    # The same as `executor` when one was given (the console counts every job it runs).
    local_executor: Executor | None = None
    clock: Callable[[], datetime] = utc_now
    sandbox: SandboxServer | None = None
    home_debounce: float = 5.0
    settler: Worker | None = None  # serve only: settles sends a crash cut off (usecases.settling)
    bulk_worker: Worker | None = None  # drives bulk runs (usecases.bulk.worker), when started
    _closed: bool = False

    @property
    def sandboxed(self) -> bool:
        return self.sandbox is not None or self.settings.uses_sandbox

    @property
    def quick(self) -> Executor:
        """Where work that needs no gateway runs."""
        return self.local_executor or self.executor

    @property
    def executors(self) -> list[Executor]:
        return [self.executor] + ([self.quick] if self.quick is not self.executor else [])

    @property
    def workers(self) -> list[Worker]:
        """The background workers: /healthz checks them, `close()` stops them."""
        return [
            *self.inbound.workers,
            self.home_worker,
            *([self.settler] if self.settler else []),
            *([self.bulk_worker] if self.bulk_worker else []),
        ]

    @property
    def home_worker(self) -> LoopWorker:
        return self._home_worker

    def __post_init__(self) -> None:
        self._home_worker = LoopWorker(
            "home-refresher", self.home.step, max_pause=max(self.home_debounce, 0.01)
        )
        self.inbound.on_change = self.home.changed

    def refresh_card(self, send_id: int) -> None:
        """Make the send's card show its latest stored state (coalesced, paced by the outbox)."""
        self.inbound.refresh_card(send_id)

    @property
    def names(self) -> SlackNames:
        """Names of people and channels (looked up once, remembered a while): what a Slack
        message's mentions become in the text a phone reads."""
        return self.inbound.relay.names

    def time_zone(self, user: str) -> tzinfo | None:
        """The Slack user's time zone (their profile's `tz`, looked up once and remembered a
        while); None when Slack cannot tell, and times are then read as UTC."""
        return zone_named(self.inbound.directory.time_zone(user)) if user else None

    def learn_time_zone(self, user: str) -> None:
        """Look the user's time zone up in the background (a compose form just opened), so
        reading its "Send at" field needs no Slack call before the 3-second acknowledgement."""
        if user:
            self.quick.submit(self.time_zone, user)

    def on_message_event(self, body: Mapping[str, Any]) -> None:
        """A `message` event's envelope (a thread reply to relay as SMS, perhaps)."""
        self.inbound.relay.handle_event(body)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details) for /healthz: the database answers, callbacks are being stored
        (a write still hanging since the database went away answers them 503 until it ends,
        so the replica is not ready for them even when a fresh connection works) and every
        worker is alive; `backlog` names channels where inbound posts queue up, `slack` says
        "ok" or "unreachable (…)", `channels_not_postable` names channels that refuse our
        posts (none of these fails the probe)."""
        database = bool(self.storage.healthy())
        storing = not self.inbound.writer.stuck()
        workers = {w.name: w.alive() for w in [*self.executors, *self.workers]}
        ok = database and storing and all(workers.values())
        details = {
            "database": database,
            "storing_callbacks": storing,
            "workers": workers,
            "gateway": self.gateway_label,
        }
        backlog = self.inbound.backlog.waiting()
        if backlog:  # degraded, not failing: posts wait for Slack's pacing, nothing is lost
            details["backlog"] = backlog
        # Slack unreachable, SMS_CHANNEL not postable: named, never failing the probe (a load
        # balancer must not drop every replica because Slack is down).
        details.update(self.inbound.slack_health.report(read_storage=database))
        return ok, details

    def close(self) -> None:
        """Stop workers, then the gateway client and sandbox, then the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _stop_all(reversed(self.workers))
        _stop_all(self.executors)
        _quietly(self.gateway.close)
        if self.sandbox is not None:
            _quietly(self.sandbox.stop)
        _quietly(self.storage.close)


def _stop_all(workers: Iterable[Worker]) -> None:
    for worker in workers:
        _quietly(worker.stop)


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:
        log.exception("error while shutting down")


@dataclass(frozen=True)
class _Gateway:
    settings: Settings  # effective: with the sandbox, its generated callback credentials
    client: Gateway
    label: str
    api_id: str
    sandbox: SandboxServer | None


def build_services(
    settings: Settings,
    *,
    public_url: str | None = None,
    storage: Storage | None = None,
    slack: WebClient | None = None,
    sandbox_options: Mapping[str, Any] | None = None,
    workers: int = DEFAULT_WORKERS,
    executor: Executor | None = None,
    clock: Callable[[], datetime] = utc_now,
    inbound_options: Options | None = None,
    serving: bool = False,
    portal_sandbox: bool = False,
) -> Services:
    """Build and start everything; `Services.close()` stops it all again.

    `serving`: this is the `serve` process, so the database is claimed for it first (SQLite: one
    serving process per file; a second fails here with StorageError, before anything else runs,
    so it frees none of the first one's claimed work).

    `public_url` is where this app's HTTP listener can be reached (default http://HOST:PORT); the
    sandbox sends its callbacks there. `sandbox_options` go to SandboxServer (tests: reply_delay,
    clock, balance ...), `inbound_options` to the inbound side (tests shorten its waits).
    `portal_sandbox`: with an API key, the sandbox's Platform mode instead of the Portal (the
    console's "try it without an account").
    """
    own_storage = storage is None
    if storage is None:
        storage = open_storage(settings.db_path, serving=serving)
    elif serving:
        storage.hold_for_serving()
    try:
        gateway = _open_gateway(settings, public_url, sandbox_options or {}, portal_sandbox)
    except Exception:
        if own_storage:
            storage.close()
        raise
    settings, slack = gateway.settings, slack or build_web_client(settings)
    options = inbound_options or Options()
    deps = InboundDeps(
        settings=settings,
        storage=storage,
        gateway=gateway.client,
        slack=slack,
        clock=clock,
        gateway_api_id=gateway.api_id,
        sandboxed=gateway.sandbox is not None or settings.uses_sandbox,
    )
    home = HomeBoard(
        settings,
        storage,
        gateway.client,
        slack,
        sandboxed=deps.sandboxed,
        clock=clock,
        debounce=options.home_debounce,
    )
    # The same per-channel interval as the outbox: both take the one slot per channel.
    pace = SlackPace(storage, clock, interval=options.timing.post_interval)
    services = Services(
        settings=settings,
        storage=storage,
        gateway=gateway.client,
        slack=slack,
        executor=executor or WorkExecutor(workers),
        local_executor=None if executor else WorkExecutor(LOCAL_WORKERS, name="local-executor"),
        cards=CardPublisher(storage, slack, pace),
        pace=pace,
        inbound=Inbound(deps, options),
        home=home,
        gateway_label=gateway.label,
        gateway_api_id=gateway.api_id,
        clock=clock,
        sandbox=gateway.sandbox,
        home_debounce=options.home_debounce,
    )
    if options.start:
        try:
            services.inbound.start()
            services.home_worker.start()
            services.bulk_worker = _start_bulk_worker(services)
            if serving:
                services.settler = _start_settler(services)
        except BaseException:
            services.close()
            raise
    return services


def _start_settler(services: Services) -> Worker:
    """Settle, in the background, the sends an earlier run left without an outcome: on SQLite
    this process holds the database alone, so nothing else is sending them now; on PostgreSQL
    the storage hands out only sends of instances that are gone (bot.usecases.settling)."""
    settler = SendSettler(
        services,
        started_at=services.clock(),
        quiet=timedelta(seconds=services.settings.clickatell_timeout),
        clock=services.clock,
        tell=lambda send, settled, sent, unknown: _tell_settled(
            services, send, settled, sent, unknown
        ),
    )
    return LoopWorker("send-settler", settler.step, max_pause=DONE).start()


def _start_bulk_worker(services: Services) -> Worker:
    """Drive the bulk runs: those started in Slack, scheduled ones when due, and any a stopped
    process left running (their rows' claims run out and are taken here)."""
    driver = BulkDriver(services, clock=services.clock)
    return LoopWorker("bulk-runner", driver.step, max_pause=IDLE).start()


def _tell_settled(services: Services, send: Send, settled: int, sent: int, unknown: int) -> None:
    message = settled_message(send.text, settled, sent, unknown)
    services.storage.outbox.enqueue(
        send.channel,
        OutboxKind.EPHEMERAL,
        {"user": send.slack_user, **message.as_kwargs()},
    )


def _open_gateway(
    settings: Settings,
    public_url: str | None,
    sandbox_options: Mapping[str, Any],
    portal_sandbox: bool = False,
) -> _Gateway:
    if settings.uses_portal:
        if portal_sandbox:
            url = public_url or _listener_url(settings)
            return _portal_sandbox_gateway(settings, url, sandbox_options)
        portal = build_platform_gateway(settings)
        kind = _KINDS[portal.integration.name]
        label = f"{settings.clickatell_base_url} (Clickatell Portal, {kind})"
        return _Gateway(settings, portal, label, "", None)
    if settings.uses_sandbox:
        url = public_url or _listener_url(settings)
        effective, sandbox, client = _sandbox_gateway(settings, url, sandbox_options)
        return _Gateway(effective, client, "sandbox", SANDBOX_API_ID, sandbox)
    client = build_gateway(settings, base_url=settings.clickatell_base_url)
    label, api_id = settings.clickatell_base_url, settings.clickatell_api_id or ""
    return _Gateway(settings, client, label, api_id, None)


_KINDS = {"one": "One API", "rest": "SMS REST", "http": "SMS HTTP"}


def _portal_sandbox_gateway(
    settings: Settings, public_url: str, options: Mapping[str, Any]
) -> _Gateway:
    """The sandbox in Platform mode for the configured key, its JSON callbacks carrying a
    `?token=` (the configured one, else a generated one) as the Portal's URLs would."""
    token = settings.callback_token or secrets.token_urlsafe(24)
    base = public_url.rstrip("/")
    status_url, mo_url = (f"{base}{path}?token={token}" for path in (STATUS_PATH, MO_PATH))
    sandbox = start_platform_sandbox(status_url, mo_url, settings.clickatell_api_key, options)
    try:
        gateway = build_platform_gateway(settings, base_url=sandbox.url)
    except Exception:
        sandbox.stop()
        raise
    effective = dataclasses.replace(settings, callback_token=token)
    return _Gateway(effective, gateway, "sandbox", "", sandbox)


def _listener_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def _sandbox_gateway(
    settings: Settings, public_url: str, options: Mapping[str, Any]
) -> tuple[Settings, SandboxServer, Gateway]:
    user = settings.callback_user or SANDBOX_CALLBACK_USER
    password = settings.callback_password or secrets.token_urlsafe(24)
    base = public_url.rstrip("/")
    login = Login(SANDBOX_API_ID, SANDBOX_LOGIN, SANDBOX_LOGIN)
    callbacks = CallbackTarget(f"{base}{STATUS_PATH}", f"{base}{MO_PATH}", user, password)
    sandbox = start_sandbox(callbacks, login, options)
    try:
        gateway = build_gateway(settings, base_url=sandbox.url, login=login)
    except Exception:
        sandbox.stop()
        raise
    effective = dataclasses.replace(settings, callback_user=user, callback_password=password)
    return effective, sandbox, gateway
