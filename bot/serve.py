"""`sms-bot serve`: the HTTP listener (waitress) and, when SLACK_APP_TOKEN is set, Socket Mode.

Start-up order matters: the listening socket is bound first, so its real address is known (PORT=0
picks a free port) before the sandbox is told where to send its callbacks; requests that arrive
before the app is assembled get a 503. One line is logged when everything is up: the mode, the
address and the gateway (never a secret). With a Clickatell Portal API key a second line gives
the two callback URLs to paste into the Portal, `?token=` included: the one place the token is
ever printed, because the Portal cannot be set up without it.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import signal
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from waitress import wasyncore

if TYPE_CHECKING:  # imported when Socket Mode is used: it pulls in a websocket client
    from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import build_app
from bot.config import ConfigError, Settings
from bot.container import build_services
from bot.inbound import Options
from bot.listener_limits import CONNECTION_LIMIT, ListenerLimits, create_guarded_server
from bot.slack.errors import api_error_behind, describe, is_transient
from bot.web import MAX_BODY, MO_PATH, STATUS_PATH, StartResponse, WSGIApp, build_web_app, respond

log = logging.getLogger("sms-bot")

__all__ = ["HttpServer", "ListenerLimits", "Runtime", "main"]

HTTP_THREADS = 16
# How long SIGTERM gives work in flight (a send waiting for the gateway) before the process exits
# anyway: containers allow 10 s, systemd 30; what is cut off is settled at the next start.
STOP_GRACE = 6.0
# Descriptors besides the listener's connections: database connections, the gateway's and
# Slack's connection pools, log files.
SPARE_DESCRIPTORS = 256
# Exit statuses of a failed start: a configuration error (the one line names the variable to fix)
# or a failure that a later attempt may fix by itself (Slack unreachable or failing at boot).
EXIT_CONFIG, EXIT_RETRY = 2, 1
# Slack's answers that mean "try again later" rather than "this token/URL is wrong".


class _Deferred:
    """The server's application until the real one is assembled: 503 meanwhile."""

    def __init__(self) -> None:
        self.app: WSGIApp | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.app is None:
            return respond(start_response, 503, "Starting up\n")
        return self.app(environ, start_response)


class HttpServer:
    """waitress on (host, port) in a background thread; port 0 picks a free one. `limits`: how
    many connections it holds and for how long (bot.listener_limits: why)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        threads: int = HTTP_THREADS,
        limits: ListenerLimits | None = None,
    ):
        self._app = _Deferred()
        self._server = create_guarded_server(
            self._app,
            host,
            port,
            threads,
            limits or ListenerLimits(),
            # waitress refuses sizes >= this, counting a chunked body's framing (chunk sizes,
            # CRLFs) too; the app bounds the decoded body at MAX_BODY itself (bot.web), so this
            # only leaves room for that framing: a chunked 64 KiB body is not refused.
            max_request_body_size=2 * MAX_BODY,
            ident="sms-bot",
        )
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = str(self._server.effective_host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def local_url(self) -> str:
        """Where this process reaches its own listener (a wildcard host means loopback)."""
        host = str(self._server.effective_host)
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def serve(self, app: WSGIApp) -> None:
        self._app.app = app
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        server = self._server
        # Let in-flight requests finish first: each one wakes the loop through the trigger's
        # pipe when done, and once the pipe is closed that write fails (EBADF) or, worse, lands
        # in whatever file reuses the descriptor.
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        if self._thread.is_alive():
            # Close every socket from inside the server's own loop (the trigger runs the thunk
            # there), so the loop sees an empty map and returns.
            try:
                server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            except OSError:
                # The trigger's pipe is already closed, so the loop cannot be woken: close the
                # sockets from here; the loop then finds its map empty and returns.
                wasyncore.close_all(server._map)
            self._thread.join(timeout=5)
        else:
            wasyncore.close_all(server._map)


class StartupError(Exception):
    """A start-up failure already worded as the one line to print (variable first)."""


class Runtime:
    """A running app: HTTP listener, services, Bolt app, and the Socket Mode connection."""

    def __init__(
        self,
        settings: Settings,
        *,
        services_options: dict[str, Any] | None = None,
        http_threads: int = HTTP_THREADS,
        inbound_options: Options | None = None,  # tests shorten the inbound side's waits
    ):
        try:
            self.http = HttpServer(settings.host, settings.port, threads=http_threads)
        except OSError as error:
            raise StartupError(
                f"HOST/PORT: cannot listen on {settings.host}:{settings.port} ({error.strerror})"
            ) from error
        self.socket_handler: SocketModeHandler | None = None
        try:
            self.services = build_services(
                settings,
                public_url=self.http.local_url,
                inbound_options=inbound_options,
                serving=True,
                **(services_options or {}),
            )
        except BaseException:
            self.http.stop()
            raise
        try:
            self.app = build_app(self.services)
            self.services.inbound.check_slack()  # SMS_CHANNEL postable? said once, in the log
            http_slack = None if settings.socket_mode else self.app
            self.http.serve(build_web_app(self.services, http_slack))
            if settings.socket_mode:
                self._connect_socket_mode(settings.slack_app_token or "")
        except BaseException:
            self.stop()
            raise

    def _connect_socket_mode(self, token: str) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        # connect(), not start(): start() would block this thread, and the HTTP listener must
        # keep serving callbacks and health checks beside the socket.
        self.socket_handler = SocketModeHandler(self.app, token)
        self.socket_handler.connect()

    @property
    def url(self) -> str:
        return self.http.url

    def portal_callbacks(self) -> str | None:
        """The callback URLs to paste into the Portal (None without a real Portal key)."""
        settings = self.services.settings
        if not settings.uses_portal or self.services.sandbox is not None:
            return None
        token = settings.callback_token or ""
        status, mo = (f"{self.url}{path}?token={token}" for path in (STATUS_PATH, MO_PATH))
        return (
            f"Clickatell Portal callback URLs (in the integration's settings; use this server's "
            f"public address if the Portal reaches it through another): status {status} · "
            f"replies {mo}"
        )

    def describe(self) -> str:
        mode = "Socket Mode" if self.socket_handler is not None else "HTTP mode (/slack/events)"
        gateway = self.services.gateway_label
        if gateway == "sandbox":
            gateway = f"sandbox at {self.services.sandbox.url} (no real SMS is sent)"
        return f"sms-bot serving on {self.url}: Slack {mode}; gateway {gateway}"

    def stop(self) -> None:
        if self.socket_handler is not None:
            try:
                self.socket_handler.close()
            except Exception:
                log.exception("closing the Socket Mode connection failed")
        self.http.stop()
        self.services.close()


def main(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM. A failed start is one line naming the variable; the exit
    status is 2 for a configuration error and 1 for a failure a retry may fix (EXIT_RETRY)."""
    try:
        settings.require_serve()
    except ConfigError as error:
        print(f"sms-bot: {error}", file=sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _allow_open_files(CONNECTION_LIMIT + SPARE_DESCRIPTORS)
    try:
        runtime = Runtime(settings)
    except Exception as error:
        print(f"sms-bot: {_startup_problem(error, settings)}", file=sys.stderr)
        return _exit_status(error)
    log.info(runtime.describe())
    callbacks = runtime.portal_callbacks()
    if callbacks is not None:
        log.info(callbacks)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    log.info("sms-bot stopping")
    if not _stopped_within(runtime, STOP_GRACE):
        # Work still in flight (a gateway that does not answer): leave it to the start-up
        # recovery (usecases.settling) rather than outlast the supervisor's patience; the
        # worker threads would keep a normal exit waiting for them.
        log.warning(
            "in-flight work did not finish within %gs of SIGTERM; exiting now: the next start "
            "settles any send it cut off",
            STOP_GRACE,
        )
        logging.shutdown()
        os._exit(0)
    return 0


def _stopped_within(runtime: Runtime, seconds: float) -> bool:
    """Stop taking work and stop everything, giving work in flight `seconds` to finish."""
    stopper = threading.Thread(target=runtime.stop, name="stopping", daemon=True)
    stopper.start()
    stopper.join(seconds)
    return not stopper.is_alive()


def _allow_open_files(wanted: int) -> None:
    """Raise the soft limit on open files to `wanted` (within the hard limit): a shell's usual
    1,024 would run out before the listener's connection limit, and an accept() that fails for
    want of a descriptor leaves the listener spinning."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            log.warning("cannot raise the open-files limit to %d: %s", target, error)


def _startup_problem(error: Exception, settings: Settings) -> str:
    """One line naming the variable behind a start-up failure, without secrets."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    from bot.storage import StorageError

    if isinstance(error, StartupError):
        return str(error)
    if isinstance(error, StorageError):
        return f"SMS_BOT_DB: {error}"
    answer = api_error_behind(error)
    if answer is not None and is_transient(answer):
        return (
            f"SLACK_API_URL: Slack at {settings.slack_api_url} is not available right now "
            f"({describe(answer)}); try again later"
        )
    if settings.socket_mode and "apps.connections.open" in str(error):
        return "SLACK_APP_TOKEN: Slack did not accept the app-level token (xapp-…)"
    if isinstance(error, BoltError | SlackApiError):
        return (
            "SLACK_BOT_TOKEN: Slack did not accept the bot token, or SLACK_API_URL is wrong "
            f"({_scrub(str(error), settings)})"
        )
    if isinstance(error, URLError | ConnectionError | TimeoutError):
        return f"SLACK_API_URL: cannot reach Slack at {settings.slack_api_url} ({error})"
    return f"start-up failed: {type(error).__name__}: {_scrub(str(error), settings)}"


def _exit_status(error: BaseException) -> int:
    """EXIT_CONFIG when a setting is wrong (listener address, database path, a token Slack
    refused); EXIT_RETRY when Slack could not be reached or answered "later" (HTTP 5xx or 429,
    `ratelimited` …) and for any other failure, which is not a setting's fault."""
    from slack_bolt.error import BoltError

    from bot.storage import StorageError

    if isinstance(error, StartupError | StorageError):
        return EXIT_CONFIG
    answer = api_error_behind(error)
    if answer is not None:
        return EXIT_RETRY if is_transient(answer) else EXIT_CONFIG
    return EXIT_CONFIG if isinstance(error, BoltError) else EXIT_RETRY


# Secrets at least this long are removed wherever they occur, even inside other text (a token
# glued to "Bearer" or to a URL): a random string that long never occurs in ordinary words. A
# shorter secret (a test value, a careless setting) would garble every word containing its
# letters, so it is removed only where it stands as a whole token; it is still never printed on
# its own, and no real Slack or Clickatell secret is that short.
SUBSTRING_SECRET_LENGTH = 8


def _scrub(text: str, settings: Settings) -> str:
    """`text` without the configured secrets (see SUBSTRING_SECRET_LENGTH), cut to 300 chars."""
    for secret in sorted(set(settings.secrets()), key=len, reverse=True):  # longest first
        if len(secret) >= SUBSTRING_SECRET_LENGTH:
            text = text.replace(secret, "***")
        else:
            text = re.sub(rf"(?<![\w-]){re.escape(secret)}(?![\w-])", "***", text)
    return text[:300]
