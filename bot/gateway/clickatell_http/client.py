"""ClickatellClient: every command of the Clickatell HTTP API (protocol reference §1-§5).

What it guarantees, and why:

* One `requests.Session` (one connection pool, `wire.Transport`) and one gateway session: `auth`
  runs lazily once, again only when the session has been idle for almost the gateway's 15
  minutes, or once when the gateway says `003`/`005`. Threads share the session; a lock plus a
  generation counter make concurrent callers that all hit an expired session cause exactly one
  re-authentication.
* Numbers are normalized and text is encoded and measured before any call, so refusals
  (`InvalidNumber`, `TextTooLong`, `Refused`) cost nothing.
* Sends are idempotent. Each `sendmsg` carries a `climsgid` (one per chunk of at most 300
  recipients, `chunks`). When a send's outcome is unknown (timeout, connection dropped after
  sending, unreadable reply, `901`) the client asks `querymsg` by that `climsgid` before
  anything else (after no reply, only once the gateway has had as long again to finish the
  request): found means sent (never resent); `104` means the gateway never saw it, so resending
  is safe (a bounded number of times); a failed check raises `OutcomeUnknown` and nothing is
  resent. A climsgid a person chose (`send(..., skip_if_sent=True)`) is asked about before
  `sendmsg`: the gateway accepts a reused climsgid, so a repeated `send --id X` would otherwise
  reach the phone twice. Found, the earlier message is returned (`RecipientResult.already_sent`)
  and nothing is sent. The command line and Slack both rely on this one check.

The batch commands are in `batch`, the send parameters in `params`, the HTTP layer in `wire`.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import requests

from bot.gateway.base import Coverage, GatewayError, NotSent, OutcomeUnknown, Redeemed, Unavailable
from bot.gateway.clickatell_http import replies
from bot.gateway.clickatell_http.batch import BatchCommands
from bot.gateway.clickatell_http.chunks import (
    MAX_RECIPIENTS,
    Chunk,
    each_chunk,
    match,
    new_climsgid,
    split,
    unknown_outcome,
)
from bot.gateway.clickatell_http.codes import describe_status
from bot.gateway.clickatell_http.params import SendDefaults, Timing, send_pairs
from bot.gateway.clickatell_http.types import (
    MessageCharge,
    MessageStatus,
    RecipientResult,
    SendResult,
)
from bot.gateway.clickatell_http.wire import NoReply, Pairs, Transport
from bot.gateway.http_deadline import SHARED, Deadlines
from bot.sms.encoding import EncodedText, Encoding, encode_text
from bot.sms.identifiers import validate_client_id, validate_sender
from bot.sms.numbers import normalize_cached
from bot.sms.refusals import Refused

SESSION_TTL = 900.0  # the gateway's idle expiry (§2)
RENEW_AFTER = SESSION_TTL - 60.0  # re-authenticate a minute early: clocks and latency differ
SEND_ATTEMPTS = 3  # sendmsg tries for one chunk, counting resends after a confirmed "not seen"
BACKOFF_901 = (0.5, 1.0, 2.0)  # waits before retrying after "901 Internal error (retry)"
SESSION_CODES = frozenset({"003", "005"})

_ALNUM = re.compile(r"[A-Za-z0-9]+")
_VOUCHER = re.compile(r"[0-9]{16}")  # not \d: it matches other scripts' digits too

# Conversations send to the same numbers again and again; validating a number with phonenumbers
# costs more than the rest of preparing a send, so results are kept (errors are not cached).
# Planning a send (the gateway port) and sending it share this cache.
normalize = normalize_cached


def _recipient_list(to: str | Sequence[str]) -> list[str]:
    if isinstance(to, str):
        return [item for item in to.split(",") if item.strip()]
    return [str(item) for item in to]


class ClickatellClient(BatchCommands):
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
        deadlines: Deadlines = SHARED,
    ):
        self._transport = Transport(base_url, timeout, session, deadlines)
        self.base_url = self._transport.base_url
        self._credentials = (("api_id", api_id), ("user", user), ("password", password))
        self.timeout = timeout
        self.max_parts = max_parts
        self.default_region = default_region
        self.default_sender = validate_sender(default_sender) if default_sender else None
        self.callback = callback
        self._clock, self._sleep, self._wallclock = clock, sleep, wallclock
        self._lock = threading.Lock()
        # Signalled when an `auth` in flight ends: the threads that need the session wait for
        # it instead of holding the lock across the network call.
        self._renewed = threading.Condition(self._lock)
        self._renewing: _Renewal | None = None
        self._session_id: str | None = None
        self._generation = 0
        self._last_use = -math.inf
        self._batch_encodings: dict[str, Encoding] = {}

    # --- session ---

    def _authenticate(self) -> None:
        """Run `auth` and start a new session generation. One thread at a time: others that
        need the session meanwhile wait for its outcome (success or the same failure), and no
        lock is held during the network call, so nothing else ever waits longer than one
        deadline for it."""
        with self._lock:
            renewal = self._renewing
            if renewal is None:
                renewal = self._renewing = _Renewal()
                mine = True
            else:
                mine = False
                while not renewal.done:
                    self._renewed.wait()
        if not mine:
            if renewal.error is not None:
                raise renewal.error
            return
        started = self._clock()
        try:
            session_id = replies.read_session_id(
                self._transport.post("/http/auth", list(self._credentials))
            )
        except BaseException as error:
            self._renewal_done(renewal, error=error)
            raise
        with self._lock:
            self._session_id = session_id
            self._generation += 1
            self._last_use = started
        self._renewal_done(renewal)

    def _renewal_done(self, renewal: _Renewal, error: BaseException | None = None) -> None:
        with self._lock:
            renewal.done, renewal.error = True, error
            self._renewing = None
            self._renewed.notify_all()

    def _session(self) -> tuple[str, int]:
        while True:
            with self._lock:
                idle = self._clock() - self._last_use
                if self._session_id is not None and idle < RENEW_AFTER:
                    return self._session_id, self._generation
                if idle >= RENEW_AFTER:
                    self._session_id = None
            self._authenticate()

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
            body = self._transport.post(path, [("session_id", session_id), *pairs])
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
        self._authenticate()
        with self._lock:
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
        return self._send_all(split(numbers, base), encoded, pairs, skip_if_sent)

    def send_chunks(
        self,
        chunks: Sequence[Chunk],
        text: str,
        *,
        sender: str | None = None,
        scheduled_time: datetime | int | None = None,
        skip_if_sent: bool = False,
    ) -> SendResult:
        """`send` with its chunks given: climsgids the caller planned and recorded beforehand
        (`chunks.split`), so a crash before the answer is settled by asking for them."""
        checked = [self._checked_chunk(chunk) for chunk in chunks]
        if not checked:
            raise Refused("There is no recipient: give at least one phone number.")
        encoded = encode_text(text, self.max_parts)
        pairs = self._send_pairs(encoded, sender, scheduled_time, None, {})
        return self._send_all(checked, encoded, pairs, skip_if_sent)

    def _checked_chunk(self, chunk: Chunk) -> Chunk:
        numbers = self._numbers(chunk.numbers)
        if len(numbers) > MAX_RECIPIENTS:
            raise Refused(
                f"{len(numbers)} recipients share client ID {chunk.climsgid}; "
                f"one POST takes at most {MAX_RECIPIENTS}."
            )
        return Chunk(tuple(numbers), validate_client_id(chunk.climsgid))

    def _send_all(
        self, chunks: Sequence[Chunk], encoded: EncodedText, pairs: Pairs, skip_if_sent: bool
    ) -> SendResult:
        def send_chunk(chunk: Chunk) -> list[RecipientResult]:
            numbers, climsgid = chunk.numbers, chunk.climsgid
            if skip_if_sent and (found := self._sent_before(numbers, climsgid)):
                return found
            return self._send_chunk(numbers, pairs, climsgid)

        results = each_chunk(chunks, send_chunk)
        return SendResult(tuple(results), encoded.parts, encoded.encoding)

    def _numbers(self, to: str | Sequence[str]) -> list[str]:
        raw = _recipient_list(to)
        if not raw:
            raise Refused("There is no recipient: give at least one phone number.")
        # One SMS per phone: a number typed twice (in any format) is sent once.
        return list(dict.fromkeys(normalize(n, self.default_region) for n in raw))

    def _send_pairs(
        self,
        encoded: EncodedText,
        sender: str | None,
        scheduled_time: datetime | int | None,
        deliv_time: int | None,
        params: Mapping[str, object],
    ) -> Pairs:
        timing = Timing(scheduled_time, deliv_time, self._wallclock)
        defaults = SendDefaults(self.callback, self.default_sender)
        return send_pairs(encoded, sender, timing, params, defaults)

    def _send_chunk(
        self, numbers: Sequence[str], pairs: Pairs, climsgid: str
    ) -> list[RecipientResult]:
        """One sendmsg POST (at most 300 recipients), made safe to retry by its climsgid."""
        request: Pairs = [("to", ",".join(numbers)), *pairs, ("climsgid", climsgid)]
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return self._send_once(numbers, request, climsgid)
            except GatewayError as error:
                if not unknown_outcome(error):
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
        raise _not_sent_after_attempts(cause)

    def _send_once(
        self, numbers: Sequence[str], request: Pairs, climsgid: str
    ) -> list[RecipientResult]:
        body = self._command("/http/sendmsg", request, retry_901=False)
        error = replies.call_error(body)
        if error is not None and error.code == "901":
            raise error
        return match(numbers, climsgid, replies.read_send(body))

    def _check_sent(
        self, numbers: Sequence[str], climsgid: str, cause: GatewayError
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

    def _sent_before(self, numbers: Sequence[str], climsgid: str) -> list[RecipientResult] | None:
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
        msisdn = normalize(number, self.default_region)
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

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> ClickatellClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Renewal:
    """One `auth` in flight, and how it ended."""

    done: bool = False
    error: BaseException | None = None


def _not_sent_after_attempts(cause: GatewayError) -> GatewayError:
    """Every attempt was confirmed unseen by the gateway, so nothing was sent. After 901s (the
    gateway's own "retry") that is the gateway being unavailable; after no usable answer each
    time it is reported as a failure, so nobody keeps retrying into a broken route."""
    kind = Unavailable if cause.code == "901" else GatewayError
    return kind(
        cause.code,
        f"Not sent after {SEND_ATTEMPTS} attempts: {cause.description}",
        f"The message was not sent ({cause.explanation}). Try again later.",
    )
