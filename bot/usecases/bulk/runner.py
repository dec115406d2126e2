"""Handing a bulk run's rows to the gateway: bounded concurrency, the gateway's pace, quiet
hours, and never a row twice.

`BulkRunner.drive(bulk_id)` claims due rows (a lease each, so another process can take over a
run whose driver died) and sends each as an ordinary recorded send on a small thread pool over
the gateway's one kept-alive session. It returns when no row is due: the run is done, paused,
cancelled, or waiting (quiet hours, a back-off) until `DriveResult.next_due`.

Work is batched so that the database is not what limits the pace: a commit waits for the disk,
and one per row would cap a run at the disk's commits per second. The driving thread does all
the storage work, a batch of rows per transaction; the pool threads only talk to the gateway.

1. Claim (one transaction for a batch): rows due inside quiet hours where their number is are
   held until the window ends there; rows whose number opted out since the plan are skipped;
   the others are recorded as sends (the row's intent key and client ID) and attached to their
   rows — refused once the run is paused or cancelled, and then nothing goes. The records are
   committed before any of those rows is handed to the gateway.
2. Send, on the pool.
3. Store what came back (one transaction for every answer that is in): the recipient's result,
   the row finished, the progress card's update queued (coalesced).

A row claimed again after a crash already has its send. What its recipient holds decides: an
answer means the row is finished as it says; nothing at all means the call may have been cut
off, so a gateway that can be asked by client ID is asked first (`skip_if_sent`: found means
sent, never twice) and one that cannot (the Portal) is never retried: the row's outcome is
unknown, settled by a delivery report carrying its client ID, like any send's. (A crash can so
leave at most two batches of rows — recorded, perhaps not sent — unknown on the Portal.)

Pace: the gateway clients retry their own transient errors (legacy 901, Portal 429 and 43 with
Retry-After); when they give up (`Unavailable`, `NotSent`: nothing was sent) the row is marked
safe to send again and put back for later, and the runner stops claiming for a back-off that
doubles while it lasts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
COMMAND_LINE_CHANNEL = "cli"  # the channel recorded for sends of a run started on the command line


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DriveResult:
    state: RunState
    next_due: datetime | None  # when a row is due again (held or backing off); None: none left


@dataclass(frozen=True)
class _Job:
    """A claimed, recorded row to hand to the gateway (`ask_first`: it may have gone already)."""

    row: BulkRow
    recipient: Recipient
    ask_first: bool


@dataclass(frozen=True)
class _Answer:
    job: _Job
    result: RecipientResult | None = None
    failure: GatewayError | Refused | None = None

    @property
    def busy(self) -> bool:
        """Nothing was sent and the gateway asked for time (or could not be reached)."""
        error = self.failure if self.result is None else self.result.error
        return isinstance(error, (NotSent, Unavailable))


class _NotRunning(Exception):
    """The run stopped before this row was recorded: roll the row's record back."""


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
        run = self.ports.storage.bulks.get(bulk_id)
        if run is None:
            raise KeyError(bulk_id)
        started = self.clock()
        in_flight: set[Future[_Answer]] = set()
        answers: list[_Answer] = []  # answers in, not stored yet
        resting_until: datetime | None = None
        while True:
            now = self.clock()
            out_of_time = budget is not None and (now - started).total_seconds() >= budget
            stopping = (stop is not None and stop.is_set()) or out_of_time
            resting = resting_until is not None and now < resting_until
            # Top the pool's queue up once it runs low (it holds up to twice the pool), and
            # store the answers in then, in the same transaction: one commit per batch.
            claiming = not stopping and not resting and len(in_flight) <= self.concurrency
            if claiming or (answers and not in_flight):
                with self.ports.storage.transaction():
                    self._store(run, answers)
                    wanted = 2 * self.concurrency - len(in_flight) if claiming else 0
                    jobs = self._claim(run, now, wanted)
                self._after_store(answers)
                answers = []
                in_flight |= {self._pool.submit(self._send, job) for job in jobs}
            if not in_flight:
                break
            done, pending = wait(in_flight, return_when=FIRST_COMPLETED)
            in_flight = set(pending)
            arrived = [future.result() for future in done]
            if any(answer.busy for answer in arrived):
                resting_until = self.clock() + timedelta(seconds=self._back_off())
            else:
                self._backoff = 0.0
            answers += arrived
        return self._after_drive(bulk_id, resting_until)

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

    # ---- 1. claiming (the driving thread; one transaction per batch)

    def _claim(self, run: BulkRun, now: datetime, wanted: int) -> list[_Job]:
        """Claim up to `wanted` rows and record those to send; rows held for quiet hours are
        put back and more claimed, so a batch is not spent on rows that cannot go."""
        jobs: list[_Job] = []
        while len(jobs) < wanted:  # inside the caller's transaction (each claim a savepoint)
            asked = wanted - len(jobs)
            with self.ports.storage.transaction():
                rows = self.ports.storage.bulks.claim_rows(
                    run.bulk_id, limit=asked, now=now, lease=self.lease
                )
                jobs += [job for row in rows if (job := self._prepare_row(run, row, now))]
                if rows:
                    progress_changed(self.ports.storage, run)
            if len(rows) < asked:
                break
        return jobs

    def _prepare_row(self, run: BulkRun, row: BulkRow, now: datetime) -> _Job | None:
        """The row's job, or None when it is settled here (held, skipped, finished)."""
        storage = self.ports.storage
        quiet = self.ports.settings.quiet_hours
        until = quiet.held_until(now, zones_for(row.to)) if quiet is not None else None
        if until is not None:
            storage.bulks.defer_row(run.bulk_id, row.row, until, held=True)
            return None
        if storage.opt_outs.is_opted_out(row.to):
            storage.bulks.finish_row(run.bulk_id, row.row, RowState.SKIPPED, "opted out")
            return None
        try:
            with storage.transaction():  # a savepoint: only this row's record is undone
                recipient = self._record(run, row)
        except _NotRunning:
            return None
        if row.send_id is None or _retry_safe(recipient):
            return _Job(row, recipient, ask_first=False)
        return self._resumed(run, row, recipient)

    def _record(self, run: BulkRun, row: BulkRow) -> Recipient:
        encoded = encode_text(row.text)
        send = self.ports.storage.sends.record(
            slack_user=run.starter,
            channel=run.channel or COMMAND_LINE_CHANNEL,
            text=row.text,
            encoding=encoded.encoding,
            parts=encoded.parts,
            recipients=[NewRecipient(row.to, row.climsgid)],
            sandbox=self.ports.sandboxed,
            intent_key=f"bulk:{run.bulk_id}:{row.row}",
        )
        if not self.ports.storage.bulks.attach_send(run.bulk_id, row.row, send.id):
            raise _NotRunning
        return send.recipients[0]

    def _resumed(self, run: BulkRun, row: BulkRow, recipient: Recipient) -> _Job | None:
        """A row whose send an earlier claim recorded (a crash, an expired lease)."""
        storage = self.ports.storage
        if recipient.apimsgid or recipient.status:
            storage.bulks.finish_row(run.bulk_id, row.row, RowState.SENT)
        elif recipient.error_code or recipient.error_description:
            storage.bulks.finish_row(run.bulk_id, row.row, RowState.FAILED, _reason(recipient))
        elif self.ports.gateway.capabilities.query_by_client_id:
            return _Job(row, recipient, ask_first=True)
        else:
            unknown = _Answer(_Job(row, recipient, False), None, OutcomeUnknown(CANNOT_ASK))
            self._store_one(run, unknown)
            self._after_store([unknown])
        return None

    # ---- 2. sending (a pool thread: the gateway only)

    def _send(self, job: _Job) -> _Answer:
        row = job.row
        try:
            sent = self.ports.gateway.send(
                [Planned(row.to, row.climsgid)], row.text, skip_if_sent=job.ask_first
            )
        except (GatewayError, Refused) as error:
            return _Answer(job, None, error)
        except Exception as error:  # a bug or an unwrapped network error: the outcome is unknown
            log.exception("bulk row %s: the gateway send failed unexpectedly", row.row)
            return _Answer(job, None, OutcomeUnknown(f"The send failed unexpectedly ({error!r})."))
        return _Answer(job, sent.messages[0], None)

    # ---- 3. storing answers (the driving thread; one transaction for all that are in)

    def _store(self, run: BulkRun, answers: Sequence[_Answer]) -> None:
        """Inside the caller's transaction."""
        for answer in answers:
            self._store_one(run, answer)
        if answers:
            progress_changed(self.ports.storage, run)

    def _after_store(self, answers: Sequence[_Answer]) -> None:
        """Once stored: unknown outcomes a gateway cannot be asked about get their later
        "Send again" check, as for any send."""
        for answer in answers:
            error = answer.failure if answer.result is None else answer.result.error
            if isinstance(error, OutcomeUnknown):
                send_id = answer.job.recipient.send_id
                offer_later_if_needed(self.ports.storage, self.ports.gateway, send_id, self.clock())

    def _store_one(self, run: BulkRun, answer: _Answer) -> None:
        storage = self.ports.storage
        row, recipient, result = answer.job.row, answer.job.recipient, answer.result
        if answer.busy:
            log.info(
                "bulk %s row %s: the gateway is busy; trying again later", run.bulk_id, row.row
            )
            storage.sends.record_result(
                recipient.id, apimsgid=None, error_code=BUSY, error_description=BUSY_WORDS
            )
            later = self.clock() + timedelta(seconds=max(self._backoff, BACKOFF_FIRST))
            storage.bulks.defer_row(run.bulk_id, row.row, later, held=False)
            return
        encoded = encode_text(row.text)
        if result is not None and result.already_sent is not None:
            # Sent by an earlier claim whose answer was lost: that message is this row's.
            earlier = result.already_sent
            apimsgid = result.message_id or earlier.message_id
            storage.sends.update_status(recipient.id, earlier.status, apimsgid=apimsgid)
        else:
            store_result(storage, recipient, result, answer.failure, encoded)
        error = answer.failure if result is None else result.error
        if error is None:
            storage.bulks.finish_row(run.bulk_id, row.row, RowState.SENT)
        else:
            reason = error_fields(error, encoded)[1]
            storage.bulks.finish_row(run.bulk_id, row.row, RowState.FAILED, reason)


def _retry_safe(recipient: Recipient) -> bool:
    """The recipient's message certainly never reached the gateway: sending it is safe."""
    if recipient.apimsgid or recipient.status:
        return False
    return recipient.error_code == BUSY or (
        recipient.error_code is None and recipient.error_description == NOT_TAKEN
    )


def _reason(recipient: Recipient) -> str:
    if recipient.error_code in (OUTCOME_UNKNOWN, UNSETTLED):
        return "outcome unknown: " + (recipient.error_description or "")
    return recipient.error_description or f"refused ({recipient.error_code})"
