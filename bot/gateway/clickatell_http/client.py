"""ClickatellClient: every command of the Clickatell HTTP API (protocol reference §1-§5).

What it guarantees, and why:

* One `requests.Session` (one connection pool) and one gateway session: `auth` runs lazily once,
  again only when the session has been idle for almost the gateway's 15 minutes, or once when the
  gateway says `003`/`005`. Threads share the session; a lock plus a generation counter make
  concurrent callers that all hit an expired session cause exactly one re-authentication.
* Every request is a form POST. The body is built by hand because the two values that matter
  must be exact: commas in `to` stay literal (a `%2C` list reached only the first recipient in
  production) and plain `text` is its Latin-1 bytes percent-encoded (UCS-2 text is hex already).
* Numbers are normalized and text is encoded and measured before any call, so refusals
  (`InvalidNumber`, `TextTooLong`, `Refused`) cost nothing.
* Sends are idempotent. Each `sendmsg` carries a `climsgid` (one per chunk of at most 300
  recipients). When a send's outcome is unknown (timeout, connection dropped after sending,
  unreadable reply, `901`) the client asks `querymsg` by that `climsgid` before anything else
  (after no reply, only once the gateway has had as long again to finish the request):
  found means sent (never resent); `104` means the gateway never saw it, so resending is safe
  (a bounded number of times); a failed check raises `OutcomeUnknown` and nothing is resent.
  A climsgid a person chose (`send(..., skip_if_sent=True)`) is asked about before `sendmsg`:
  the gateway accepts a reused climsgid, so a repeated `send --id X` would otherwise reach the
  phone twice. Found, the earlier message is returned (`RecipientResult.already_sent`) and
  nothing is sent. The command line and Slack both rely on this one check.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import quote

import requests
from urllib3.exceptions import NewConnectionError

from bot.clickatell import replies
from bot.clickatell.codes import describe_status, gateway_error
from bot.clickatell.types import (
    Coverage,
    GatewayError,
    MessageCharge,
    MessageStatus,
    OutcomeUnknown,
    RecipientResult,
    Redeemed,
    SendResult,
)
from bot.sms.encoding import PLAIN_CHARACTERS, EncodedText, Encoding, encode_text
from bot.sms.identifiers import validate_client_id, validate_sender
from bot.sms.numbers import normalize_msisdn
from bot.sms.refusals import Refused

SESSION_TTL = 900.0  # the gateway's idle expiry (§2)
RENEW_AFTER = SESSION_TTL - 60.0  # re-authenticate a minute early: clocks and latency differ
MAX_RECIPIENTS = 300  # per POST (§1)
SEND_ATTEMPTS = 3  # sendmsg tries for one chunk, counting resends after a confirmed "not seen"
BACKOFF_901 = (0.5, 1.0, 2.0)  # waits before retrying after "901 Internal error (retry)"
MAX_SCHEDULE = timedelta(days=7)
SESSION_CODES = frozenset({"003", "005"})

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
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_MSG_TYPE = re.compile(r"[A-Z0-9_]{1,32}")
_VOUCHER = re.compile(r"[0-9]{16}")  # not \d: it matches other scripts' digits too
_FIELD = re.compile(r"(?:field)?([1-9]\d{0,2})")

Pairs = list[tuple[str, str | bytes]]
_T = TypeVar("_T")

# Conversations send to the same numbers again and again; validating a number with phonenumbers
# costs more than the rest of preparing a send, so results are kept (errors are not cached).
_normalize = functools.lru_cache(maxsize=4096)(normalize_msisdn)


# --- transport failures (GatewayError, so non-send commands simply propagate them) -------------


class NotSent(GatewayError):
    """The command certainly did not reach the gateway: the connection was refused or timed out
    while connecting, or authenticating (which comes first) failed."""

    @classmethod
    def connecting(cls, url: str, reason: str) -> NotSent:
        text = f"Could not connect to the gateway at {url}: {reason}"
        explanation = f"{text}. Nothing was sent; check CLICKATELL_BASE_URL and the network."
        return cls(None, text, explanation)


class NoReply(GatewayError):
    """The request was sent but no complete reply came back (timeout or dropped connection)."""

    def __init__(self, url: str, reason: str):
        text = f"No reply from the gateway at {url}: {reason}"
        super().__init__(None, text, f"{text}. Try again later.")


class Garbled(GatewayError):
    """A reply that is not the protocol (HTTP error status, or a body that does not parse)."""


# --- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    check: Callable[[str], bool]
    rule: str


def _int_in(low: int, high: int) -> Callable[[str], bool]:
    # isascii: str.isdigit() also accepts digits of other scripts, which the gateway does not.
    return lambda value: value.isascii() and value.isdigit() and low <= int(value) <= high


# §4 parameters passed through **params (to, text, from, climsgid, scheduled_time, deliv_time,
# unicode and concat have their own arguments or are set by the client).
SEND_PARAMS: dict[str, _Param] = {
    "mo": _Param(_int_in(0, 1), "0 or 1"),
    "callback": _Param(_int_in(0, 7), "0 to 7"),
    "deliv_ack": _Param(_int_in(0, 1), "0 or 1"),
    "max_credits": _Param(
        lambda v: v in {"0.8", "1", "1.5", "2", "2.5", "3"}, "0.8, 1, 1.5, 2, 2.5 or 3"
    ),
    "req_feat": _Param(_int_in(0, 65535), "a feature bit mask (0 to 65535)"),
    "queue": _Param(_int_in(1, 3), "1, 2 or 3"),
    "escalate": _Param(_int_in(0, 1), "0 or 1"),
    "validity": _Param(_int_in(1, 1440), "minutes from 1 to 1440"),
    "msg_type": _Param(lambda v: bool(_MSG_TYPE.fullmatch(v)), "a type such as SMS_TEXT"),
    "udh": _Param(lambda v: bool(_HEX.fullmatch(v)), "hex bytes"),
    "data": _Param(lambda v: bool(_HEX.fullmatch(v)), "hex bytes"),
    "binary": _Param(lambda v: bool(_HEX.fullmatch(v)), "hex bytes"),
}


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def validate_params(params: Mapping[str, object]) -> Pairs:
    """The optional §4 parameters as wire pairs; Refused names the first bad one."""
    pairs: Pairs = []
    for name, value in params.items():
        spec = SEND_PARAMS.get(name)
        if spec is None:
            known = ", ".join(SEND_PARAMS)
            raise Refused(f"Unknown sendmsg parameter {name!r}; known: {known}.")
        if value is None:
            continue
        text = _param_text(value)
        if not spec.check(text):
            raise Refused(f"Parameter {name}={text!r} is invalid: it must be {spec.rule}.")
        pairs.append((name, text))
    return pairs


def by_either_id(lookup: Callable[..., _T], message_id: str) -> _T:
    """`lookup(message_id)` by apimsgid, or by climsgid when the gateway does not know the
    apimsgid (103): people quote either ID (`send` prints both). The command line and Slack both
    use this, so they answer alike. When neither is known, the first error (103, which names
    the gateway's ID) is the one raised; so is it when the ID cannot be a climsgid at all."""
    try:
        return lookup(message_id)
    except GatewayError as error:
        if error.code != "103":
            raise
        try:
            validate_client_id(message_id)
            return lookup(climsgid=message_id)
        except Refused:
            raise error from None
        except GatewayError as second:
            if second.code != "104":
                raise
            raise error from None


def new_climsgid() -> str:
    """A fresh climsgid: 24 random hex digits (96 bits), leaving room for a chunk suffix within
    the gateway's 32 characters."""
    return secrets.token_hex(12)


def chunk_climsgid(base: str, index: int, chunks: int) -> str:
    """The climsgid of chunk `index` (0-based) of a send split into `chunks` POSTs.

    A single chunk uses `base` itself. Otherwise `base` + "c" + the chunk number when that fits in
    32 characters, else a hash of both (deterministic, so a retried send derives the same IDs)."""
    if chunks == 1:
        return base
    derived = f"{base}c{index + 1}"
    if len(derived) <= 32:
        return derived
    return hashlib.sha256(f"{base}:{index}".encode()).hexdigest()[:32]


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


def _chunks(items: Sequence[str], size: int = MAX_RECIPIENTS) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _recipient_list(to: str | Sequence[str]) -> list[str]:
    if isinstance(to, str):
        return [item for item in to.split(",") if item.strip()]
    return [str(item) for item in to]


def _connect_failure(error: requests.RequestException) -> bool:
    """True when the request certainly never left: connect timeout or connection refused."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


# --- the client ---------------------------------------------------------------------------------


class ClickatellClient:
    """A thread-safe client for one Clickatell account (or the sandbox)."""

    def __init__(
        self,
        base_url: str,
        api_id: str,
        user: str,
        password: str,
        *,
        timeout: float = 10.0,
        max_parts: int = 3,
        default_region: str | None = None,
        default_sender: str | None = None,
        callback: int = 7,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wallclock: Callable[[], float] = time.time,
    ):
        self.base_url = base_url.rstrip("/")
        self._credentials = (("api_id", api_id), ("user", user), ("password", password))
        self.timeout = timeout
        self.max_parts = max_parts
        self.default_region = default_region
        self.default_sender = validate_sender(default_sender) if default_sender else None
        self.callback = callback
        self._http = session or requests.Session()
        self._owns_http = session is None
        # Environment settings (proxies, CA bundle) are resolved once, not on every request:
        # Session.request re-reads os.environ and ~/.netrc per call, which costs more than
        # the rest of a call to a nearby gateway.
        found = self._http.merge_environment_settings(self.base_url + "/", {}, None, None, None)
        self._transport = {key: found[key] for key in ("proxies", "verify", "cert")}
        self._templates: dict[str, requests.PreparedRequest] = {}
        self._clock, self._sleep, self._wallclock = clock, sleep, wallclock
        self._lock = threading.Lock()
        self._session_id: str | None = None
        self._generation = 0
        self._last_use = -math.inf
        self._batch_encodings: dict[str, Encoding] = {}

    # --- transport ---

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

    def _post(self, path: str, pairs: Pairs) -> bytes:
        """One POST through the Session's connection pool. The adapter is called directly:
        the gateway uses no cookies, redirects or hooks, and skipping that per-request
        machinery makes a call markedly cheaper (see bench/README.md)."""
        url = self.base_url + path
        prepared = self._prepared(url, form_body(pairs))
        try:
            adapter = self._http.get_adapter(url)
            response = adapter.send(prepared, timeout=self.timeout, **self._transport)
            body = response.content
        except requests.RequestException as error:
            if _connect_failure(error):
                raise NotSent.connecting(url, type(error).__name__) from None
            if isinstance(error, requests.Timeout):
                raise NoReply(url, f"nothing within {self.timeout:g} seconds") from None
            raise NoReply(url, "the connection was dropped") from None
        if response.status_code != 200:
            text = f"The gateway at {url} answered HTTP {response.status_code}"
            raise Garbled(None, text, f"{text}; check CLICKATELL_BASE_URL.")
        return body

    # --- session ---

    def _authenticate(self) -> None:
        """Run `auth` (caller holds the lock) and start a new session generation."""
        started = self._clock()
        body = self._post("/http/auth", list(self._credentials))
        self._session_id = replies.read_session_id(body)
        self._generation += 1
        self._last_use = started

    def _session(self) -> tuple[str, int]:
        with self._lock:
            idle = self._clock() - self._last_use
            if self._session_id is None or idle >= RENEW_AFTER:
                self._authenticate()
            assert self._session_id is not None
            return self._session_id, self._generation

    def _expire(self, generation: int) -> None:
        """Forget the session the gateway refused, unless another thread already replaced it."""
        with self._lock:
            if self._generation == generation:
                self._session_id = None

    def _command(self, path: str, pairs: Pairs, *, retry_901: bool = True) -> bytes:
        """An authenticated call: reuses the session, re-authenticates once on 003/005 and
        retries, and retries 901 with backoff (unless the caller handles 901 itself)."""
        renewed = False
        waits = iter(BACKOFF_901 if retry_901 else ())
        while True:
            try:
                session_id, generation = self._session()
            except NotSent:
                raise
            except GatewayError as error:
                # The command itself never left: callers may treat it as not sent.
                raise NotSent(error.code, error.description, error.explanation) from None
            started = self._clock()
            body = self._post(path, [("session_id", session_id), *pairs])
            error = replies.call_error(body)
            code = error.code if error else None
            if code in SESSION_CODES and not renewed:
                self._expire(generation)
                renewed = True
                continue
            if code not in SESSION_CODES:
                self._last_use = max(self._last_use, started)
            if code == "901" and (wait := next(waits, None)) is not None:
                self._sleep(wait)
                continue
            return body

    def auth(self) -> str:
        """Authenticate now (a new session) and return the session ID."""
        with self._lock:
            self._authenticate()
            assert self._session_id is not None
            return self._session_id

    def ping(self) -> None:
        """Keep the session alive (`ping` answers `OK:`)."""
        replies.read_ok(self._command("/http/ping", []))

    # --- sending ---

    def send(
        self,
        to: str | Sequence[str],
        text: str,
        *,
        sender: str | None = None,
        climsgid: str | None = None,
        scheduled_time: datetime | int | None = None,
        deliv_time: int | None = None,
        skip_if_sent: bool = False,
        **params: object,
    ) -> SendResult:
        """Send `text` to one or many recipients; one result per distinct number, in the order
        first given. Per-recipient refusals are in each result's `error`.

        `skip_if_sent`: `climsgid` is one a person chose (`send --id X`) and may have been used
        already. The gateway would accept it again, so querymsg is asked first, and a message
        it knows is returned (`already_sent`) instead of being sent again. Callers passing an ID
        they generated and recorded themselves leave it off: asking would only cost a call.

        Raises before any call: InvalidNumber, TextTooLong, Refused. Raises GatewayError when the
        first chunk fails as a whole (OutcomeUnknown when it may have been sent); once a chunk
        has been sent, later failures are reported per recipient instead so no result is lost.
        """
        numbers = self._numbers(to)
        encoded = encode_text(text, self.max_parts)
        base = validate_client_id(climsgid) if climsgid is not None else new_climsgid()
        pairs = self._send_pairs(encoded, sender, scheduled_time, deliv_time, params)
        chunks = _chunks(numbers)
        ids = [chunk_climsgid(base, index, len(chunks)) for index in range(len(chunks))]

        def send_chunk(chunk: list[str], chunk_id: str) -> list[RecipientResult]:
            if skip_if_sent and (found := self._sent_before(chunk, chunk_id)):
                return found
            return self._send_chunk(chunk, pairs, chunk_id)

        results = _each_chunk(chunks, ids, send_chunk)
        return SendResult(tuple(results), encoded.parts, encoded.encoding)

    def _numbers(self, to: str | Sequence[str]) -> list[str]:
        raw = _recipient_list(to)
        if not raw:
            raise Refused("There is no recipient: give at least one phone number.")
        # One SMS per phone: a number typed twice (in any format) is sent once.
        return list(dict.fromkeys(_normalize(n, self.default_region) for n in raw))

    def _send_pairs(
        self,
        encoded: EncodedText,
        sender: str | None,
        scheduled_time: datetime | int | None,
        deliv_time: int | None,
        params: Mapping[str, object],
    ) -> Pairs:
        extra = validate_params(params)
        given = {name for name, _ in extra}
        pairs: Pairs = [
            ("text", encoded.text),
            ("unicode", "1" if encoded.unicode else "0"),
            ("concat", str(encoded.parts)),
        ]
        if "callback" not in given:
            pairs.append(("callback", str(self.callback)))
        sender = sender or self.default_sender
        if sender:
            pairs.append(("from", validate_sender(sender)))
            if "mo" not in given:
                pairs.append(("mo", "1"))
        pairs += self._timing(scheduled_time, deliv_time)
        return pairs + extra

    def _timing(self, scheduled_time: datetime | int | None, deliv_time: int | None) -> Pairs:
        if scheduled_time is not None and deliv_time is not None:
            raise Refused("Give either a scheduled time or a delivery delay, not both.")
        if deliv_time is not None:
            minutes = _param_text(deliv_time)
            if not _int_in(1, 10080)(minutes):
                raise Refused(f"Delivery delay {deliv_time} must be 1 to 10080 minutes (7 days).")
            return [("deliv_time", str(int(minutes)))]
        if scheduled_time is None:
            return []
        if isinstance(scheduled_time, datetime):
            if scheduled_time.tzinfo is None:
                raise Refused("The scheduled time needs a time zone (use UTC).")
            seconds = int(scheduled_time.timestamp())
        elif isinstance(scheduled_time, int) and not isinstance(scheduled_time, bool):
            seconds = scheduled_time
        else:
            raise Refused("The scheduled time must be a datetime or Unix seconds.")
        now = self._wallclock()
        if seconds <= now:
            raise Refused("The scheduled time is in the past; give a future time.")
        if seconds - now > MAX_SCHEDULE.total_seconds():
            raise Refused("The scheduled time is more than 7 days ahead; the gateway allows 7.")
        return [("scheduled_time", str(seconds))]

    def _send_chunk(self, numbers: list[str], pairs: Pairs, climsgid: str) -> list[RecipientResult]:
        """One sendmsg POST (at most 300 recipients), made safe to retry by its climsgid."""
        request: Pairs = [("to", ",".join(numbers)), *pairs, ("climsgid", climsgid)]
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return self._send_once(numbers, request, climsgid)
            except GatewayError as error:
                if not _unknown_outcome(error):
                    raise
                cause = error
            if cause.code == "901":
                self._sleep(BACKOFF_901[min(attempt, len(BACKOFF_901)) - 1])
            elif isinstance(cause, NoReply):
                # The gateway may still be working on the request it did not answer: asked at
                # once, querymsg could say 104 before it commits, and the resend would reach
                # the phone twice. Give it as long again as it had before asking.
                self._sleep(self.timeout)
            found = self._check_sent(numbers, climsgid, cause)
            if found is not None:
                return found
        raise GatewayError(
            cause.code,
            f"Not sent after {SEND_ATTEMPTS} attempts: {cause.description}",
            f"The message was not sent ({cause.explanation}). Try again later.",
        )

    def _send_once(
        self, numbers: list[str], request: Pairs, climsgid: str
    ) -> list[RecipientResult]:
        body = self._command("/http/sendmsg", request, retry_901=False)
        error = replies.call_error(body)
        if error is not None and error.code == "901":
            raise error
        return _match(numbers, climsgid, replies.read_send(body))

    def _check_sent(
        self, numbers: list[str], climsgid: str, cause: GatewayError
    ) -> list[RecipientResult] | None:
        """After an unknown outcome: the results if the gateway has the message, None if it
        certainly does not (104: safe to resend); OutcomeUnknown if it cannot be told."""
        try:
            body = self._command("/http/querymsg", [("climsgid", climsgid)])
            error = replies.call_error(body)
            if error is not None and error.code == "104":
                return None
            apimsgid, _status = replies.read_status(body)
        except GatewayError as error:
            raise OutcomeUnknown(
                f"The gateway may or may not have sent message {climsgid} "
                f"({cause.description}); checking failed: {error.explanation}. "
                f"It was not resent: check with 'status {climsgid}' before sending again."
            ) from None
        if len(numbers) == 1:
            return [RecipientResult(numbers[0], apimsgid, climsgid)]
        # querymsg names one message of the chunk; the per-recipient IDs are not known.
        return [RecipientResult(number, None, climsgid) for number in numbers]

    def _sent_before(self, numbers: list[str], climsgid: str) -> list[RecipientResult] | None:
        """The results of an earlier send with this climsgid (marked `already_sent`), or None
        when the gateway does not know it (104). Failing to ask raises: nothing was sent."""
        body = self._command("/http/querymsg", [("climsgid", climsgid)])
        error = replies.call_error(body)
        if error is not None and error.code == "104":
            return None
        apimsgid, status = replies.read_status(body)
        found = MessageStatus(apimsgid, status, describe_status(status))
        if len(numbers) == 1:
            return [RecipientResult(numbers[0], apimsgid, climsgid, already_sent=found)]
        # querymsg names one message of the chunk; the per-recipient IDs are not known.
        return [RecipientResult(n, None, climsgid, already_sent=found) for n in numbers]

    # --- queries ---

    @staticmethod
    def _message_ref(apimsgid: str | None, climsgid: str | None) -> Pairs:
        if (apimsgid is None) == (climsgid is None):
            raise Refused("Give exactly one of apimsgid and climsgid.")
        if apimsgid is not None:
            if not _ALNUM.fullmatch(apimsgid):
                raise Refused(f"Message ID {apimsgid!r} must be letters and digits.")
            return [("apimsgid", apimsgid)]
        return [("climsgid", validate_client_id(climsgid or ""))]

    def query(self, apimsgid: str | None = None, *, climsgid: str | None = None) -> MessageStatus:
        body = self._command("/http/querymsg", self._message_ref(apimsgid, climsgid))
        found, status = replies.read_status(body)
        return MessageStatus(found, status, describe_status(status))

    def cancel(self, apimsgid: str | None = None, *, climsgid: str | None = None) -> MessageStatus:
        body = self._command("/http/delmsg", self._message_ref(apimsgid, climsgid))
        found, status = replies.read_status(body)
        return MessageStatus(found, status, describe_status(status))

    def charge(self, apimsgid: str | None = None, *, climsgid: str | None = None) -> MessageCharge:
        body = self._command("/http/getmsgcharge", self._message_ref(apimsgid, climsgid))
        found, amount, status = replies.read_charge(body)
        return MessageCharge(found, amount, status, describe_status(status))

    def balance(self) -> float:
        return replies.read_balance(self._command("/http/getbalance", []))

    def coverage(self, number: str) -> Coverage:
        msisdn = _normalize(number, self.default_region)
        body = self._command("/utils/routeCoverage.php", [("msisdn", msisdn)])
        routable, charge = replies.read_coverage(body)
        return Coverage(msisdn, routable, charge)

    def redeem(self, voucher: str) -> Redeemed:
        token = re.sub(r"[\s-]", "", voucher)
        if not _VOUCHER.fullmatch(token):
            raise Refused("A voucher is 16 digits.")
        try:
            code = replies.read_ok(self._command("/http/token_pay", [("token", token)]))
        except GatewayError as error:
            if error.code != "101":
                raise
            # The token is well-formed (checked above), so 101 is the gateway refusing this
            # voucher; the generic "parameter missing" words would send people hunting a bug.
            raise GatewayError(
                error.code,
                error.description,
                "The gateway refused the voucher: it is not a valid voucher or has already been "
                "redeemed (each works once). Check the 16 digits.",
            ) from None
        return Redeemed(True, code)

    # --- batches ---

    def start_batch(self, template: str, **params: object) -> str:
        """`startbatch` with a template holding #field1#…#fieldN#. `concat` is the configured
        maximum (the final length depends on the fields); `sender`/`scheduled_time`/
        `deliv_time` work as in `send`."""
        sender = params.pop("sender", None)
        scheduled = params.pop("scheduled_time", None)
        deliv = params.pop("deliv_time", None)
        encoded = encode_text(template, None)
        pairs = self._send_pairs(encoded, sender, scheduled, deliv, params)  # type: ignore[arg-type]
        pairs = [("template" if k == "text" else k, v) for k, v in pairs]
        pairs = [(k, str(self.max_parts) if k == "concat" else v) for k, v in pairs]
        batch_id = replies.read_id(self._command("/http_batch/startbatch", pairs))
        self._batch_encodings[batch_id] = encoded.encoding
        return batch_id

    def _field_value(self, batch_id: str, name: str, value: str) -> str | bytes:
        encoding = self._batch_encodings.get(batch_id, "gsm7")
        if encoding == "ucs2":
            try:
                return value.encode("utf-16-be").hex().upper()
            except UnicodeEncodeError:
                raise Refused(f"Field {name} holds an invalid character.") from None
        if any(char not in PLAIN_CHARACTERS for char in value):
            raise Refused(
                f"Field {name} holds characters plain SMS cannot carry; start the batch with "
                "a template that needs Unicode."
            )
        return value.encode("latin-1")

    def send_item(self, batch_id: str, to: str, fields: Mapping[str, str]) -> str:
        """`senditem`: one personalised message of a batch; fields are "field1"… or "1"…."""
        msisdn = _normalize(to, self.default_region)
        pairs: Pairs = [("batch_id", batch_id), ("to", msisdn)]
        for key, value in fields.items():
            match = _FIELD.fullmatch(str(key))
            if not match:
                raise Refused(f"Batch field {key!r} must be named field1, field2, …")
            name = f"field{match.group(1)}"
            pairs.append((name, self._field_value(batch_id, name, str(value))))
        return self._batch_send(
            "/http_batch/senditem", pairs, replies.read_id, f"The batch message to {msisdn}"
        )

    def quicksend(self, batch_id: str, to: Sequence[str]) -> tuple[RecipientResult, ...]:
        """`quicksend`: the batch template to many numbers, 300 per POST, results in order.
        A chunk whose outcome is unknown is OutcomeUnknown (raised for the first chunk, per
        recipient after that, like `send`)."""
        chunks = _chunks(self._numbers(to))

        def send_chunk(chunk: list[str], _climsgid: str) -> list[RecipientResult]:
            pairs: Pairs = [("batch_id", batch_id), ("to", ",".join(chunk))]
            return self._batch_send(
                "/http_batch/quicksend",
                pairs,
                lambda body: _match(chunk, "", replies.read_send(body)),
                f"The batch message to {len(chunk)} number{'s' if len(chunk) > 1 else ''}",
            )

        return tuple(_each_chunk(chunks, [""] * len(chunks), send_chunk))

    def _batch_send(self, path: str, pairs: Pairs, read: Callable[[bytes], _T], what: str) -> _T:
        """senditem/quicksend carry no climsgid, so an unknown outcome cannot be checked with
        querymsg: nothing is retried (not even 901), and no reply, an unreadable one or a 901
        is OutcomeUnknown, which tells the caller not to resend blindly."""
        try:
            body = self._command(path, pairs, retry_901=False)
            error = replies.call_error(body)
            if error is not None and error.code == "901":
                raise error
            return read(body)
        except GatewayError as error:
            if not _unknown_outcome(error):
                raise
            raise OutcomeUnknown(
                f"{what} may or may not have been sent ({error.description}); it was not "
                "resent. Check the batch's messages before sending again."
            ) from None

    def end_batch(self, batch_id: str) -> None:
        replies.read_ok(self._command("/http_batch/endbatch", [("batch_id", batch_id)]))
        self._batch_encodings.pop(batch_id, None)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ClickatellClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- helpers ------------------------------------------------------------------------------------


def _unknown_outcome(error: GatewayError) -> bool:
    """Failures after which a sendmsg may or may not have been taken by the gateway."""
    if isinstance(error, NotSent | OutcomeUnknown):
        return False
    return isinstance(error, NoReply | Garbled) or error.code == "901" or error.code is None


def _match(
    numbers: list[str], climsgid: str, lines: list[replies.SendLine]
) -> list[RecipientResult]:
    """Results in the order of `numbers`: lines are matched by `To:`; lines with an empty or
    unknown `To:` go to the remaining numbers in order; a single line without `To:` (the
    single-recipient form, or a call-level ERR) applies to every number."""
    if len(lines) == 1 and lines[0].to is None:
        line = lines[0]
        if line.error is None and len(numbers) > 1:
            raise Garbled(None, "One message ID for several recipients", "Unreadable reply.")
        return [RecipientResult(n, line.apimsgid, climsgid, line.error) for n in numbers]
    assigned: dict[str, replies.SendLine] = {}
    leftovers = []
    wanted = set(numbers)
    for line in lines:
        if line.to and line.to in wanted and line.to not in assigned:
            assigned[line.to] = line
        else:
            leftovers.append(line)
    unassigned = [n for n in numbers if n not in assigned]
    assigned.update(zip(unassigned, leftovers, strict=False))
    results = []
    for number in numbers:
        line = assigned.get(number)
        if line is None:
            missing = OutcomeUnknown(f"The gateway's reply did not mention {number}.")
            results.append(RecipientResult(number, None, climsgid, missing))
        else:
            results.append(RecipientResult(number, line.apimsgid, climsgid, line.error))
    return results


def _each_chunk(
    chunks: list[list[str]],
    ids: list[str],
    send_one: Callable[[list[str], str], list[RecipientResult]],
) -> list[RecipientResult]:
    """Every chunk's results, in order. A failing first chunk is raised (nothing was sent);
    after that the failing chunk's recipients carry its error and later chunks are not tried,
    so the results of chunks already sent are never lost: a caller that lost them could only
    resend, and those phones would get the SMS twice."""
    results: list[RecipientResult] = []
    for index, (chunk, chunk_id) in enumerate(zip(chunks, ids, strict=True)):
        try:
            results += send_one(chunk, chunk_id)
        except GatewayError as error:
            if index == 0:
                raise
            results += [RecipientResult(n, None, chunk_id, error) for n in chunk]
            skipped = gateway_error(
                None, f"Not sent: an earlier part of this send failed ({error})."
            )
            results += [
                RecipientResult(n, None, ids[later], skipped)
                for later in range(index + 1, len(chunks))
                for n in chunks[later]
            ]
            break
    return results
