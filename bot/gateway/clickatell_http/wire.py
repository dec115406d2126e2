"""The HTTP layer of the legacy API: hand-built form bodies, one pooled POST, transport errors.

Every request is a form POST. The body is built by hand because the two values that matter must
be exact: commas in `to` stay literal (a `%2C` list reached only the first recipient in
production) and plain `text` is its Latin-1 bytes percent-encoded (UCS-2 text is hex already).

Transport failures are mapped here, at the boundary, onto the port's error tree: a connection
that was never made is `NotSent`; a request that went out without a complete reply is `NoReply`
(the client decides whether that makes a send's outcome unknown); an HTTP error status or a
non-protocol answer is `Garbled`, and so is a reply larger than `MAX_REPLY`: replies are read as
a stream and no further than that, so a gateway (or anything posing as one) cannot make the app
hold hundreds of megabytes. Each request has one deadline, the client's timeout, for all of it
(`deadline`): a reply trickled a byte at a time counts as no reply once that time is up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

import requests
from urllib3.exceptions import NewConnectionError

from bot.gateway.base import GatewayError, NotSent, Unavailable
from bot.gateway.http_deadline import (
    MAX_REPLY,
    SHARED,
    Deadlines,
    ReplyTooLarge,
    bounded_body,
    watch_session,
)

Pairs = list[tuple[str, str | bytes]]

# The largest reply read: about 100 times any real one (a 300-recipient sendmsg answer is ~10 KiB).
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
# Values whose commas must reach the gateway literally (recipient lists).
_LITERAL_COMMAS = frozenset({"to"})
# form_body runs on every call, so it skips urllib's per-byte quoting: characters that
# percent-encoding never changes are matched at once, and every other byte of a Latin-1 value is
# looked up in a table (the same `%XX` as quote_from_bytes(value, safe="")).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_PERCENT_ENCODED = {
    byte: f"%{byte:02X}"
    for byte in range(256)
    if not (chr(byte).isascii() and (chr(byte).isalnum() or chr(byte) in "_.~-"))
}


# --- transport failures -------------------------------------------------------------------------


def not_connected(url: str, reason: str) -> NotSent:
    """The request never left: the gateway is unreachable at `url`."""
    text = f"Could not connect to the gateway at {url}: {reason}"
    explanation = f"{text}. Nothing was sent; check CLICKATELL_BASE_URL and the network."
    return NotSent(None, text, explanation)


class NoReply(Unavailable):
    """The request was sent but no complete reply came back (timeout or dropped connection).
    For a query that means "try later"; for a send the client settles the outcome first."""

    def __init__(self, url: str, reason: str):
        text = f"No reply from the gateway at {url}: {reason}"
        super().__init__(None, text, f"{text}. Try again later.")


class Garbled(GatewayError):
    """A reply that is not the protocol (HTTP error status, or a body that does not parse)."""


def _connect_failure(error: requests.RequestException) -> bool:
    """True when the request certainly never left: connect timeout or connection refused."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


# --- bodies -------------------------------------------------------------------------------------


def form_body(pairs: Iterable[tuple[str, str | bytes]]) -> bytes:
    """An application/x-www-form-urlencoded body. Bytes values (Latin-1 text) are percent-encoded
    byte for byte; `to` keeps its commas literal; everything else is fully percent-encoded."""
    out = []
    for key, value in pairs:
        if isinstance(value, bytes):
            encoded = value.decode("latin-1").translate(_PERCENT_ENCODED)
        elif _UNRESERVED.fullmatch(value):
            encoded = value  # IDs, numbers, flags: percent-encoding leaves them as they are
        else:
            encoded = quote(value, safe="," if key in _LITERAL_COMMAS else "")
        name = key if _UNRESERVED.fullmatch(key) else quote(key, safe="")
        out.append(f"{name}={encoded}")
    return "&".join(out).encode("ascii")


# --- the transport ------------------------------------------------------------------------------


class Transport:
    """POSTs to one gateway through one `requests.Session` (one connection pool, keep-alive)."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        session: requests.Session | None = None,
        deadlines: Deadlines = SHARED,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = session or requests.Session()
        self._owns_http = session is None
        self._deadlines = deadlines
        watch_session(self._http)
        # Environment settings (proxies, CA bundle) are resolved once, not on every request:
        # Session.request re-reads os.environ and ~/.netrc per call, which costs more than
        # the rest of a call to a nearby gateway.
        found = self._http.merge_environment_settings(self.base_url + "/", {}, None, None, None)
        self._settings = {key: found[key] for key in ("proxies", "verify", "cert")}
        self._templates: dict[str, requests.PreparedRequest] = {}

    def _prepared(self, url: str, body: bytes) -> requests.PreparedRequest:
        """A POST of `body` to `url`, copied from a per-URL template prepared once by the
        Session (its headers, cookies and auth), so each call only fills in the body."""
        template = self._templates.get(url)
        if template is None:
            template = self._http.prepare_request(
                requests.Request("POST", url, headers=_FORM_HEADERS)
            )
            self._templates[url] = template
        prepared = template.copy()
        prepared.prepare_body(body, None)
        return prepared

    def post(self, path: str, pairs: Pairs) -> bytes:
        """One POST through the Session's connection pool. The adapter is called directly:
        the gateway uses no cookies, redirects or hooks, and skipping that per-request
        machinery makes a call markedly cheaper (see bench/README.md)."""
        url = self.base_url + path
        prepared = self._prepared(url, form_body(pairs))
        with self._deadlines.watching(self.timeout) as watch:
            try:
                adapter = self._http.get_adapter(url)
                response = adapter.send(
                    prepared, stream=True, timeout=self.timeout, **self._settings
                )
                body = bounded_body(response)
            except ReplyTooLarge:
                raise _too_large(url) from None
            except requests.RequestException as error:
                if _connect_failure(error):  # never sent, deadline or not
                    raise not_connected(url, type(error).__name__) from None
                if isinstance(error, requests.Timeout) or watch.expired:
                    raise self._late(url) from None
                raise NoReply(url, "the connection was dropped") from None
            if watch.expired:  # cut at the deadline: what was read may end anywhere
                raise self._late(url)
        if response.status_code != 200:
            text = f"The gateway at {url} answered HTTP {response.status_code}"
            raise Garbled(None, text, f"{text}; check CLICKATELL_BASE_URL.")
        return body

    def _late(self, url: str) -> NoReply:
        return NoReply(url, f"no complete reply within {self.timeout:g} seconds")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()


def _too_large(url: str) -> Garbled:
    text = f"The gateway at {url} sent a reply larger than {MAX_REPLY >> 20} MiB"
    return Garbled(None, text, f"{text}; it was not read. Check CLICKATELL_BASE_URL.")
