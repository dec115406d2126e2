"""The storage port: what the bot asks of its database, one small repository per aggregate.

Everything durable goes through a `Storage`, whatever backend implements it (SQLite today, in
`bot.storage.sqlite`). The code above storage sees only these protocols, the records of
`bot.domain.records` and the two errors below, never a database driver's types.

Promises every backend keeps (the contract suite in tests/storage checks them):
- Every write method is durable when it returns: a callback stored by `inbox.store` survives the
  process being killed right after the 200.
- `transaction()` groups the calls one thread makes into one atomic unit, and nests (an inner
  block joins the outer one; an inner failure rolls back only the inner part). The inbound worker
  relies on it to do work exactly once: add an SMS part, enqueue the Slack post and mark the
  callback processed, all or nothing.
- Reads see one consistent snapshot (inside a transaction: its own writes).
- Times in and out are timezone-aware UTC; naive datetimes are refused with ValueError. Writes
  are stamped with the backend's clock unless told otherwise.
- Cross-aggregate effects are the caller's explicit steps, in one transaction; a repository
  writes only its own aggregate's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Literal, Protocol

from bot.domain.delivery import DeliveryStatus
from bot.domain.records import (
    Backlog,
    CallbackKind,
    CardPlace,
    Contact,
    Conversation,
    InboundRecord,
    InboxItem,
    JsonObject,
    LogEntry,
    MoGroup,
    NewRecipient,
    OptOut,
    OutboxItem,
    OutboxState,
    Recipient,
    Send,
    StatusApplied,
    StatusUpdate,
    ThreadInfo,
    ThreadRef,
    ThreadSummary,
)
from bot.domain.threading import THREAD_WINDOW
from bot.storage.bulks import BulkRepository
from bot.storage.leases import DEFAULT_LEASE
from bot.storage.saved import GroupRepository, TemplateRepository

# The queues a worker may ask to be woken for (`Storage.watch`).
WorkQueue = Literal["inbox", "outbox"]


class StorageError(Exception):
    """The database cannot be opened or used (bad location, newer schema, a constraint the data
    breaks). The message names the database and the cause; it never contains secrets."""


class StorageUnavailable(StorageError):
    """The database cannot do it *now* (locked by another process, disk full, an I/O error,
    closed): nothing is wrong with the request, so try again later. Callback endpoints answer
    503 with Retry-After; workers pause instead of counting it against the work item."""


class SendRepository(Protocol):
    """Sends and their recipients, including the one path that moves a delivery status."""

    def record(
        self,
        *,
        slack_user: str,
        channel: str,
        text: str,
        encoding: str,
        parts: int,
        recipients: Sequence[NewRecipient],
        sender: str | None = None,
        scheduled_at: datetime | None = None,
        sandbox: bool = False,
        intent_key: str | None = None,
        thread_ts: str | None = None,
        asked_at: datetime | None = None,
    ) -> Send:
        """Record a send and its recipients (in order). With an `intent_key` already recorded,
        nothing is written and the existing send is returned (idempotent). `asked_at`: the
        time asked for, when quiet hours moved it to `scheduled_at`."""
        ...

    def get(self, send_id: int) -> Send | None: ...

    def by_intent(self, intent_key: str) -> Send | None: ...

    def by_card(self, channel: str, ts: str) -> Send | None:
        """The send shown by the Slack message (channel, ts): a card or a relayed reply."""
        ...

    def card_place(self, send_id: int) -> CardPlace | None:
        """Where the send is shown, without loading its recipients."""
        ...

    def attach_card(self, send_id: int, channel: str, ts: str) -> None:
        """Remember the Slack message (channel, ts) that shows this send."""
        ...

    def set_card_item(self, send_id: int, item_id: int) -> None:
        """The card is being posted by outbox item `item_id`: until `card_posted` says where it
        went, `conversations.find_thread` points replies at that item."""
        ...

    def card_posted(self, item_id: int, channel: str, ts: str) -> None:
        """Outbox item `item_id` posted a card as (channel, ts): attach it to the send waiting
        for it (a completion step; nothing happens when no send waits for that item)."""
        ...

    def mark_cancelled(self, send_id: int, at: datetime | None = None) -> bool:
        """Mark a (scheduled) send cancelled; False if it was already cancelled or unknown."""
        ...

    def scheduled_by(
        self, slack_user: str, now: datetime | None = None, limit: int = 10
    ) -> list[Send]:
        """`slack_user`'s sends scheduled for after `now` (default: the backend's clock) and not
        cancelled, soonest first: what their Home tab offers to cancel."""
        ...

    def scheduled_to(self, msisdn: str, now: datetime | None = None) -> list[Send]:
        """Sends with a recipient `msisdn`, scheduled for after `now` (default: the backend's
        clock) and not cancelled, soonest first: what a number that opts out must not get."""
        ...

    def unsettled(self, created_before: datetime, limit: int = 100) -> list[Send]:
        """Sends (not relayed replies, not cancelled) created before `created_before` with a
        recipient that has no outcome at all: a crash cut their gateway call off. A backend
        that several replicas serve returns only sends recorded by an instance that is gone
        (PostgreSQL), never one a live replica may still be sending."""
        ...

    def recent_log(
        self, msisdn: str | None = None, limit: int = 20, channel: str | None = None
    ) -> list[LogEntry]:
        """Recent recipients of sends, newest first, optionally only those to one number and
        only those sent from one channel."""
        ...

    def by_message_id(self, message_id: str) -> Send | None:
        """The send a message belongs to, by the gateway's message ID or its client ID."""
        ...

    def recipient_by_apimsgid(self, apimsgid: str) -> Recipient | None: ...

    def recipient_by_climsgid(self, climsgid: str, msisdn: str) -> Recipient | None: ...

    def recipients_by_climsgid(self, climsgid: str) -> list[Recipient]:
        """Every recipient sent under this client ID, oldest first: several when one client ID
        covered a multi-recipient send (legacy `climsgid` per request, Portal REST)."""
        ...

    def find_recipient(
        self, *, apimsgid: str | None = None, climsgid: str | None = None, msisdn: str | None = None
    ) -> Recipient | None:
        """For a status callback: by apimsgid first, else by (climsgid, msisdn), else (no
        msisdn: the Portal's One API reports name none) by climsgid when exactly one recipient
        has it."""
        ...

    def record_result(
        self,
        recipient_id: int,
        *,
        apimsgid: str | None,
        error_code: str | None = None,
        error_description: str | None = None,
    ) -> None:
        """Store what the gateway answered for a recipient recorded before the call."""
        ...

    def update_status(
        self,
        recipient_id: int,
        status: DeliveryStatus,
        *,
        at: datetime | None = None,
        charge: float | None = None,
        apimsgid: str | None = None,
    ) -> bool:
        """Apply a status only if it moves the recipient forward (`moves_forward`; a late
        "sent" after "delivered" changes nothing). True when the status changed. `charge` is
        stored whenever given; `apimsgid` fills a recipient that had none. Any status settles
        an unknown outcome: a recipient stored with an error code of `SETTLED_BY_A_REPORT`
        (`OUTCOME_UNKNOWN`, `UNSETTLED`) loses it (the gateway has the message after all)."""
        ...

    def apply_reports(self, reports: Sequence[StatusUpdate]) -> list[StatusApplied | None]:
        """`find_recipient` + `update_status` for a batch of delivery reports, in order (so a
        batch holding "sent" and "delivered" of one message ends at "delivered" whatever their
        order). None for a report that matches no recipient."""
        ...


class ContactRepository(Protocol):
    """Names for numbers; names are unique ignoring case (also beyond ASCII)."""

    def save(self, name: str, msisdn: str, owner: str | None = None) -> bool:
        """Add or update (the casing typed last is kept; `owner`, who set it, too); True if the
        contact is new. An empty name is refused with ValueError."""
        ...

    def remove(self, name: str) -> bool:
        """Remove by name (any case); False when there was no such contact."""
        ...

    def all(self) -> list[Contact]:
        """All contacts sorted by name, ignoring case."""
        ...

    def get(self, name: str) -> Contact | None:
        """Look a contact up by name, ignoring case."""
        ...

    def name_for(self, msisdn: str) -> str | None:
        """The contact name for a number (the first by name if several share it)."""
        ...

    def names_for(self, msisdns: Sequence[str]) -> dict[str, str]:
        """Bulk `name_for` for cards with many recipients; numbers without a name omitted."""
        ...


class OptOutRepository(Protocol):
    """Numbers that texted STOP (and START again). `at` is the SMS's own time: an event older
    than the stored one (a retried callback arriving late) changes nothing."""

    def opt_out(
        self,
        msisdn: str,
        keyword: str = "STOP",
        at: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        """Record an opt-out; True if the state changed. `by`: the admin whose command did it."""
        ...

    def opt_in(
        self,
        msisdn: str,
        keyword: str = "START",
        at: datetime | None = None,
        by: str | None = None,
    ) -> bool:
        """Undo an opt-out; True if the state changed (never for a number that was never out)."""
        ...

    def is_opted_out(self, msisdn: str) -> bool: ...

    def get(self, msisdn: str) -> OptOut | None:
        """The stored state of a number with its timestamp, None if never recorded."""
        ...

    def all(self) -> list[OptOut]:
        """Every number with a stored state, by number."""
        ...


class InboundRepository(Protocol):
    """Every inbound SMS once routed (written in the transaction that routes it)."""

    def record(
        self,
        *,
        msisdn: str,
        text: str,
        channel: str,
        post_item: int,
        send_id: int | None = None,
        conversation_id: int | None = None,
        at: datetime | None = None,
    ) -> int: ...

    def recent(
        self, msisdn: str | None = None, limit: int = 20, channel: str | None = None
    ) -> list[InboundRecord]:
        """Newest first, optionally only from one number and only shown in one channel."""
        ...

    def texted_in(self, send_id: int | None, conversation_id: int | None) -> list[str]:
        """The numbers that texted into the thread of that card or conversation, in the order
        they first did."""
        ...


class ConversationRepository(Protocol):
    """Slack threads that carry SMS, and the policy that picks the thread an SMS goes to."""

    def find_thread(
        self,
        msisdn: str,
        now: datetime | None = None,
        window: timedelta = THREAD_WINDOW,
        sent_by: datetime | None = None,
    ) -> ThreadRef | None:
        """The newest card (a send to this number that has a Slack message, or one being
        posted) or conversation with this number whose last activity is within `window` of
        `now`; None means start a new conversation. A relayed reply counts as activity in its
        thread. With `sent_by`, only sends recorded by then count (what the phone can have been
        answering)."""
        ...

    def thread_info(self, channel: str, thread_ts: str) -> ThreadInfo | None:
        """The card and/or conversation rooted at (channel, thread_ts); None if the thread is
        not one of ours (then a reply in it is not relayed)."""
        ...

    def start(
        self,
        msisdn: str,
        channel: str,
        *,
        thread_ts: str | None = None,
        root_item: int | None = None,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        """A new conversation; give `thread_ts` when the root message is already posted, or
        `root_item` (the outbox item posting it) when it is not yet (should that item be done
        already, its posted ts is taken). `at`: when the SMS that starts it arrived; `text`:
        what it said (kept as the thread's last inbound message)."""
        ...

    def touch(
        self,
        channel: str,
        thread_ts: str,
        msisdn: str,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        """An SMS from `msisdn` arrived in the thread at `at` (default now): create the
        conversation if needed (e.g. a card's thread), set its last phone and activity time
        (which never moves back), and with `text` its last inbound message (unless a later
        one is already kept)."""
        ...

    def touch_by_id(
        self,
        conversation_id: int,
        msisdn: str,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        """As `touch`, for a conversation whose root is still in the outbox; KeyError when
        there is no such conversation."""
        ...

    def get(self, conversation_id: int) -> Conversation | None: ...

    def recent(self, limit: int = 100) -> list[Conversation]:
        """Conversations by latest activity, newest first."""
        ...

    def latest(self, limit: int = 10) -> list[ThreadSummary]:
        """Threads with a posted root that carry SMS, each by its last message (the phone's
        latest SMS kept by `touch`, or the newest card or relayed reply in it, whichever is
        later), newest first. Reads only recent activity: the newest few hundred sends and
        conversations."""
        ...

    def root_posted(self, item_id: int, ts: str) -> None:
        """Outbox item `item_id` posted a conversation's root as `ts`: the conversation waiting
        for it gets its thread (a completion step; nothing happens when none waits)."""
        ...


class InboxRepository(Protocol):
    """Gateway callbacks stored before they are acknowledged, processed afterwards. Meant for
    ONE processing worker per Storage: `unprocessed` does not hand rows to one thread or
    another. A backend that several processes share (PostgreSQL) hands the inbox to one of them
    at a time: there `unprocessed` claims what it returns, with a lease, and returns nothing
    while another live process holds unprocessed rows."""

    def store(
        self,
        kind: CallbackKind,
        unique_key: str,
        params: bytes,
        received_at: datetime | None = None,
    ) -> bool:
        """Durably store a callback; False (nothing stored) when one with the same (kind,
        unique_key) was stored before, processed or not."""
        ...

    def store_many(
        self,
        items: Sequence[tuple[CallbackKind, str, bytes]],
        received_at: datetime | None = None,
    ) -> list[bool]:
        """`store` for many callbacks in one transaction (the endpoints' group commit): per item
        True when stored, False for a duplicate (also of an earlier item in `items`)."""
        ...

    def unprocessed(self, limit: int = 100, kind: CallbackKind | None = None) -> list[InboxItem]:
        """Unprocessed callbacks in arrival order."""
        ...

    def still_unprocessed(self, item_ids: Sequence[int]) -> set[int]:
        """Which of these rows are not processed yet. Inside `transaction()` the answer holds
        until it ends (SQLite: the transaction excludes every other writer; a backend with
        concurrent writers must lock the rows), so re-checking there hands each callback to
        one processor only, even with several processes on one database."""
        ...

    def mark_processed(self, item_id: int) -> None: ...

    def mark_processed_many(self, item_ids: Sequence[int]) -> None: ...

    def record_failure(self, item_id: int, error: str) -> int:
        """Count a failed processing attempt (the item stays unprocessed); attempts so far."""
        ...

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete processed callbacks older than `older_than` (keep it longer than the
        gateway's retry span, or a late retry is no longer recognised as a duplicate)."""
        ...

    def count(self, *, unprocessed: bool = False, kind: CallbackKind | None = None) -> int:
        """How many callbacks are stored (only the unprocessed ones, only of one kind)."""
        ...

    def failures(self, limit: int = 100) -> list[InboxItem]:
        """Callbacks whose processing failed at least once (processed since or not), newest
        first: what an operator looks at."""
        ...


class MoPartRepository(Protocol):
    """Parts of multi-part inbound SMS, kept until the whole text is there (or given up on)."""

    def add(
        self,
        sender: str,
        reference: int,
        total: int,
        sequence: int,
        text: str,
        received_at: datetime | None = None,
        arrived_at: datetime | None = None,
    ) -> str | None:
        """Store one part (a repeated part is ignored), taken in at `received_at` (default now)
        after it reached us at `arrived_at` (default: the same). When all `total` parts are
        present return the whole text in sequence order (the group is kept until `delete`, so
        a part reprocessed after a crash returns it again); else None."""
        ...

    def first_arrival(self, sender: str, reference: int, total: int) -> datetime | None:
        """When the group's first part reached us; None when no part is stored."""
        ...

    def stale(self, older_than: timedelta, now: datetime | None = None) -> list[MoGroup]:
        """Incomplete groups whose first part was taken in more than `older_than` ago."""
        ...

    def delete(self, sender: str, reference: int, total: int) -> bool:
        """Forget the group; False when it was already gone. Inside `transaction()` the answer
        holds until it ends (a concurrent delete waits, then finds nothing), so a group handed
        on only when this says True is handed on once, whichever process swept it."""
        ...


class OutboxRepository(Protocol):
    """Slack (and gateway) work to do, drained by several workers: `fetch_due` claims items
    with a lease."""

    def enqueue(
        self,
        channel: str,
        kind: str,
        payload: JsonObject,
        *,
        coalesce_key: str | None = None,
        order_key: str | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Queue work (payload must be JSON-serializable, else ValueError); returns the item id.
        With a `coalesce_key` matching a pending item, that item's payload is replaced instead
        (same id, same place in line, its not_before kept) and its version bumped."""
        ...

    def fetch_due(
        self,
        *,
        limit: int = 10,
        now: datetime | None = None,
        lease: timedelta = DEFAULT_LEASE,
        exclude_channels: Sequence[str] = (),
    ) -> list[OutboxItem]:
        """Claim up to `limit` due items in queue order: pending, not_before reached, not claimed
        by another fetch within its lease, and no earlier pending item with the same order_key.
        Claimed items are not returned again until completed, rescheduled or the lease ends."""
        ...

    def complete(self, item: OutboxItem, result: str | None = None) -> bool:
        """The item was done (result: e.g. the ts of the posted message). Returns False and keeps
        the item pending (due at once) when its payload was replaced while in flight. Writes
        nothing but the item: what a result means elsewhere (a posted thread root) is the
        caller's completion step, in the same transaction."""
        ...

    def reschedule(
        self,
        item: OutboxItem,
        not_before: datetime,
        *,
        error: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        """Try again at `not_before` (429 Retry-After, 5xx backoff, pacing); releases the claim."""
        ...

    def give_up(self, item: OutboxItem, error: str) -> None:
        """Mark failed for good (e.g. channel_not_found); no longer blocks its order_key."""
        ...

    def get(self, item_id: int) -> OutboxItem | None: ...

    def result(self, item_id: int) -> str | None:
        """The result stored by `complete()` (e.g. a posted message's ts), None if not done."""
        ...

    def count(self, state: OutboxState = "pending") -> int:
        """How many items are in `state` (pending: for health and tests)."""
        ...

    def backlogs(self, kind: str, at_least: int) -> list[Backlog]:
        """Channels with at least `at_least` pending items of `kind` (a flood of inbound SMS
        queued behind Slack's pacing), each with its count and its newest item."""
        ...

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Delete done/failed items older than `older_than`."""
        ...

    def release_leases(self) -> int:
        """Make items claimed by a previous run of this process due again (its claims died with
        it); call once at start-up, before any drainer runs, and only once the database is held
        (`Storage.hold_for_serving`). Returns how many. A backend that several processes share
        releases the claims of every process that is gone, never those of one still running."""
        ...


class ClaimRepository(Protocol):
    """Idempotency keys of Slack deliveries (event_id, trigger_id, ...): Slack redelivers."""

    def claim(self, key: str) -> bool:
        """True exactly once per key, across threads, processes and restarts."""
        ...

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Forget claims older than `older_than`; returns how many were removed."""
        ...

    def count(self) -> int: ...


class ValueRepository(Protocol):
    """Small named state (alert sent, in-flight markers, the instance token)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...


class SlotRepository(Protocol):
    """Turns in time shared by every process on the database: one row per key (a Slack channel,
    a card, a scheduled job) saying when it is next free. Slack's pace across replicas and work
    that must run once across replicas are both "the first caller once it is free takes it"."""

    def take(self, slots: Mapping[str, timedelta], now: datetime | None = None) -> timedelta | None:
        """When every key of `slots` is free at `now` (default: the clock), take them all (each
        is next free at `now` + its interval) and return None; else take none and return how
        long until the last of them is free (more than zero). Atomic across processes: of two
        callers at once, exactly one takes a free key."""
        ...

    def hold(self, key: str, until: datetime) -> None:
        """Keep `key` taken until at least `until` (a 429's Retry-After; an interval counted
        from the end of a call); never frees it sooner than it was."""
        ...

    def busy(self, prefix: str, now: datetime | None = None) -> dict[str, datetime]:
        """The keys starting with `prefix` that are not free at `now`, each with when it is."""
        ...

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        """Forget keys free for longer than `older_than` (a forgotten key is free)."""
        ...


class Storage(Protocol):
    """All durable state of the bot. Thread-safe: one instance serves every thread."""

    # Read-only: a backend may hold its own repository types (a property is covariant).
    @property
    def sends(self) -> SendRepository: ...

    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def opt_outs(self) -> OptOutRepository: ...

    @property
    def templates(self) -> TemplateRepository: ...

    @property
    def groups(self) -> GroupRepository: ...

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def inbound(self) -> InboundRepository: ...

    @property
    def inbox(self) -> InboxRepository: ...

    @property
    def mo_parts(self) -> MoPartRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def claims(self) -> ClaimRepository: ...

    @property
    def values(self) -> ValueRepository: ...

    @property
    def bulks(self) -> BulkRepository: ...

    @property
    def slots(self) -> SlotRepository: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Group this thread's calls into one atomic, durable unit; nests (inner blocks join the
        outer one). An exception rolls everything back and propagates."""
        ...

    def watch(self, queue: WorkQueue, wake: Callable[[], None]) -> None:
        """Call `wake()` (on a thread of the backend's) soon after a row is added to `queue` by
        any process on this database, once the row is committed: a worker sleeping between
        polls picks new work up within milliseconds. Only a hint: polling stays the fallback,
        so a lost wake costs a pause, never work. PostgreSQL: a NOTIFY in the inserting
        transaction and one listening connection per Storage; SQLite (one serving process):
        in-process, after the commit."""
        ...

    def healthy(self, wait: float = 0.5) -> bool:
        """True when the database answers and could store a callback now (for /healthz);
        never raises. `wait`: how long a write may wait for a lock before it counts as stuck."""
        ...

    def hold_for_serving(self) -> None:
        """Claim the database for this `serve` process until `close()`, before any worker runs.
        A backend that one process must serve alone (SQLite) raises StorageError naming the
        process that holds it; one that several replicas share (PostgreSQL) does nothing."""
        ...

    def close(self) -> None:
        """Release every connection (and the claim of `hold_for_serving`); further use raises
        StorageUnavailable."""
        ...

    def __enter__(self) -> Storage: ...

    def __exit__(self, *exc: object) -> None:
        """`close()`: `with open_storage(...) as storage:` for a short-lived use."""
        ...
