"""The one WSGI application of `sms-bot serve` (product.md §3).

    POST /slack/events        -> Bolt (slash commands, interactivity, events) in HTTP mode
    GET|POST /clickatell/...  -> the callback handlers (`callback_routes`: the inbound side's
                                 endpoints; `not_ready` answers for them where there are none)
    GET /healthz              -> 200 {"ok": true, ...} when the database and workers are healthy

Every request body is read here, once and bounded (64 KiB; 413 above that), and handed on as an
in-memory stream, so no handler can be made to read an unbounded body. Nothing a client sends can
produce a 5xx: malformed input is a 4xx with a short reason.

Slack requests are checked against the signing secret before Bolt sees them, because Bolt parses
the body (JSON) before its own verification runs and would answer 500 to unsigned garbage; Bolt
then verifies again (same secret, same 5-minute window).
"""

from __future__ import annotations

import io
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from bot.inbound.rejections import RejectionLog, client_of

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.container import Services

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

MAX_BODY = 64 * 1024
SLACK_PATH = "/slack/events"
STATUS_PATH = "/clickatell/status"
MO_PATH = "/clickatell/mo"
HEALTH_PATH = "/healthz"

SIGNATURE_WINDOW = 300  # seconds: Slack's (and Bolt's) limit on a request's age

# The environ key under which the (already read, bounded) request body is available.
BODY_KEY = "sms_bot.body"


def _now() -> float:
    return time.monotonic()


def respond(
    start_response: StartResponse,
    status: int,
    body: bytes | str | Mapping[str, Any] = b"",
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer with plain text, or JSON for a mapping."""
    if isinstance(body, Mapping):
        data, kind = json.dumps(body).encode(), "application/json"
    else:
        data = body.encode() if isinstance(body, str) else body
        kind = "text/plain; charset=utf-8"
    reason = _REASONS.get(status, "Unknown")
    start_response(
        f"{status} {reason}",
        [("Content-Type", kind), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class WebApp:
    """Routes by exact path; reads the body once (bounded) for every route."""

    def __init__(self, routes: Mapping[str, WSGIApp]):
        self.routes = dict(routes)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = self.routes.get(environ.get("PATH_INFO") or "/")
        if route is None:
            return respond(start_response, 404, "Not found\n")
        body = _read_body(environ)
        if isinstance(body, int):
            return respond(start_response, body, _BODY_ERRORS[body])
        inner = dict(environ)
        inner["wsgi.input"] = io.BytesIO(body)
        inner["CONTENT_LENGTH"] = str(len(body))
        inner[BODY_KEY] = body
        try:
            return route(inner, start_response)
        except RecursionError:
            # Only input nests deeply enough for this (JSON `[[[[...`, in any handler that
            # parses a body): bad input, not a server fault.
            log.warning("request to %s nested too deeply to parse", environ.get("PATH_INFO"))
            return respond(start_response, 400, "Body nested too deeply\n")
        except Exception:
            # A bug, not bad input (handlers answer 4xx for that): log it, keep serving.
            log.exception("handler for %s failed", environ.get("PATH_INFO"))
            return respond(start_response, 500, "Internal error\n")


_BODY_ERRORS = {
    400: "Bad Content-Length\n",
    413: f"Body too large: at most {MAX_BODY} bytes\n",
}


def _read_body(environ: Mapping[str, Any]) -> bytes | int:
    """The request body, or the HTTP status to answer (400 bad length, 413 too large)."""
    raw_length = (environ.get("CONTENT_LENGTH") or "").strip()
    if raw_length:
        if not raw_length.isdigit():
            return 400
        if int(raw_length) > MAX_BODY:
            return 413
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    # Read at most one byte more than allowed, so a lying or missing Content-Length (chunked
    # bodies) still cannot make us buffer more than MAX_BODY.
    limit = int(raw_length) if raw_length else MAX_BODY + 1
    body = stream.read(limit) if limit else b""
    return 413 if len(body) > MAX_BODY else body


# --------------------------------------------------------------------------- Slack


class SlackEndpoint:
    """POST /slack/events: signature check, body sanity check, then Bolt's WSGI adapter. Each
    request refused for its signature is logged (rate-limited, never the signature)."""

    def __init__(
        self,
        app: App,
        signing_secret: str,
        rejections: RejectionLog | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.handler = SlackRequestHandler(app, path=SLACK_PATH)
        self.verifier = SignatureVerifier(signing_secret)
        self.rejections = rejections or RejectionLog()
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return respond(start_response, 405, "Use POST\n", [("Allow", "POST")])
        body: bytes = environ[BODY_KEY]
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not (timestamp.isdigit() and len(timestamp) < 16 and signature):
            self.rejections.rejected("Slack request without a signature", client_of(environ))
            return respond(start_response, 401, {"error": "invalid request"})
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return respond(start_response, 400, "Body is not UTF-8\n")
        if not self.verifier.is_valid(text, timestamp, signature):
            self._log_refusal(int(timestamp), environ)
            return respond(start_response, 401, {"error": "invalid request"})
        if not _parses(text, environ.get("CONTENT_TYPE")):
            return respond(start_response, 400, "Malformed Slack payload\n")
        return self.handler(environ, start_response)

    def _log_refusal(self, timestamp: int, environ: dict[str, Any]) -> None:
        skew = self.clock() - timestamp
        if abs(skew) > SIGNATURE_WINDOW:
            self.rejections.rejected(
                "Slack request with a stale timestamp",
                f"{skew:+.0f} s off; check the server clock; {client_of(environ)}",
            )
        else:
            self.rejections.rejected(
                "Slack request with a bad signature",
                f"check SLACK_SIGNING_SECRET; {client_of(environ)}",
            )


def _parses(text: str, content_type: str | None) -> bool:
    """Bolt raises (and the server would answer 500) on a body it cannot parse into a dict. JSON
    nested deeper than the interpreter recurses raises RecursionError, not ValueError."""
    try:
        return isinstance(parse_body(text, content_type), dict)
    except (ValueError, RecursionError):
        return False


# --------------------------------------------------------------------------- callbacks


def not_ready(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Placeholder for a callback path: Clickatell's URL check (no parameters) gets 200, anything
    else 503 so the gateway retries later instead of the callback being lost."""
    if not environ.get("QUERY_STRING") and not environ.get(BODY_KEY):
        return respond(start_response, 200, "OK\n")
    return respond(start_response, 503, "Not ready: callbacks are not processed yet\n")


def callback_routes(services: Services) -> dict[str, WSGIApp]:
    """The WSGI callables of the two callback paths (the inbound side's endpoints). Each receives
    the body already read and bounded (environ[BODY_KEY], also as wsgi.input) and answers every
    method itself (GET and POST)."""
    return services.inbound.routes(STATUS_PATH, MO_PATH)


# --------------------------------------------------------------------------- health


Check = Callable[[], tuple[bool, dict[str, Any]]]

# How long a healthy answer is reused: /healthz is unauthenticated, so a flood of probes must
# cost one check per interval, not one each. A load balancer probing every few seconds still
# sees every change; a failure is never reused (see CachedCheck).
HEALTH_MAX_AGE = 1.0


class CachedCheck:
    """A health check run at most once per `max_age` seconds while it passes. A failing answer
    is not reused, so recovery shows at the next probe, and a last real write that failed makes
    the storage's own check fail at once. While one check is running, other probes get the last
    answer instead of queueing request threads behind it (a check may wait for a lock)."""

    def __init__(
        self, check: Check, max_age: float = HEALTH_MAX_AGE, clock: Callable[[], float] = _now
    ):
        self.check, self.max_age, self.clock = check, max_age, clock
        self._done = threading.Condition()
        self._last: tuple[bool, dict[str, Any]] | None = None
        self._at = -math.inf
        self._running = False

    def __call__(self) -> tuple[bool, dict[str, Any]]:
        with self._done:
            while self._last is None and self._running:
                self._done.wait()  # the very first check: nothing to answer with meanwhile
            last = self._last
            fresh = last is not None and last[0] and self.clock() - self._at < self.max_age
            if last is not None and (fresh or self._running):
                return last
            self._running = True
        result: tuple[bool, dict[str, Any]] | None = None
        try:
            result = self.check()
        finally:
            with self._done:
                self._running = False
                if result is not None:
                    self._last, self._at = result, self.clock()
                self._done.notify_all()
        return result


class HealthEndpoint:
    def __init__(self, check: Check):
        self.check = check

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return respond(start_response, 405, "Use GET\n", [("Allow", "GET")])
        ok, details = self.check()
        return respond(start_response, 200 if ok else 503, {"ok": ok, **details})


# --------------------------------------------------------------------------- assembly


def build_web_app(
    services: Services,
    app: App | None,
    callbacks: Mapping[str, WSGIApp] | None = None,
) -> WebApp:
    """The whole HTTP surface. `app` is None in Socket Mode: Slack traffic then arrives over the
    socket and /slack/events answers 404. `callbacks` overrides `callback_routes(services)`."""
    routes: dict[str, WSGIApp] = {HEALTH_PATH: HealthEndpoint(CachedCheck(services.health))}
    routes.update(callback_routes(services) if callbacks is None else callbacks)
    if app is not None:
        secret = services.settings.slack_signing_secret or ""
        routes[SLACK_PATH] = SlackEndpoint(app, secret, services.inbound.rejections)
    return WebApp(routes)
