"""The sandbox as a real HTTP server: routing, reading parameters from a GET query or a POST form,
and writing `text/plain` replies (the legacy API) or JSON (the Portal's, `platform`); plus
`SandboxServer`, which ties state, scheduler, callbacks and HTTP together, and `serve_forever`
for `sms-bot sandbox`. Both generations share one port, one account and one set of phones.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import urlsplit

from . import platform_wire
from .commands import BATCH, HTTP, UTILS, Credentials, Gateway
from .events import QUIRK_EVERY, EventRunner
from .outbox import FORM, MO, STATUS, CallbackSender, Delivery
from .params import Params
from .platform import PlatformApi
from .platform import Reply as PlatformReply
from .scheduler import Event, Scheduler
from .state import Message, MoRecord, State
from .wire import error_line

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # a 300-recipient sendmsg is ~4 KiB; anything near this is not a client
CALLBACK_TIMEOUT = 5.0  # seconds to wait for a callback receiver

_ROUTE = re.compile(r"/(http|http_batch)/([^/]+?)(?:\.php)?|/utils/(routeCoverage)(?:\.php)?")


def route(path: str) -> tuple[str, str] | None:
    """(namespace, command) for an API path, None for a path outside the API."""
    match = _ROUTE.fullmatch(path)
    if match is None:
        return None
    if match.group(3):
        return UTILS, match.group(3)
    namespace = HTTP if match.group(1) == "http" else BATCH
    return namespace, match.group(2)


@dataclass(frozen=True)
class SentMessage:
    """A message as the sandbox holds it, for tests and the CLI (`sender` is the `from`).

    A read-only view of `state.Message`, not that record itself: the record is mutable (its
    timeline grows under the state lock as reports go out) and has no current status, only a
    status at a given time. This one is frozen, `params` cannot be changed, and `status` is the
    status at the sandbox's clock when the view was taken. Every other field is the record's
    field of the same name (`of` copies them by name)."""

    apimsgid: str
    climsgid: str | None
    to: str
    sender: str | None
    text: str
    unicode: bool
    parts: int
    charge: float
    status: str
    created: float
    params: MappingProxyType[str, str]

    @classmethod
    def of(cls, message: Message, now: float) -> SentMessage:
        shared = {f.name: getattr(message, f.name) for f in fields(cls) if f.name not in _RESOLVED}
        params = MappingProxyType(dict(message.params))
        return cls(**shared, status=message.status_at(now), params=params)


_RESOLVED = frozenset({"status", "params"})  # SentMessage fields not copied as they are


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    # Buffer the reply: http.server flushes after each request, so status line, headers and
    # body leave in one write and wake the client once instead of twice.
    wbufsize = 1 << 16
    server: _HttpServer
    error_content_type = "text/plain"
    error_message_format = "%(code)d %(message)s\n"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK hold every reply for ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _not_allowed(self) -> None:
        self._reply(
            405, "Method not allowed: use GET or POST\n", close=False, extra={"Allow": "GET, POST"}
        )

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server answers an unknown method with 501; a client error is not a server error.
        if code == 501:
            code, message = 405, "Method not allowed: use GET or POST"
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes | None:
        """The request body; None after answering a 4xx for one that cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply(411, "Send a Content-Length, not a chunked body\n", close=True)
            return None
        length_header = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_header.isdigit():
            self._reply(400, "Bad Content-Length\n", close=True)
            return None
        length = int(length_header)
        if length > MAX_BODY:
            self._reply(413, "Request body too large\n", close=True)
            return None
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        body = self._read_body()  # read even when unused, so the next request starts cleanly
        if body is None:
            return
        target = urlsplit(self.path)
        found = route(target.path)
        sandbox = self.server.sandbox
        if found is None:
            self._platform(method, target.path, target.query.encode("latin-1"), body)
            return
        params = Params.parse(target.query.encode("latin-1"))
        if method == "POST" and not _is_form(self.headers.get("Content-Type")):
            reply = error_line("001")  # what the real server says to a non-form POST
        else:
            if method == "POST":
                params = params.merged(Params.parse(body))
            reply = sandbox.handle(found[0], found[1], params, method)
        if sandbox.reply_delay > 0:
            sandbox.sleep(sandbox.reply_delay)
        self._reply(200, reply)

    def _platform(self, method: str, path: str, query: bytes, body: bytes) -> None:
        """A Portal path (Platform mode), or 404 in the Portal's words for any other path."""
        sandbox = self.server.sandbox
        authorization = self.headers.get("Authorization")
        reply = sandbox.handle_platform(method, path, query, body, authorization)
        if sandbox.reply_delay > 0:
            sandbox.sleep(sandbox.reply_delay)
        if reply is None:
            self._reply_bytes(404, platform_wire.not_found(), platform_wire.JSON)
            return
        self._reply_bytes(reply.status, reply.body, reply.content_type, dict(reply.headers))

    def _reply(
        self, status: int, text: str, close: bool = False, extra: dict[str, str] | None = None
    ) -> None:
        self._reply_bytes(
            status, text.encode("latin-1", errors="replace"), "text/plain", extra, close
        )

    def _reply_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _is_form(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == FORM


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer):
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request is not worth a traceback on stderr.
        log.debug("sandbox connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Wake handler threads idling on kept-alive connections so they end now."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def shutdown_promptly(server: ThreadingHTTPServer) -> None:
    """`server.shutdown()` without waiting out the serve loop's poll interval: connections to
    the listening socket wake its select() so it notices the request at once."""
    stopper = threading.Thread(target=server.shutdown, daemon=True)
    stopper.start()
    host, port = server.server_address[:2]
    while stopper.is_alive():
        with contextlib.suppress(OSError), socket.create_connection((str(host), port), timeout=1):
            pass
        stopper.join(0.005)


class SandboxServer:
    """The simulated Clickatell HTTP API (product.md §7) on a real threaded HTTP server.

    The port is bound at construction, so `url` is known at once (port 0 picks a free one);
    `start()` begins serving. With an injected clock, `advance(seconds)` moves the sandbox's time
    and runs whatever became due, synchronously; `autorun=False` leaves running events entirely
    to `advance`/`run_due`, which makes tests deterministic.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        session_ttl: float = 900.0,
        callback_url: str | None = None,
        mo_url: str | None = None,
        callback_user: str | None = None,
        callback_password: str | None = None,
        balance: float = 100.0,
        api_id: str | None = None,
        user: str | None = None,
        password: str | None = None,
        clock: Callable[[], float] = time.time,
        autorun: bool = True,
        reply_delay: float = 0.0,
        state_path: str | os.PathLike[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        callback_timeout: float = CALLBACK_TIMEOUT,
        api_key: str | None = None,
        rate_limit: int | None = None,
        quirk_every: int = QUIRK_EVERY,
    ):
        _check_options(
            session_ttl,
            balance,
            reply_delay,
            callback_url,
            mo_url,
            callback_user,
            callback_password,
            state_path,
        )
        if api_key is not None and not api_key.strip():
            raise ValueError("api_key must not be empty")
        if rate_limit is not None and rate_limit < 1:
            raise ValueError(f"rate_limit must be a positive number of messages, not {rate_limit}")
        self._base_clock = clock
        self._offset = 0.0
        self.reply_delay = reply_delay
        self.sleep = sleep
        self._autorun = autorun
        self._state_path = Path(state_path) if state_path is not None else None
        self._save_lock = threading.Lock()
        self._state, pending = self._initial_state(balance)
        self.scheduler = Scheduler(self.now)
        self._sender = CallbackSender(
            {STATUS: callback_url, MO: mo_url}, callback_user, callback_password, callback_timeout
        )
        self._events = EventRunner(
            self._state, self.scheduler, self._sender, self.now, api_id or "", quirk_every
        )
        try:
            self.scheduler.restore(pending)
        except ValueError as exc:
            raise ValueError(f"{state_path} is not a sandbox state file: {exc}") from None
        self.gateway = Gateway(
            self._state, self._events, self.now, session_ttl, Credentials(api_id, user, password)
        )
        self.platform = PlatformApi(self._state, self._events, self.now, api_key, rate_limit)
        self._httpd = _HttpServer((host, port), self)
        bound_host, bound_port = self._httpd.server_address[:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self._thread: threading.Thread | None = None
        self._stopped = False

    # lifecycle --------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._stopped:
            raise RuntimeError("a stopped SandboxServer cannot be started again")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.5,), name="sandbox-http", daemon=True
            )
            self._thread.start()
            if self._autorun:
                self.scheduler.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.scheduler.stop()
        if self._thread is not None:
            shutdown_promptly(self._httpd)
            self._thread.join(timeout=10)
        self._httpd.server_close()
        self._httpd.close_connections()
        self._sender.close()
        self.save()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # time -------------------------------------------------------------------------------------
    def now(self) -> float:
        """The sandbox's time: the injected clock plus however far `advance` has moved it."""
        return self._base_clock() + self._offset

    def advance(self, seconds: float) -> int:
        """Move the sandbox's time forward and run what became due; returns events run."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds
        self.scheduler.notify()
        return self.run_due()

    def run_due(self) -> int:
        return self.scheduler.run_due()

    def pending_events(self, horizon: float = 0.0) -> list[Event]:
        """Work in progress or due within `horizon` seconds of sandbox time (status changes,
        phone replies, callback deliveries and retries): empty once the sandbox has settled."""
        return self.scheduler.busy_within(horizon)

    # HTTP entry -------------------------------------------------------------------------------
    def handle(self, namespace: str, command: str, params: Params, method: str) -> str:
        try:
            reply = self.gateway.handle(namespace, command, params, method)
        except Exception:  # a bug must still answer in protocol, never with a 5xx
            log.exception("sandbox command %s/%s failed", namespace, command)
            return error_line("901")
        try:
            self.save()
        except OSError:  # the reply stands; the next save may succeed
            log.exception("cannot save the sandbox state to %s", self._state_path)
        return reply

    def handle_platform(
        self, method: str, path: str, query: bytes, body: bytes, authorization: str | None
    ) -> PlatformReply | None:
        """A Portal request (Platform mode); None for a path that is not the Portal's."""
        try:
            reply = self.platform.handle(method, path, query, body, authorization)
        except Exception:  # a bug must still answer in protocol, never with a traceback
            log.exception("sandbox Platform request %s %s failed", method, path)
            return PlatformReply(500, platform_wire.call_error(18, "Internal error"))
        if reply is not None:
            try:
                self.save()
            except OSError:
                log.exception("cannot save the sandbox state to %s", self._state_path)
        return reply

    # inspection -------------------------------------------------------------------------------
    @property
    def balance(self) -> float:
        return self._state.balance

    def messages(self) -> list[SentMessage]:
        now = self.now()
        with self._state.lock:
            return [SentMessage.of(m, now) for m in self._state.messages.values()]

    def mo_messages(self) -> list[MoRecord]:
        """The phones' replies, one record per part, in the order sent."""
        with self._state.lock:
            return list(self._state.replies)

    def deliveries(self) -> list[Delivery]:
        """Every callback attempt (status and MO), in the order made."""
        return self._events.deliveries()

    # persistence ------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the state file (atomically), when there is one."""
        if self._state_path is None:
            return
        with self._state.lock:
            data = {"state": self._state.snapshot(), "events": self.scheduler.snapshot()}
        text = json.dumps(data, ensure_ascii=False)
        path = self._state_path
        with self._save_lock:
            fd, temp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, path)

    def _initial_state(self, balance: float) -> tuple[State, list[dict[str, Any]]]:
        """A fresh state, or the saved one (with its pending events) when the file exists; the
        saved balance then wins over `balance`, since it remembers what was spent."""
        path = self._state_path
        if path is None or not path.exists():
            return State(balance), []
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read sandbox state file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a sandbox state file: it is not text") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError(f"{path} is not a sandbox state file: it is not JSON") from None
        if not (isinstance(data, dict) and isinstance(data.get("events"), list)):
            raise ValueError(f"{path} is not a sandbox state file: it has no state and events")
        try:
            return State.restore(data.get("state")), data["events"]
        except ValueError as exc:
            raise ValueError(f"{path} is not a sandbox state file: {exc}") from None


def _check_options(
    session_ttl: float,
    balance: float,
    reply_delay: float,
    callback_url: str | None,
    mo_url: str | None,
    callback_user: str | None,
    callback_password: str | None,
    state_path: str | os.PathLike[str] | None,
) -> None:
    # isfinite first: every comparison with NaN is false (`nan <= 0` would let it through), and
    # an infinite TTL, balance or delay is no setting either.
    if not (math.isfinite(session_ttl) and session_ttl > 0):
        raise ValueError(f"session_ttl must be a positive number of seconds, not {session_ttl}")
    if not (math.isfinite(balance) and balance >= 0):
        raise ValueError(f"balance must be a number of credits, 0 or more, not {balance}")
    if not (math.isfinite(reply_delay) and reply_delay >= 0):
        raise ValueError(f"reply_delay must be a number of seconds, 0 or more, not {reply_delay}")
    for name, url in (("callback_url", callback_url), ("mo_url", mo_url)):
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{name} must be an http:// or https:// URL, not {url!r}")
    if (callback_user is None) != (callback_password is None):
        raise ValueError("callback_user and callback_password go together")
    if state_path is not None and not Path(state_path).parent.is_dir():
        raise ValueError(f"the directory of the state file {state_path} does not exist")
