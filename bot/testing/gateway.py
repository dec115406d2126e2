"""The one scripted gateway of tests: a real ThreadingHTTPServer on 127.0.0.1, port 0.

`ScriptedGateway` records every request exactly as it arrived (method, path, raw body, headers)
and answers each from a script: replies queued per command (`on("sendmsg", …)`), or a function
of the request, else a small default (auth succeeds, ping answers `OK:`, anything else
`ERR: 101`). With `upstream` set it is a fault-injecting proxy instead: anything not scripted is
forwarded to the upstream server (e.g. the sandbox) and its answer returned. Fault scripts (a
dropped send, a fuzzed reply) are functions or subclasses of this one server.

A `Reply` can be delayed, held until the test releases an event (a reply after the client's
timeout, without sleeping in the test), sent with another HTTP status, content type or extra
headers (the Portal's JSON, `Retry-After`), or dropped (the connection is closed without an
answer).

The gateway that behaves like the real one is the product's sandbox (bot/testing/sandbox.py
starts it for benchmarks; the app under test starts its own). `MemoryGateway` is the gateway
port's double (bot.gateway.base.Gateway) for rigs that run the inbound pieces without HTTP.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

from bot.gateway.base import (
    Balance,
    Capabilities,
    MessageStatus,
    Planned,
    RecipientResult,
    SendResult,
)
from bot.gateway.clickatell_http.callbacks import parse_params
from bot.gateway.clickatell_http.codes import delivery_status
from bot.gateway.clickatell_http.decoder import ClickatellHttpCallbacks
from bot.gateway.clickatell_http.gateway import CAPABILITIES

SESSION_ID = "0123456789abcdef0123456789abcdef"


@dataclass(frozen=True)
class Reply:
    body: str | bytes = b""
    status: int = 200
    delay: float = 0.0  # seconds to sleep before answering (real time; keep tiny)
    hold: threading.Event | None = None  # answer only once this is set (or the server closes)
    drop: bool = False  # close the connection without answering
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    query: bytes = b""

    @property
    def command(self) -> str:
        """'sendmsg' for /http/sendmsg or /http/sendmsg.php, 'routeCoverage' for coverage; the
        last path segment for the Portal's paths ('message' for /v1/message, 'send' for
        /messages/http/send)."""
        return self.path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".php")

    @property
    def raw(self) -> bytes:
        return self.body if self.method == "POST" else self.query

    def form(self) -> dict[str, bytes]:
        """Parameters percent-decoded to bytes (never UTF-8 first): the project's one form
        decoder, the one the callback endpoints use."""
        return parse_params(self.raw)

    def raw_param(self, name: str) -> bytes | None:
        """A parameter exactly as it was on the wire (still percent-encoded)."""
        for item in self.raw.split(b"&"):
            key, _, value = item.partition(b"=")
            if key.decode("latin-1") == name:
                return value
        return None


Script = Callable[[Request], "Reply | str | bytes | None"]


@dataclass
class _State:
    queued: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ignore_error(request: object, client_address: object) -> None:
    pass


def default_reply(request: Request) -> Reply:
    if request.command == "auth":
        return Reply(f"OK: {SESSION_ID}")
    if request.command == "ping":
        return Reply("OK:")
    return Reply("ERR: 101, Invalid or missing parameters")


class ScriptedGateway:
    """See the module docstring. `quiet`: a client dropping a connection whose reply it did not
    want (a fuzzed 204 with a body) is not reported on stderr."""

    def __init__(
        self, script: Script | None = None, *, upstream: str | None = None, quiet: bool = False
    ):
        self.script = script
        self.upstream = upstream
        self._forwarder = requests.Session()
        self._state = _State()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        if quiet:
            self._server.handle_error = _ignore_error  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    # --- scripting ---

    def on(self, command: str, *replies: Reply | str | bytes) -> None:
        """Queue replies for a command; each request for it takes the next one."""
        with self._state.lock:
            self._state.queued[command].extend(replies)

    @property
    def requests(self) -> list[Request]:
        with self._state.lock:
            return list(self._state.requests)

    def calls(self, command: str) -> list[Request]:
        return [r for r in self.requests if r.command == command]

    def _answer(self, request: Request) -> Reply:
        with self._state.lock:
            self._state.requests.append(request)
            queue = self._state.queued.get(request.command)
            queued = queue.popleft() if queue else None
        reply = queued
        if reply is None and self.script is not None:
            reply = self.script(request)
        if reply is None:
            reply = self._forward(request) if self.upstream else default_reply(request)
        return reply if isinstance(reply, Reply) else Reply(reply)

    def _forward(self, request: Request) -> Reply:
        url = f"{self.upstream}{request.path}"
        if request.query:
            url += "?" + request.query.decode("latin-1")
        headers = {"Content-Type": request.headers.get("Content-Type", "")}
        if "Authorization" in request.headers:  # the Portal's key
            headers["Authorization"] = request.headers["Authorization"]
        answer = self._forwarder.request(
            request.method, url, data=request.body, headers=headers, timeout=30
        )
        kind = answer.headers.get("Content-Type", "text/plain")
        return Reply(answer.content, status=answer.status_code, content_type=kind)

    def close(self) -> None:
        self._closing.set()
        self._forwarder.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP ---

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like the real gateway

            def setup(self) -> None:
                super().setup()
                # Head and body leave in two writes; without this the client's delayed ACK
                # holds every reply ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._serve(self.rfile.read(length))

            def _serve(self, body: bytes) -> None:
                parts = urlsplit(self.path)
                request = Request(
                    self.command,
                    parts.path,
                    body,
                    dict(self.headers.items()),
                    parts.query.encode("latin-1"),
                )
                reply = server._answer(request)
                if reply.delay:
                    server._closing.wait(reply.delay)
                if reply.hold is not None:
                    while not (reply.hold.is_set() or server._closing.is_set()):
                        reply.hold.wait(0.05)
                if reply.drop:
                    self.close_connection = True
                    return
                data = reply.body.encode("latin-1") if isinstance(reply.body, str) else reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers:
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True  # the client gave up (timeout): fine

        return Handler


@dataclass
class MemoryGateway:
    """The gateway port (bot.gateway.base.Gateway) in memory, as far as the relay, the balance
    watcher and the callback endpoints use it: `sent` records each text, `failures` are raised
    by the next sends, `known` maps a client ID the gateway has seen to its message ID (what
    `find_sent` finds), `credit` is the balance. Callbacks are the legacy API's, as rigs post
    them."""

    credit: float = 100.0
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # client ID -> message ID
    capabilities: Capabilities = CAPABILITIES
    callbacks: ClickatellHttpCallbacks = field(
        default_factory=lambda: ClickatellHttpCallbacks("sandbox")
    )

    def plan(self, to: Sequence[str], *, client_id: str | None = None) -> tuple[Planned, ...]:
        return tuple(Planned(number, client_id or uuid.uuid4().hex) for number in to)

    def send(self, planned: Sequence[Planned], text: str, **_options: object) -> SendResult:
        if self.failures:
            raise self.failures.pop(0)
        (recipient,) = planned
        to, climsgid = recipient.to, recipient.client_id
        apimsgid = uuid.uuid4().hex
        self.sent.append((to, text, climsgid))
        self.known[climsgid] = apimsgid
        return SendResult((RecipientResult(to, apimsgid, climsgid),), 1, "gsm7")

    def find_sent(self, client_id: str) -> MessageStatus | None:
        if client_id not in self.known:
            return None
        return MessageStatus(self.known[client_id], delivery_status("003"))

    def balance(self) -> Balance:
        return Balance(self.credit)

    def close(self) -> None:
        """Nothing to close (the services close their gateway on shutdown)."""
