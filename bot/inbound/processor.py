"""The inbox worker: stored callbacks become state and Slack work (issue 4, "Processing").

Each pass takes the oldest unprocessed callbacks and handles a batch of them in ONE storage
transaction (status moved forward, SMS part stored, Slack work enqueued, row marked processed):
all or nothing, so a crash half-way leaves the rows unprocessed and the next pass redoes them,
and a batch costs one disk sync instead of one per callback. A row that fails unexpectedly sends
its batch back through one row at a time, so one poison row cannot hold up the others.

- Status callbacks move a recipient's status only forward (storage does the ranking) and ask for
  ONE coalesced card update per card per batch, rendered from the latest stored state when the
  outbox sends it, so a 1,000-recipient send does not make 1,000 updates. A status for a relayed
  thread reply updates that reply's reaction instead (and notes a failure in the thread).
- A status for a message we cannot find yet is retried a few times (the gateway can report before
  the send's answer was stored), then dropped: it is not one of ours (e.g. a command-line send).
- Inbound SMS parts are reassembled by their UDH; groups still missing parts after `part_wait`
  (10 minutes) are posted as received, marked incomplete.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.blocks import inbound as blocks
from bot.domain.delivery import DeliveryState, DeliveryStatus
from bot.domain.records import InboxItem, StatusUpdate
from bot.gateway.base import (
    Callback,
    CallbackDecoder,
    CallbackError,
    InboundMessage,
    StatusReport,
)
from bot.inbound.conversations import ConversationRouter, InboundSms
from bot.inbound.endpoints import WriteGate
from bot.inbound.schedule import Every
from bot.inbound.worker import Rest
from bot.storage import Storage, StorageUnavailable

log = logging.getLogger(__name__)

BATCH = 256  # rows per transaction when the endpoints are quiet (catching up fast)
BUSY_BATCH = 16  # ...and while callbacks arrive: the database lock is held only briefly
PART_WAIT = timedelta(minutes=10)
# Waits before retrying a status whose message is not known yet; after the last one it is dropped.
UNKNOWN_RETRIES = (1.0, 3.0, 10.0)
SWEEP_EVERY = timedelta(seconds=5)  # how often incomplete multi-part SMS are looked for
PRUNE_EVERY = timedelta(hours=1)
MAX_FAILURES = 20  # a row failing this often (about 1.5 hours of retries) is set aside, logged
# Processed callbacks are kept this long: longer than the gateway's retry span (status retries
# run to 3 days and 2 hours), so a late retry is still recognised as a duplicate.
KEEP_CALLBACKS = timedelta(days=7)
KEEP_OUTBOX = timedelta(days=7)  # finished Slack work (its results: posted ts) for inspection
# Slack's idempotency claims (event ids, trigger ids, relayed messages): Slack redelivers within
# minutes, so a week is far beyond any retry, and the table no longer grows forever.
KEEP_CLAIMS = timedelta(days=7)
KEEP_PLANS = timedelta(days=7)  # bulk plans never started (or discarded in their preview)
KEEP_SLOTS = timedelta(hours=2)  # pace and job slots free that long are forgotten (free anyway)
# During a burst of callbacks, rest this many times as long as a batch took (so processing gets
# about 1 / (1 + YIELD_FACTOR) of the time while the endpoints get the rest).
YIELD_FACTOR = 3.0


@dataclass
class _Batch:
    """Slack work a batch asks for, enqueued once at its end (coalescing within the batch)."""

    cards: set[int] = field(default_factory=set)
    replies: set[int] = field(default_factory=set)
    failed_replies: dict[int, tuple[str, DeliveryStatus]] = field(
        default_factory=dict
    )  # send -> (msisdn, status)


@dataclass(frozen=True)
class PassResult:
    processed: int
    deferred: int
    dropped: int


def msisdn_of(raw: str) -> str:
    """The phone number of a callback as stored: digits only ('+27 82…' -> '2782…')."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    return digits.removeprefix("00") if digits.startswith("00") else digits


class InboxProcessor:
    """One pass at a time (`run_once`); `LoopWorker` runs it in the background."""

    def __init__(
        self,
        storage: Storage,
        router: ConversationRouter,
        *,
        decoder: CallbackDecoder,
        clock: Callable[[], datetime],
        refresh_card: Callable[[int], None],
        is_reply: Callable[[int], bool],
        refresh_reply: Callable[[int], None],
        reply_failed: Callable[[int, str, DeliveryStatus], None],
        part_wait: timedelta = PART_WAIT,
        batch: int = BATCH,
        busy_batch: int = BUSY_BATCH,
        unknown_retries: Sequence[float] = UNKNOWN_RETRIES,
        gate: WriteGate | None = None,
        yield_factor: float = YIELD_FACTOR,
        decoded: Decoded | None = None,
    ) -> None:
        self.storage = storage
        self.router = router
        self.decoder = decoder  # the gateway's: reads stored callbacks again
        self.clock = clock
        self.refresh_card = refresh_card
        self.is_reply = is_reply  # a send relayed from a thread reply (cached by the caller)
        self.refresh_reply = refresh_reply
        self.reply_failed = reply_failed
        self.part_wait = part_wait
        self.batch = batch
        self.busy_batch = busy_batch
        self.unknown_retries = tuple(unknown_retries)
        self._retry_at: dict[int, datetime] = {}
        self._gate = gate  # endpoints.WriteGate: callbacks being stored go first
        self.yield_factor = yield_factor
        self._sweep = Every(storage, "stale-parts", SWEEP_EVERY)
        self._prune = Every(storage, "prune", PRUNE_EVERY)
        self.decoded = decoded if decoded is not None else Decoded()

    # ---- the loop body

    def step(self) -> float:
        """One pass (plus the stale-part sweep now and then); the pause until the next one.

        While callbacks are arriving, batches are small and each full one is followed by a rest
        of `yield_factor` times its own duration: acknowledging callbacks fast matters more than
        showing them at once, so during a burst processing gets a bounded share of the
        interpreter and catches up after.
        """
        busy = self._gate is not None and self._gate.busy()
        limit = self.busy_batch if busy else self.batch
        started = time.monotonic()
        result = self.run_once(limit)
        spent = time.monotonic() - started
        now = self.clock()
        if self._sweep.ripe(now):
            self.flush_stale_parts(tick=self._sweep)
        if self._prune.due(now):
            self.prune(now)
        if result.processed >= limit:
            return Rest(spent * self.yield_factor) if busy else 0.0
        return 1.0 if not self._retry_at else min(1.0, self._next_retry())

    def _next_retry(self) -> float:
        now = self.clock()
        return max(0.0, min((t - now).total_seconds() for t in self._retry_at.values()))

    def run_once(self, limit: int | None = None) -> PassResult:
        """Process up to `limit` (default: `batch`) due rows in one transaction."""
        limit = limit or self.batch
        now = self.clock()
        rows = self.storage.inbox.unprocessed(limit=limit + len(self._retry_at))
        due = [row for row in rows if self._retry_at.get(row.id, now) <= now][:limit]
        if not due:
            return PassResult(0, 0, 0)
        try:
            outcome = self._process(due)
        except Exception as error:
            if _unavailable(error):
                raise  # the database, not these rows: the worker pauses (and logs it once)
            log.exception("inbox batch failed; processing its %d rows one by one", len(due))
            outcome = _Outcome()
            for row in due:
                outcome.merge(self._process_alone(row))
        return PassResult(outcome.processed, len(outcome.unknown), outcome.dropped)

    def _process(self, rows: Sequence[InboxItem]) -> _Outcome:
        outcome, work = _Outcome(), _Batch()
        with self._turn(), self.storage.transaction():
            rows = self._still_ours(rows)
            reports: list[tuple[InboxItem, StatusReport]] = []
            for row in rows:
                decoded = self._decode(row)
                if isinstance(decoded, StatusReport):
                    reports.append((row, decoded))
                    continue
                if isinstance(decoded, InboundMessage):
                    self._mo(decoded, row.received_at)
                outcome.done.append(row.id)
            self._statuses(reports, work, outcome)
            self.storage.inbox.mark_processed_many(outcome.done)
            self._enqueue(work)
        outcome.processed = len(outcome.done)
        self._after(outcome)
        return outcome

    def _still_ours(self, rows: Sequence[InboxItem]) -> list[InboxItem]:
        """The rows nobody processed since they were read; inside the transaction, so no other
        processor (another process on the same database) can take them until it ends."""
        fresh = self.storage.inbox.still_unprocessed([row.id for row in rows])
        for row in rows:
            if row.id not in fresh:
                self._retry_at.pop(row.id, None)
        return [row for row in rows if row.id in fresh]

    def _turn(self) -> AbstractContextManager[object]:
        return self._gate.background() if self._gate is not None else nullcontext()

    def _process_alone(self, row: InboxItem) -> _Outcome:
        try:
            return self._process([row])
        except Exception as error:
            if _unavailable(error):
                # The database (locked, full, I/O), not this row: nothing is counted against it,
                # so no acknowledged callback is ever set aside however long that lasts; the
                # worker pauses and tries again.
                raise
            log.exception("inbox row %s (%s) failed", row.id, row.kind)
            attempts = self.storage.inbox.record_failure(row.id, f"{type(error).__name__}: {error}")
            if attempts >= MAX_FAILURES:
                log.error("inbox row %s failed %d times; giving up on it", row.id, attempts)
                self.storage.inbox.mark_processed(row.id)
                self._retry_at.pop(row.id, None)
                return _Outcome(dropped=1)
            self._retry_at[row.id] = self.clock() + timedelta(seconds=min(300, 2**attempts))
            return _Outcome()

    def _after(self, outcome: _Outcome) -> None:
        """Outside the transaction: count attempts of unknown statuses, drop the hopeless."""
        now = self.clock()
        for row_id in outcome.done:
            self._retry_at.pop(row_id, None)
        for row_id in outcome.unknown:
            attempts = self.storage.inbox.record_failure(row_id, "message not known (yet)")
            if attempts > len(self.unknown_retries):
                log.info("status callback %s is for a message we never sent; dropped", row_id)
                self.storage.inbox.mark_processed(row_id)
                self._retry_at.pop(row_id, None)
                outcome.dropped += 1
            else:
                delay = self.unknown_retries[attempts - 1]
                self._retry_at[row_id] = now + timedelta(seconds=delay)

    # ---- rows

    def _decode(self, row: InboxItem) -> Callback | None:
        """The callback a row holds: as the endpoint decoded it (no second decoding), or from
        its raw bytes. None for a row that cannot be decoded (written by an older version: the
        endpoint refuses malformed callbacks); it is marked processed, not retried forever."""
        known = self.decoded.take(row.kind, row.unique_key)
        if known is not None:
            return known
        try:
            return self.decoder.decode_stored(row.kind, row.params)
        except CallbackError as error:
            log.warning("inbox row %s cannot be decoded (%s); skipped", row.id, error)
            return None

    def _statuses(
        self, reports: Sequence[tuple[InboxItem, StatusReport]], work: _Batch, outcome: _Outcome
    ) -> None:
        """Move recipients forward (one storage call for the whole batch)."""
        if not reports:
            return
        results = self.storage.sends.apply_reports(
            [
                StatusUpdate(
                    apimsgid=r.message_id,
                    climsgid=r.client_id,
                    msisdn=msisdn_of(r.to),
                    status=r.status,
                    at=r.timestamp,
                    charge=r.charge,
                )
                for _, r in reports
            ]
        )
        for (row, callback), result in zip(reports, results, strict=True):
            if result is None:
                outcome.unknown.append(row.id)
                continue
            outcome.done.append(row.id)
            if result.changed:
                self._note_change(result.send_id, msisdn_of(callback.to), callback.status, work)

    def _note_change(self, send_id: int, msisdn: str, status: DeliveryStatus, work: _Batch) -> None:
        if not self.is_reply(send_id):
            work.cards.add(send_id)
            return
        work.replies.add(send_id)
        if status.final and status.state is not DeliveryState.DELIVERED:
            work.failed_replies[send_id] = (msisdn, status)

    def _mo(self, mo: InboundMessage, arrived_at: datetime) -> None:
        """An SMS (or one part of it) that reached us at `arrived_at` (its inbox row)."""
        sender = msisdn_of(mo.sender)
        part = mo.part
        if part is None or part.total == 1:
            self.router.deliver(InboundSms(sender, mo.text, mo.timestamp, received_at=arrived_at))
            return
        group = (sender, part.reference, part.total)
        whole = self.storage.mo_parts.add(
            *group, part.sequence, mo.text, received_at=self.clock(), arrived_at=arrived_at
        )
        if whole is not None:
            first_arrived = self.storage.mo_parts.first_arrival(*group) or arrived_at
            self.storage.mo_parts.delete(*group)
            self.router.deliver(InboundSms(sender, whole, mo.timestamp, received_at=first_arrived))

    def _enqueue(self, work: _Batch) -> None:
        for send_id in sorted(work.cards):
            self.refresh_card(send_id)
        for send_id in sorted(work.replies):
            self.refresh_reply(send_id)
        for send_id, (msisdn, status) in sorted(work.failed_replies.items()):
            self.reply_failed(send_id, msisdn, status)

    def prune(self, now: datetime) -> tuple[int, int, int]:
        """Forget old processed callbacks, finished outbox items and Slack delivery claims
        (how many of each: callbacks, items, claims), old time slots and old bulk plans that
        were never started."""
        callbacks = self.storage.inbox.prune(KEEP_CALLBACKS, now=now)
        items = self.storage.outbox.prune(KEEP_OUTBOX, now=now)
        claims = self.storage.claims.prune(KEEP_CLAIMS, now=now)
        self.storage.slots.prune(KEEP_SLOTS, now=now)
        self.storage.bulks.prune(KEEP_PLANS, now=now)
        if callbacks or items or claims:
            log.info(
                "pruned %d old callbacks, %d finished Slack items and %d Slack claims",
                callbacks,
                items,
                claims,
            )
        return callbacks, items, claims

    # ---- incomplete multi-part SMS

    def flush_stale_parts(self, tick: Every | None = None) -> int:
        """Post groups whose missing parts did not come within `part_wait`, marked incomplete.
        With `tick`: only when this replica takes it (once per sweep interval across replicas),
        asked only when there is something to sweep."""
        now = self.clock()
        groups = self.storage.mo_parts.stale(self.part_wait, now=now)
        if groups and tick is not None and not tick.take(now):
            return 0
        for group in groups:
            missing = tuple(s for s in range(1, group.total + 1) if s not in group.parts)
            text = "".join(group.parts.get(s, "[…]") for s in range(1, group.total + 1))
            sms = InboundSms(
                group.sender,
                text,
                group.first_received_at,
                missing=blocks.Missing(group.total, missing),
                received_at=group.first_arrived_at,
            )
            with self._turn(), self.storage.transaction():
                # Handed on only by the sweep that deleted it: once, whichever replica swept.
                if self.storage.mo_parts.delete(group.sender, group.reference, group.total):
                    self.router.deliver(sms)
        return len(groups)


def _unavailable(error: Exception) -> bool:
    """The database cannot be used right now (a lock, a full disk, an I/O error or a closed
    database), as opposed to a problem with the data (e.g. a constraint)."""
    return isinstance(error, StorageUnavailable)


class Decoded:
    """Callbacks the endpoint just decoded, by (kind, unique key), so the worker need not decode
    them again. Only a shortcut: bounded, forgotten on restart, rows are decodable on their own."""

    def __init__(self, limit: int = 20_000):
        self._items: OrderedDict[tuple[str, str], Callback] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit

    def put(self, kind: str, key: str, callback: Callback) -> None:
        with self._lock:
            self._items[(kind, key)] = callback
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def take(self, kind: str, key: str) -> Callback | None:
        with self._lock:
            return self._items.pop((kind, key), None)


@dataclass
class _Outcome:
    processed: int = 0
    dropped: int = 0
    done: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)

    def merge(self, other: _Outcome) -> None:
        self.processed += other.processed
        self.dropped += other.dropped
        self.done.extend(other.done)
        self.unknown.extend(other.unknown)
