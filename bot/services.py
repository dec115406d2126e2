"""Everything the Slack handlers need, built once per process: `build_services(settings, ...)`.

The listeners receive these through a global Bolt middleware (`context["services"]`), which keeps
each listener group's `register(app)` signature as in Slack's Bolt templates.

Gateway: the real account when CLICKATELL_API_ID is set; otherwise the built-in sandbox, started
in-process on a free loopback port, with its status and inbound callbacks pointed at this app's
/clickatell/status and /clickatell/mo and a generated callback password (so the callback endpoints
are exercised exactly as in production).

Slow work (every gateway call, every Slack Web API call made on behalf of a command) runs on the
`WorkExecutor`, never on Bolt's listener threads: Bolt has five of them, and they must stay free
to acknowledge within Slack's 3 seconds whatever the gateway does.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.config import Settings
from bot.gateway.base import Gateway
from bot.gateway.clickatell_http import (
    CallbackTarget,
    Login,
    build_gateway,
    start_sandbox,
)

log = logging.getLogger(__name__)

SANDBOX_CALLBACK_USER = "sandbox"
SANDBOX_API_ID = "sandbox"
SANDBOX_LOGIN = "sandbox"  # the in-process sandbox's user and password (it is loopback-only)
DEFAULT_WORKERS = 32


class Worker(Protocol):
    """A background worker the process depends on (health) and stops on close."""

    name: str

    def alive(self) -> bool: ...

    def stop(self) -> None: ...


class WorkExecutor:
    """A dedicated pool for slow work: gateway calls and Web API calls after an acknowledgement.

    Failures are logged (a submitted job has nobody waiting on its Future). Gateway calls are
    I/O-bound, so the pool is larger than Bolt's: a slow gateway must not queue every send behind
    a handful of threads.
    """

    name = "work-executor"

    def __init__(self, max_workers: int = DEFAULT_WORKERS):
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sms-work")
        self._closed = threading.Event()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(_log_failure)
        return future

    def alive(self) -> bool:
        return not self._closed.is_set()

    def stop(self) -> None:
        """Finish the work already accepted (every acknowledged command completes), then stop."""
        self._closed.set()
        self._pool.shutdown(wait=True)


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        error = future.exception()
        log.error("background job failed", exc_info=(type(error), error, error.__traceback__))


# --------------------------------------------------------------------------- Slack Web API


class _InjectedSleep:
    """Retry handlers of slack_sdk sleep with time.sleep; tests and the console inject theirs."""

    sleep: Callable[[float], None] = time.sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.sleep(self.delay(state, response, error))
        state.increment_current_attempt()

    def delay(self, state: RetryState, response: HttpResponse | None, error: Any) -> float:
        return self.interval_calculator.calculate_sleep_duration(state.current_attempt)  # type: ignore[attr-defined]


class RateLimitRetry(_InjectedSleep, RateLimitErrorRetryHandler):
    """429: wait what Retry-After says (1 s when absent), as Slack asks."""

    def delay(self, state: RetryState, response: HttpResponse | None, error: Any) -> float:
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        value = headers.get("retry-after", ["1"])
        raw = value[0] if isinstance(value, list) else value
        try:
            return max(0.0, float(raw))
        except (TypeError, ValueError):
            return 1.0


class ServerErrorRetry(_InjectedSleep, ServerErrorRetryHandler):
    """500/503: back off and try again."""


class ConnectionErrorRetry(_InjectedSleep, ConnectionErrorRetryHandler):
    """Connection reset/refused: back off and try again."""


def slack_retry_handlers(
    *, sleep: Callable[[float], None] = time.sleep, backoff: float = 0.5, retries: int = 2
) -> list[RetryHandler]:
    calculator = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    handlers: list[Any] = [
        RateLimitRetry(max_retry_count=retries),
        ServerErrorRetry(max_retry_count=retries, interval_calculator=calculator),
        ConnectionErrorRetry(max_retry_count=retries, interval_calculator=calculator),
    ]
    for handler in handlers:
        handler.sleep = sleep
    return handlers


def build_web_client(
    settings: Settings, *, sleep: Callable[[float], None] = time.sleep, backoff: float = 0.5
) -> WebClient:
    base_url = settings.slack_api_url
    if not base_url.endswith("/"):
        base_url += "/"
    return WebClient(
        token=settings.slack_bot_token,
        base_url=base_url,
        timeout=10,
        retry_handlers=slack_retry_handlers(sleep=sleep, backoff=backoff),
    )


# --------------------------------------------------------------------------- services


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What every handler may use. `settings` is the effective configuration: with the sandbox
    its callback credentials are the generated ones the sandbox uses.

    Seams for the inbound work (issue 4), all optional:
    - `workers`: background workers (inbox processor, outbox sender); /healthz checks them and
      `close()` stops them (in reverse order, before the gateway and the database).
    - `on_message_event`: called on the work executor with the Events API envelope (`event`,
      `event_id`, ...) of every `message` event (thread replies to relay); None ignores them.
    - `refresh_card`: called with a send id whenever its card must show the latest state from
      storage; the default (`bot.listeners.cards.CardPublisher.refresh`) updates it directly,
      the inbound work may replace it with its coalescing outbox.
    """

    settings: Settings
    storage: Any  # bot.storage.Storage
    gateway: Gateway
    slack: WebClient
    executor: WorkExecutor
    gateway_label: str  # "sandbox" or the gateway's base URL, for the start-up line
    gateway_api_id: str  # the api_id callbacks must carry
    clock: Callable[[], datetime] = utc_now
    sandbox: Any = None  # the in-process SandboxServer when the sandbox is in use
    workers: list[Worker] = field(default_factory=list)
    on_message_event: Callable[[Mapping[str, Any]], None] | None = None
    refresh_card: Callable[[int], None] | None = None
    inbound: Any = None  # bot.inbound.Inbound once installed (it routes the callbacks)
    cards: Any = None  # bot.listeners.cards.CardPublisher (installed by build_services)
    _closed: bool = False

    @property
    def sandboxed(self) -> bool:
        return self.sandbox is not None or self.settings.uses_sandbox

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, details) for /healthz: the database answers and every worker is alive."""
        database = bool(self.storage.healthy())
        workers = {w.name: w.alive() for w in [self.executor, *self.workers]}
        ok = database and all(workers.values())
        return ok, {"database": database, "workers": workers, "gateway": self.gateway_label}

    def close(self) -> None:
        """Stop workers, then the gateway client and sandbox, then the database. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for worker in reversed(self.workers):
            _quietly(worker.stop)
        _quietly(self.executor.stop)
        _quietly(self.gateway.close)
        if self.sandbox is not None:
            _quietly(self.sandbox.stop)
        _quietly(self.storage.close)


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception:
        log.exception("error while shutting down")


def build_services(
    settings: Settings,
    *,
    public_url: str | None = None,
    storage: Any = None,
    slack: WebClient | None = None,
    sandbox_options: Mapping[str, Any] | None = None,
    workers: int = DEFAULT_WORKERS,
    clock: Callable[[], datetime] = utc_now,
) -> Services:
    """Build storage, the Slack client, the gateway (sandbox unless configured) and the executor.

    `public_url` is where this app's HTTP listener can be reached (default http://HOST:PORT); the
    sandbox sends its callbacks there. `sandbox_options` go to SandboxServer (tests: reply_delay,
    clock, balance ...). Everything started here is stopped by `Services.close()`.
    """
    from bot.storage import Storage

    own_storage = storage is None
    storage = Storage(settings.db_path) if own_storage else storage
    try:
        if settings.uses_sandbox:
            settings, sandbox, gateway = _sandbox_gateway(
                settings, public_url or _listener_url(settings), sandbox_options or {}
            )
            label, api_id = "sandbox", SANDBOX_API_ID
        else:
            sandbox, gateway = None, _gateway_client(settings, settings.clickatell_base_url)
            label, api_id = settings.clickatell_base_url, settings.clickatell_api_id or ""
    except Exception:
        if own_storage:
            storage.close()
        raise
    services = Services(
        settings=settings,
        storage=storage,
        gateway=gateway,
        slack=slack or build_web_client(settings),
        executor=WorkExecutor(workers),
        gateway_label=label,
        gateway_api_id=api_id,
        clock=clock,
        sandbox=sandbox,
    )
    from bot.listeners import cards

    cards.install(services)
    return services


def _listener_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def _gateway_client(settings: Settings, base_url: str, login: Login | None = None) -> Gateway:
    return build_gateway(settings, base_url=base_url, login=login)


def _sandbox_gateway(
    settings: Settings, public_url: str, options: Mapping[str, Any]
) -> tuple[Settings, Any, Gateway]:
    user = settings.callback_user or SANDBOX_CALLBACK_USER
    password = settings.callback_password or secrets.token_urlsafe(24)
    base = public_url.rstrip("/")
    login = Login(SANDBOX_API_ID, SANDBOX_LOGIN, SANDBOX_LOGIN)
    callbacks = CallbackTarget(f"{base}/clickatell/status", f"{base}/clickatell/mo", user, password)
    sandbox = start_sandbox(callbacks, login, options)
    try:
        gateway = _gateway_client(settings, sandbox.url, login)
    except Exception:
        sandbox.stop()
        raise
    effective = dataclasses.replace(settings, callback_user=user, callback_password=password)
    return effective, sandbox, gateway
