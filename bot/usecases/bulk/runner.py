"""Handing a bulk run's rows to the gateway: bounded concurrency, the gateway's pace, quiet
hours, and never a row twice.

`BulkRunner.drive(bulk_id)` claims due rows (a lease each, so another process can take over a
run whose driver died) and sends each as an ordinary recorded send on a small thread pool over
the gateway's one kept-alive session. It returns when no row is due: the run is done, paused,
cancelled, or waiting (quiet hours, a back-off) until `DriveResult.next_due`.

A row's life:
1. Quiet hours: due inside the window where its number is, it is held (deferred) until the
   window ends there.
2. Opted out since the plan: skipped.
3. Recorded and attached in one transaction (`sends.record` with the row's intent key and client
   ID, `bulks.attach_send`), which fails once the run is paused or cancelled: then nothing goes.
4. Sent. The answer is stored on the send's recipient and the row finished, in one transaction
   with the progress card's (coalesced) update.

A row claimed again after a crash already has its send. What the recipient holds decides: an
answer means the row is finished as that answer says; nothing at all means the call was cut
off, so a gateway that can be asked by client ID is asked first (`skip_if_sent`: found means
sent, never twice) and one that cannot (the Portal) is never retried: the row's outcome is
unknown, settled by a report or by a person ("Send again"), like any send's.

Pace: the gateway clients retry their own transient errors (legacy 901, Portal 429 and 43 with
Retry-After); when they give up (`Unavailable`, `NotSent`: nothing was sent) the row is put back
for later and the runner stops claiming for a back-off that doubles while it lasts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from bot.domain.bulk import BulkRow, BulkRun, RowState, RunState
from bot.domain.delivery import OUTCOME_UNKNOWN, UNSETTLED
from bot.domain.records import NewRecipient, Recipient
from bot.gateway.base import (
    GatewayError,
    NotSent,
    OutcomeUnknown,
    Planned,
    RecipientResult,
    Unavailable,
)
from bot.sms.encoding import encode_text
from bot.sms.refusals import Refused
from bot.sms.timezones import zones_for
from bot.usecases.bulk.events import progress_changed, run_ended
from bot.usecases.ports import AppPorts
from bot.usecases.recording import error_fields, store_result
from bot.usecases.settling import CANNOT_ASK, NOT_TAKEN
from bot.usecases.unsettled import offer_later_if_needed

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
MIN_LEASE = timedelta(seconds=60)
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0  # seconds
BUSY = "busy"  # error code of a row the gateway could not take yet (nothing sent): it is retried
BUSY_WORDS = "Not sent yet: the gateway was busy. sms-bot tries again shortly."


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Row(Enum):
    """What became of one row in a worker thread."""

    DONE = "done"  # finished (sent, failed, skipped) or deferred on purpose
    THROTTLED = "throttled"  # the gateway could not take it now: back off
    STOPPED = "stopped"  # the run was paused or cancelled before it went


@dataclass(frozen=True)
class DriveResult:
    state: RunState
    next_due: datetime | None  # when a row is due again (held or backing off); None: none left


class _NotRunning(Exception):
    """The run stopped between the claim and the send: roll the row's record back."""


class BulkRunner:
    """Sends rows for `drive`; one instance may drive many runs, one after another."""

    def __init__(
        self,
        ports: AppPorts,
        *,
        clock: Callable[[], datetime] = utc_now,
        concurrency: int = DEFAULT_CONCURRENCY,
        lease: timedelta | None = None,
    ) -> None:
        self.ports = ports
        self.clock = clock
        self.concurrency = max(1, concurrency)
        # Longer than any gateway call can take: a live runner's row is never taken over.
        timeout = timedelta(seconds=ports.settings.clickatell_timeout)
        self.lease = lease if lease is not None else max(MIN_LEASE, 4 * timeout)
        self._backoff = 0.0
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="bulk-row")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # ---- the run

    def drive(
        self,
        bulk_id: str,
        *,
        stop: threading.Event | None = None,
        budget: float | None = None,
    ) -> DriveResult:
        """Send the run's due rows until none is due (or `stop` is set, or `budget` seconds
        have passed: then the rest waits for the next call); ends a run with no row left."""
        storage = self.ports.storage
        run = storage.bulks.get(bulk_id)
        if run is None:
            raise KeyError(bulk_id)
        started = self.clock()
        in_flight: set[Future[_Row]] = set()
        resting_until: datetime | None = None
        while True:
            now = self.clock()
            out_of_time = budget is not None and (now - started).total_seconds() >= budget
            stopping = (stop is not None and stop.is_set()) or out_of_time
            resting = resting_until is not None and now < resting_until
            if not stopping and not resting:
                in_flight |= self._claim(run, now, len(in_flight))
            if not in_flight:
                break
            done, in_flight = _first_done(in_flight)
            if any(f.result() is _Row.THROTTLED for f in done):
                resting_until = self.clock() + timedelta(seconds=self._back_off())
            elif done:
                self._backoff = 0.0
        return self._after_drive(bulk_id, resting_until)

    def _claim(self, run: BulkRun, now: datetime, busy: int) -> set[Future[_Row]]:
        """Claim rows to keep the pool busy (up to twice its size in hand, so it never waits
        for a claim); rows held for quiet hours are put back and more claimed."""
        started: set[Future[_Row]] = set()
        while busy + len(started) <= self.concurrency:
            wanted = 2 * self.concurrency - busy - len(started)
            rows = self.ports.storage.bulks.claim_rows(
                run.bulk_id, limit=wanted, now=now, lease=self.lease
            )
            for row in rows:
                if not self._held(run, row, now):
                    started.add(self._pool.submit(self._row, run, row))
            if len(rows) < wanted:
                break
        return started

    def _after_drive(self, bulk_id: str, resting_until: datetime | None) -> DriveResult:
        storage = self.ports.storage
        run = storage.bulks.get(bulk_id)
        assert run is not None
        due = storage.bulks.next_due(bulk_id, now=self.clock())
        if run.state is RunState.RUNNING and due is None:
            with storage.transaction():
                if storage.bulks.move(bulk_id, RunState.DONE, expect=[RunState.RUNNING]):
                    run_ended(storage, run)
            return DriveResult(RunState.DONE, None)
        if due is not None and resting_until is not None:
            due = max(due, resting_until)
        return DriveResult(run.state, due)

    def _back_off(self) -> float:
        self._backoff = min(BACKOFF_MAX, self._backoff * 2 or BACKOFF_FIRST)
        return self._backoff

    def _held(self, run: BulkRun, row: BulkRow, now: datetime) -> bool:
        """Quiet hours where the row's number is: defer it until they end there."""
        quiet = self.ports.settings.quiet_hours
        until = quiet.held_until(now, zones_for(row.to)) if quiet is not None else None
        if until is None:
            return False
        with self.ports.storage.transaction():
            self.ports.storage.bulks.defer_row(run.bulk_id, row.row, until, held=True)
            progress_changed(self.ports.storage, run)
        return True

    # ---- one row (on a worker thread)

    def _row(self, run: BulkRun, row: BulkRow) -> _Row:
        try:
            return self._send_row(run, row)
        except Exception:
            # A bug or the database: the row's claim runs out and it is tried again (safely:
            # its send is recorded, so a second try asks before sending).
            log.exception("bulk %s row %s failed unexpectedly", run.bulk_id, row.row)
            return _Row.THROTTLED

    def _send_row(self, run: BulkRun, row: BulkRow) -> _Row:
        storage = self.ports.storage
        if storage.opt_outs.is_opted_out(row.to):
            self._finish(run, row, RowState.SKIPPED, "opted out")
            return _Row.DONE
        try:
            recipient = self._record(run, row)
        except _NotRunning:
            return _Row.STOPPED
        if row.send_id is None or _retry_safe(recipient):
            return self._call(run, row, recipient, ask_first=False)
        return self._resume(run, row, recipient)

    def _record(self, run: BulkRun, row: BulkRow) -> Recipient:
        storage = self.ports.storage
        encoded = encode_text(row.text)
        with storage.transaction():
            send = storage.sends.record(
                slack_user=run.starter,
                channel=run.channel or COMMAND_LINE_CHANNEL,
                text=row.text,
                encoding=encoded.encoding,
                parts=encoded.parts,
                recipients=[NewRecipient(row.to, row.climsgid)],
                sandbox=self.ports.sandboxed,
                intent_key=f"bulk:{run.bulk_id}:{row.row}",
            )
            if not storage.bulks.attach_send(run.bulk_id, row.row, send.id):
                raise _NotRunning
        return send.recipients[0]

    def _call(self, run: BulkRun, row: BulkRow, recipient: Recipient, *, ask_first: bool) -> _Row:
        """Send the row (`ask_first`: it may have gone already, so the gateway is asked by its
        client ID first and an earlier message counts as this one)."""
        gateway = self.ports.gateway
        try:
            result = gateway.send(
                [Planned(row.to, row.climsgid)], row.text, skip_if_sent=ask_first
            ).messages[0]
        except (NotSent, Unavailable) as error:
            self._busy(run, row, recipient, error)
            return _Row.THROTTLED
        except (GatewayError, Refused) as error:
            self._store(run, row, recipient, None, error)
            return _Row.DONE
        except Exception as error:  # an unwrapped network error: the outcome is unknown
            log.exception("bulk %s row %s: gateway send failed unexpectedly", run.bulk_id, row.row)
            failure = OutcomeUnknown(f"The send failed unexpectedly ({type(error).__name__}).")
            self._store(run, row, recipient, None, failure)
            return _Row.DONE
        if isinstance(result.error, (NotSent, Unavailable)):
            self._busy(run, row, recipient, result.error)
            return _Row.THROTTLED
        self._store(run, row, recipient, result, None)
        return _Row.DONE

    def _resume(self, run: BulkRun, row: BulkRow, recipient: Recipient) -> _Row:
        """A row whose send was recorded by an earlier claim (a crash, an expired lease)."""
        if recipient.apimsgid or recipient.status:
            self._finish(run, row, RowState.SENT)
        elif recipient.error_code or recipient.error_description:
            self._finish(run, row, RowState.FAILED, _failure_reason(recipient))
        elif self.ports.gateway.capabilities.query_by_client_id:
            return self._call(run, row, recipient, ask_first=True)
        else:
            self._store(run, row, recipient, None, OutcomeUnknown(CANNOT_ASK))
        return _Row.DONE

    # ---- storing outcomes

    def _store(
        self,
        run: BulkRun,
        row: BulkRow,
        recipient: Recipient,
        result: RecipientResult | None,
        failure: GatewayError | Refused | None,
    ) -> None:
        storage = self.ports.storage
        encoded = encode_text(row.text)
        with storage.transaction():
            if result is not None and result.already_sent is not None:
                # Sent by an earlier claim whose answer was lost: that message is this row's.
                earlier = result.already_sent
                storage.sends.update_status(
                    recipient.id, earlier.status, apimsgid=result.message_id or earlier.message_id
                )
            else:
                store_result(storage, recipient, result, failure, encoded)
            error = failure if result is None else result.error
            if error is None:
                self._finish(run, row, RowState.SENT)
            else:
                self._finish(run, row, RowState.FAILED, error_fields(error, encoded)[1])
        if isinstance(error, OutcomeUnknown):
            offer_later_if_needed(storage, self.ports.gateway, recipient.send_id, self.clock())

    def _busy(self, run: BulkRun, row: BulkRow, recipient: Recipient, error: GatewayError) -> None:
        """Nothing was sent: mark the recipient so a later claim sends it without asking, and
        put the row back a little later."""
        storage = self.ports.storage
        log.info("bulk %s row %s: gateway busy (%s); retrying later", run.bulk_id, row.row, error)
        with storage.transaction():
            storage.sends.record_result(
                recipient.id, apimsgid=None, error_code=BUSY, error_description=BUSY_WORDS
            )
            later = self.clock() + timedelta(seconds=max(self._backoff, BACKOFF_FIRST))
            storage.bulks.defer_row(run.bulk_id, row.row, later, held=False)

    def _finish(self, run: BulkRun, row: BulkRow, state: RowState, reason: str | None = None):
        storage = self.ports.storage
        with storage.transaction():
            storage.bulks.finish_row(run.bulk_id, row.row, state, reason)
            progress_changed(storage, run)


COMMAND_LINE_CHANNEL = "cli"  # the channel recorded for sends of a run started on the command line


def _retry_safe(recipient: Recipient) -> bool:
    """The recipient's message certainly never reached the gateway: sending it is safe."""
    if recipient.apimsgid or recipient.status:
        return False
    return recipient.error_code == BUSY or (
        recipient.error_code is None and recipient.error_description == NOT_TAKEN
    )


def _failure_reason(recipient: Recipient) -> str:
    if recipient.error_code in (OUTCOME_UNKNOWN, UNSETTLED):
        return "outcome unknown: " + (recipient.error_description or "")
    return recipient.error_description or f"refused ({recipient.error_code})"


def _first_done(futures: set[Future[_Row]]) -> tuple[set[Future[_Row]], set[Future[_Row]]]:
    done, pending = wait(futures, return_when=FIRST_COMPLETED)
    return set(done), set(pending)
