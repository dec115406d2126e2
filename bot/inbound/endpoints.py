"""The callback endpoints `/clickatell/status` and `/clickatell/mo` (product.md §3, issue 4).

Each request is answered in milliseconds and does nothing slow: it checks the credentials, has
the gateway's `CallbackDecoder` read the RAW bytes of the query string and body (a UTF-16BE text
is destroyed by decoding as UTF-8 first), and stores the callback in the inbox with its unique
key before answering 200. Processing (state, Slack) happens afterwards on the inbox worker.

Storing uses group commit (`InboxWriter`): request threads hand their callback to one writer
thread, which commits everything waiting in one transaction and then releases them, so a burst
costs one disk sync per batch and the request threads never queue on SQLite's lock (whose busy
handler sleeps in growing steps). `WriteGate` lets these writes go before the worker's.

Authentication: the configured basic credentials, or (Clickatell Portal callbacks, which cannot
carry basic credentials) the `token` query parameter the Portal's callback URLs are set up with
(CLICKATELL_CALLBACK_TOKEN). Either is compared in constant time; either suffices.

Answers: 200 stored (or a duplicate, dropped), 200 for the gateway's URL check (no content),
401 with WWW-Authenticate without the configured credentials or token,
403 for a callback naming another account, 400 with the reason for malformed parameters, 405 for
other methods, 413 above 64 KiB, and 503 (with Retry-After) when the database cannot store it right
now (locked, disk full): Clickatell then retries, so a callback is never acknowledged and lost.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from bot.domain.records import CallbackKind
from bot.gateway.base import (
    Callback,
    CallbackDecoder,
    CallbackError,
    DecodedCallback,
    ForeignCallback,
)
from bot.inbound.rejections import RejectionLog, client_of
from bot.storage import Storage, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
BODY_KEY = "sms_bot.body"  # bot.web puts the already read (bounded) body here
REALM = 'Basic realm="sms-bot callbacks", charset="UTF-8"'
RETRY_AFTER = "30"
# How long the writer lets a batch fill before committing it: a little latency for far fewer
# commits (and disk syncs) under load.
LINGER = 0.002
MAX_BATCH = 512  # callbacks per transaction
# While callbacks keep arriving, the processor is woken at most this often (and at once when they
# stop): acknowledging comes first, processing catches up in larger, cheaper batches.
WAKE_EVERY = 0.05
# Callbacks allowed to wait for the writer. The listener's threads bound this in production (one
# waiting callback per thread); the bound is for any other caller and says "full" loudly.
MAX_WAITING = 1024
# How long a callback waits for the database (locked by another process, a stuck writer) before
# it is answered 503: well within the gateway's patience, so it retries rather than times out.
STORE_WAIT = 3.0
# Callbacks must not take every request thread while the database cannot take writes (another
# process holding its lock parked all 16 for 3 s each, and slash commands waited 5 s): once a
# write has not finished within STUCK_AFTER seconds (a group commit takes milliseconds), the
# writer counts as stuck, the callbacks waiting for it and every new one are answered 503 at
# once (the gateway retries them; one stored after all is recognised as a duplicate then).
STUCK_AFTER = 0.5
_WAIT_STEP = 0.05  # how often a waiting callback looks whether the writer got stuck

StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Content Too Large",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Credentials:
    """What callbacks must carry: the basic credentials, or the `token` query parameter. No
    password and no token configured: no check (development only; `serve` with a real gateway
    requires one, the sandbox generates one). No user: any user name."""

    user: str | None
    password: str | None
    token: str | None = None

    def accept(self, header: str | None, query: bytes = b"") -> bool:
        return self.refusal(header, query) is None

    def refusal(self, header: str | None, query: bytes = b"") -> str | None:
        """Why a callback is refused, for the log (None: accepted): nothing at all, or which
        of what it carried was wrong. Never what it carried."""
        if not self.password and not self.token:
            return None
        token_ok = self._token_ok(query) if self.token else False
        basic_ok = self._basic_ok(header) if self.password else False
        if basic_ok or token_ok:
            return None
        carried = [
            what
            for what, given in (
                ("wrong credentials", bool(header)),
                ("a wrong token", bool(query_token(query))),
            )
            if given
        ]
        if not carried:
            return "callback without credentials"
        return f"callback with {' and '.join(carried)}"

    def _basic_ok(self, header: str | None) -> bool:
        user, password = _basic(header)
        # Both comparisons always run, over bytes, in constant time.
        user_ok = hmac.compare_digest(user, (self.user or "").encode()) if self.user else True
        password_ok = hmac.compare_digest(password, (self.password or "").encode())
        return user_ok and password_ok

    def _token_ok(self, query: bytes) -> bool:
        given = query_token(query)
        return hmac.compare_digest(given, (self.token or "").encode()) if given else False


def query_token(query: bytes) -> bytes:
    """The first `token` parameter of a query string, percent-decoded (empty without one)."""
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if unquote_to_bytes(name.replace(b"+", b" ")) == b"token":
            return unquote_to_bytes(value.replace(b"+", b" "))
    return b""


def _basic(header: str | None) -> tuple[bytes, bytes]:
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return b"", b"\x00"
    try:
        decoded = base64.b64decode(value.strip().encode("latin-1"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return b"", b"\x00"
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else (b"", b"\x00")


class WriteGate:
    """Orders this process's own database writers: they queue on a Python lock (woken at once)
    instead of SQLite's busy handler (which sleeps in growing steps), and callback storage goes
    first: `background()` waits up to `max_defer` seconds while callbacks are waiting to be
    stored, so a burst of callbacks is not held up behind a batch of processing."""

    def __init__(self, max_defer: float = 0.05):
        self.lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._waiting = 0
        self._last_store = 0.0
        self.max_defer = max_defer

    def announce(self, count: int) -> None:
        """`count` callbacks are waiting to be stored."""
        with self._cond:
            self._waiting += count

    def settle(self, count: int) -> None:
        with self._cond:
            self._waiting -= count
            self._last_store = time.monotonic()
            if self._waiting <= 0:
                self._cond.notify_all()

    def busy(self, within: float = 0.05) -> bool:
        """Callbacks are arriving: one was stored within `within` seconds, or one is waiting."""
        return self._waiting > 0 or time.monotonic() - self._last_store < within

    @contextmanager
    def background(self) -> Iterator[None]:
        with self._cond:
            if self._waiting > 0:
                self._cond.wait(self.max_defer)
        with self.lock:
            yield


class QueueFull(StorageUnavailable):
    """More callbacks are waiting for the inbox writer than it is allowed to hold: answered 503
    at once (the gateway retries) instead of piling up request threads and memory."""


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Job:
    """One callback waiting for the group commit. `done` is a plain lock held until the batch
    is written: releasing it wakes exactly this request thread, the cheapest hand-over Python
    has (an Event would build a Condition and a waiter lock per wait)."""

    kind: CallbackKind
    key: str
    raw: bytes
    done: threading.Lock = field(default_factory=_held_lock)
    stored: bool = False
    error: StorageError | None = None


class InboxWriter:
    """Group commit for the inbox. A request thread hands its callback over and waits; one
    writer thread takes EVERY callback waiting, stores them in ONE transaction, commits once,
    and only then releases each waiting request to answer 200. So a burst costs one disk sync
    per batch instead of one per callback, and request threads never fight over the database
    lock. A failed commit fails the whole batch (each of its requests answers 503: nothing is
    acknowledged that is not durable). At most `max_waiting` callbacks wait: beyond that,
    `store` raises QueueFull at once."""

    name = "inbox-writer"

    def __init__(
        self,
        storage: Storage,
        *,
        gate: WriteGate | None = None,
        max_batch: int = MAX_BATCH,
        max_waiting: int = MAX_WAITING,
        wait: float = STORE_WAIT,
        linger: float = LINGER,
        stuck_after: float = STUCK_AFTER,
        on_stored: Callable[[], None] = lambda: None,
        wake_every: float = WAKE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.gate = gate or WriteGate()
        self.max_batch = max_batch
        self.max_waiting = max_waiting
        self.wait = wait
        self.linger = linger
        self.stuck_after = stuck_after
        self.clock = clock
        self._writing_since: float | None = None  # when the batch being written began
        self._cond = threading.Condition(threading.Lock())
        self._jobs: list[_Job] = []
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._full_told = 0.0  # when a full queue was last logged (once a second at most)
        self.on_stored = on_stored  # wakes the inbox processor
        self.wake_every = wake_every
        self._unannounced = False  # rows committed since on_stored was last called
        self._woken_at = -math.inf

    def start(self) -> InboxWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def stored_directly(self) -> None:
        """For the endpoints' `on_stored`: a callback was stored. Only one stored without the
        writer thread (not started, or stopped) needs waking the processor here; the writer
        wakes it for its own batches."""
        if not self.alive():
            self.on_stored()

    def waiting(self) -> int:
        """Callbacks handed over and not taken into a batch yet."""
        return len(self._jobs)

    def store(self, kind: CallbackKind, key: str, raw: bytes) -> bool:
        """Store durably (True) or recognise a duplicate (False); StorageError when the
        database cannot take it now (QueueFull when too many are waiting already). Without a
        running writer thread, stores directly."""
        if not self.alive():
            return self.storage.inbox.store(kind, key, raw)
        if self.stuck():
            raise StorageUnavailable("the database is not taking writes (the writer is stuck)")
        job = self._queue(kind, key, raw)
        self._wait_for(job)
        if job.error is not None:
            raise job.error
        return job.stored

    def stuck(self) -> bool:
        """A write has been going on for longer than `stuck_after` (another process holds the
        database's lock, the disk hangs): callbacks then fail fast instead of waiting."""
        since = self._writing_since
        return since is not None and self.clock() - since > self.stuck_after

    def _queue(self, kind: CallbackKind, key: str, raw: bytes) -> _Job:
        job = _Job(kind, key, raw)
        with self._cond:
            if self._stopping:
                raise StorageUnavailable("the inbox writer is stopping")
            if len(self._jobs) >= self.max_waiting:
                self._tell_full()
                raise QueueFull(f"{len(self._jobs)} callbacks are already waiting to be stored")
            self.gate.announce(1)
            self._jobs.append(job)
            if len(self._jobs) == 1:
                self._cond.notify()  # the writer sleeps only while nothing is waiting
        return job

    def _tell_full(self) -> None:
        now = time.monotonic()
        if now - self._full_told >= 1.0:
            self._full_told = now
            log.warning("inbox writer queue full (%d waiting): answering 503", self.max_waiting)

    def _wait_for(self, job: _Job) -> None:
        """Until the job is written, `wait` seconds pass, or the writer is found stuck."""
        deadline = time.monotonic() + self.wait
        while not job.done.acquire(timeout=min(_WAIT_STEP, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise StorageUnavailable("the database did not store the callback in time")
            if self.stuck():
                raise StorageUnavailable("the database is not taking writes (the writer is stuck)")

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if not self._jobs:
                    return
                if self.linger and len(self._jobs) < self.max_batch and not self._stopping:
                    # Let the callbacks arriving right now join this batch, so one commit (and
                    # one disk sync) serves more of them.
                    self._cond.wait(self.linger)
                batch = self._jobs[: self.max_batch]
                del self._jobs[: self.max_batch]
            self._write(batch)
            self._announce()

    def _announce(self) -> None:
        """Wake the processor for what was committed, coalesced: at once when nothing more is
        waiting (the burst is over), else at most every `wake_every` seconds. Woken per
        callback, the processor ran one small transaction (and disk sync) per callback during
        a burst, taking the interpreter from the requests being acknowledged."""
        if not self._unannounced:
            return
        now = time.monotonic()
        if self._jobs and now - self._woken_at < self.wake_every:
            return
        self._unannounced, self._woken_at = False, now
        self.on_stored()

    def _write(self, batch: list[_Job]) -> None:
        self._writing_since = self.clock()
        try:
            with self.gate.lock:
                results = self.storage.inbox.store_many([(j.kind, j.key, j.raw) for j in batch])
        except Exception as error:  # every waiting request answers 503; the gateway retries
            log.error("storing %d callback(s) failed: %s", len(batch), error)
            failed = error if isinstance(error, StorageError) else StorageError(str(error))
            for job in batch:
                job.error = failed
        else:
            for job, stored in zip(batch, results, strict=True):
                job.stored = stored
            self._unannounced = self._unannounced or any(results)
        finally:
            self._writing_since = None
            self.gate.settle(len(batch))
        for job in batch:
            job.done.release()


class _Answer(Exception):
    def __init__(self, status: int, text: str, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(text)
        self.status, self.text, self.headers = status, text, list(headers)


class CallbackEndpoints:
    """`status` and `mo` are the two WSGI applications."""

    def __init__(
        self,
        storage: Storage,
        *,
        decoder: CallbackDecoder,
        credentials: Credentials,
        on_stored: Callable[[], None] = lambda: None,
        store: Callable[[CallbackKind, str, bytes], bool] | None = None,
        rejections: RejectionLog | None = None,
        remember: Callable[[str, str, Callback], None] | None = None,
        forget: Callable[[str, str], object] | None = None,
    ) -> None:
        self.storage = storage
        self.decoder = decoder  # the gateway's: reads its callbacks, checks the account
        self.credentials = credentials
        self.on_stored = on_stored
        self.store = store or storage.inbox.store  # InboxWriter.store: group commit
        self.rejections = rejections or RejectionLog()
        self.remember = remember  # hands the decoded callback to the worker (saves decoding)
        self.forget = forget

    def routes(self, status_path: str, mo_path: str) -> dict[str, Callable[..., Iterable[bytes]]]:
        return {status_path: self.status, mo_path: self.mo}

    def status(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._serve("status", environ, start_response)

    def mo(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._serve("mo", environ, start_response)

    def _serve(
        self, kind: CallbackKind, environ: Mapping[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        try:
            status, text, headers = self._handle(kind, environ)
        except _Answer as answer:
            status, text, headers = answer.status, answer.text, answer.headers
        data = text.encode()
        start_response(
            f"{status} {_REASONS[status]}",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(data))),
                *headers,
            ],
        )
        return [data]

    def _handle(self, kind: CallbackKind, environ: Mapping[str, Any]) -> tuple[int, str, list]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "POST"):
            raise _Answer(405, "Use GET or POST\n", [("Allow", "GET, POST")])
        query = _query(environ)
        refusal = self.credentials.refusal(environ.get("HTTP_AUTHORIZATION"), query)
        if refusal is not None:
            self.rejections.rejected(refusal, client_of(dict(environ)))
            raise _Answer(401, "Authentication required\n", [("WWW-Authenticate", REALM)])
        body = _body(environ)
        try:
            callbacks = self.decoder.decode_request(kind, query, body)
        except ForeignCallback as error:
            self.rejections.rejected(
                "callback for another account (api_id is not CLICKATELL_API_ID)",
                client_of(dict(environ)),
            )
            raise _Answer(403, f"{error}\n") from None
        except CallbackError as error:
            raise _Answer(400, f"Bad callback: {error}\n") from None
        if not callbacks:
            return 200, "OK\n", []  # the gateway's URL check: nothing to store
        return self._store_all(kind, callbacks)

    def _store_all(
        self, kind: CallbackKind, callbacks: list[DecodedCallback]
    ) -> tuple[int, str, list]:
        """Every event of the request is stored before the 200; if one cannot be, the gateway
        retries the whole request and the ones already stored are recognised as duplicates."""
        stored = [self._store(kind, decoded.callback, decoded.payload) for decoded in callbacks]
        if not any(stored):
            return 200, "OK (duplicate)\n", []
        self.on_stored()
        return 200, "OK\n", []

    def _store(self, kind: CallbackKind, callback: Callback, raw: bytes) -> bool:
        """Store one callback durably (True) or recognise a duplicate (False); 503 when the
        database cannot take it now."""
        key = callback.key
        # Handed over before the commit, so the worker, woken by any later commit, finds it;
        # taken back when nothing was stored, so nothing lingers.
        if self.remember is not None:
            self.remember(kind, key, callback)
        try:
            stored = self.store(kind, key, raw)
        except StorageError as error:
            self._forget(kind, key)
            log.error("cannot store %s callback %s: %s", kind, key, error)
            raise _Answer(
                503, "Cannot store the callback now; retry later\n", [("Retry-After", RETRY_AFTER)]
            ) from None
        if not stored:
            self._forget(kind, key)
        return stored

    def _forget(self, kind: str, key: str) -> None:
        if self.forget is not None:
            self.forget(kind, key)


def _query(environ: Mapping[str, Any]) -> bytes:
    """The query string as bytes, within the size limit. PEP 3333 hands QUERY_STRING over as
    Latin-1 text: encoding it back gives the exact bytes."""
    query = (environ.get("QUERY_STRING") or "").encode("latin-1", errors="replace")
    if len(query) > MAX_BODY:
        raise _Answer(413, f"Query string too large: at most {MAX_BODY} bytes\n")
    return query


def _body(environ: Mapping[str, Any]) -> bytes:
    if BODY_KEY in environ:
        return bytes(environ[BODY_KEY])
    raw_length = str(environ.get("CONTENT_LENGTH") or "").strip()
    if raw_length and not raw_length.isdigit():
        raise _Answer(400, "Bad Content-Length\n")
    if raw_length and int(raw_length) > MAX_BODY:
        raise _Answer(413, f"Body too large: at most {MAX_BODY} bytes\n")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    body = stream.read(int(raw_length) if raw_length else MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise _Answer(413, f"Body too large: at most {MAX_BODY} bytes\n")
    return body
