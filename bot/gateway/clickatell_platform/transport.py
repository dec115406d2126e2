"""The HTTP layer of the Portal's APIs: one pooled session, JSON in and out, transport failures.

Every call goes through one `requests.Session` (one connection pool, keep-alive), prepared from a
per-URL template so that a call only fills in its body: the Session's per-request machinery
(environment lookups, hooks, redirects) costs more than the rest of a call to a nearby gateway.

Failures are mapped here onto what the client needs to decide: a connection never made is
`NotSent` (nothing left; safe to try again), a request that went out without a complete answer
is `NoAnswer` (for a send, the outcome is unknown). Any HTTP status comes back as an `Answer`:
the Portal puts JSON in its 4xx and 5xx bodies, and judging them is the client's business.

The API key never appears in an exception or a log line: the SMS HTTP integration carries it in
the query string, so only the path is ever named here, and urllib3's own debug line (which
prints the request's URL) has `apiKey=` redacted (`KeyRedactor`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import NewConnectionError

from bot.gateway.base import NotSent, Unavailable
from bot.gateway.http_deadline import (
    MAX_REPLY,
    SHARED,
    Deadlines,
    ReplyTooLarge,
    bounded_body,
    watch_session,
)

JSON = "application/json"
_API_KEY = re.compile(r"(apiKey=)[^&\s\"']+")


class KeyRedactor(logging.Filter):
    """Replaces the value of every `apiKey=` in a log record with `***` (clickatell-platform.md
    §1: redact the key from logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "apiKey=" in message:
            record.msg, record.args = _API_KEY.sub(r"\1***", message), None
        return True


_REDACTOR = KeyRedactor()


def redact_keys_in(logger_name: str = "urllib3.connectionpool") -> None:
    """Install the redactor on `logger_name` once (idempotent)."""
    logger = logging.getLogger(logger_name)
    if _REDACTOR not in logger.filters:
        logger.addFilter(_REDACTOR)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, whatever its status: the client reads the JSON in 2xx and errors alike."""

    status: int
    body: bytes
    content_type: str
    retry_after: float | None  # seconds, from a Retry-After header (None without one)

    @property
    def is_json(self) -> bool:
        return self.content_type.split(";", 1)[0].strip().lower() == JSON or (
            self.body.lstrip()[:1] in (b"{", b"[")
        )


class NoAnswer(Unavailable):
    """The request was sent but no complete answer came back (timeout, dropped connection):
    for a query, try later; for a send, the Portal may or may not have the messages."""

    def __init__(self, where: str, reason: str):
        text = f"No answer from the Portal at {where}: {reason}"
        super().__init__(None, text, f"{text}. Try again later.")


def not_connected(where: str, reason: str) -> NotSent:
    text = f"Could not connect to the Portal at {where}: {reason}"
    return NotSent(None, text, f"{text}. Nothing was sent; check CLICKATELL_BASE_URL.")


def _connect_failure(error: requests.RequestException) -> bool:
    """True when the request certainly never left: connect timeout or connection refused."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) in seconds; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class Transport:
    """Calls to one Portal base URL, authenticated by the bare key in `Authorization` (One API
    and SMS REST) or not at all (SMS HTTP, whose key is a query parameter the caller adds)."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        *,
        authorization: str | None,
        session: requests.Session | None = None,
        deadlines: Deadlines = SHARED,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = session or requests.Session()
        self._owns_http = session is None
        self._deadlines = deadlines
        watch_session(self._http)  # one deadline for the whole request, not per socket read
        headers = {"Accept": JSON}
        if authorization is not None:
            headers["Authorization"] = authorization  # the bare key: never "Bearer" (§1)
        self._headers = headers
        found = self._http.merge_environment_settings(self.base_url + "/", {}, None, None, None)
        self._settings = {key: found[key] for key in ("proxies", "verify", "cert")}
        self._templates: dict[tuple[str, str], requests.PreparedRequest] = {}
        redact_keys_in()

    def _template(self, method: str, url: str) -> requests.PreparedRequest:
        key = (method, url)
        template = self._templates.get(key)
        if template is None:
            headers = dict(self._headers)
            if method == "POST":
                headers["Content-Type"] = f"{JSON}; charset=utf-8"
            template = self._http.prepare_request(requests.Request(method, url, headers=headers))
            self._templates[key] = template
        return template

    def call(self, method: str, path: str, *, body: bytes | None = None, query: str = "") -> Answer:
        """One request through the pool. `query` is appended as it is (already encoded)."""
        url = self.base_url + path
        prepared = self._template(method, url).copy()
        if query:
            prepared.url = f"{url}?{query}"
        if body is not None:
            prepared.prepare_body(body, None)
        with self._deadlines.watching(self.timeout) as watch:
            try:
                adapter = self._http.get_adapter(url)
                response = adapter.send(
                    prepared, stream=True, timeout=self.timeout, **self._settings
                )
                content = bounded_body(response)
            except ReplyTooLarge:
                limit = f"larger than {MAX_REPLY >> 20} MiB; it was not read"
                raise NoAnswer(url, f"the reply was {limit}") from None
            except requests.RequestException as error:
                if _connect_failure(error):  # never sent, deadline or not
                    raise not_connected(url, type(error).__name__) from None
                if isinstance(error, requests.Timeout) or watch.expired:
                    raise self._late(url) from None
                raise NoAnswer(url, "the connection was dropped") from None
            if watch.expired:  # cut at the deadline: what was read may end anywhere
                raise self._late(url)
        return Answer(
            response.status_code,
            content,
            response.headers.get("Content-Type", ""),
            retry_after(response.headers.get("Retry-After")),
        )

    def _late(self, url: str) -> NoAnswer:
        return NoAnswer(url, f"no complete answer within {self.timeout:g} seconds")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()
