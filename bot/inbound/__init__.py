"""Inbound SMS, delivery reports, the durable Slack outbox and conversation threads.

`Inbound(deps, options)` builds the pieces; the composition root (`bot.container`) builds it once
per process, starts it, and routes to it (callbacks, thread replies, card refreshes):

    CallbackEndpoints  /clickatell/status and /clickatell/mo: store durably, answer 200
    InboxWriter        worker: group commit of the endpoints' callbacks
    InboxProcessor     worker: stored callbacks -> state, conversation posts, card updates
    SlackOutbox        worker: paced, coalescing, retrying Slack sender (exactly once), with
                       BacklogNotice: one summary when posts queue up in a channel
    ReplyRelay         thread replies -> SMS (gateway calls on its own pool)
    HeldSends          scheduled sends sms-bot held, handed to the gateway when due; and
                       the scheduled messages of a number that opted out, cancelled there
    BalanceWatcher     worker: one alert in SMS_CHANNEL when credit runs low
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient

from bot.blocks.base import Message
from bot.blocks.card import card_message
from bot.config import Settings
from bot.domain import access
from bot.domain.outbox import CARD_KEY, OutboxKind
from bot.gateway.base import Gateway
from bot.inbound.alerts import BalanceWatcher
from bot.inbound.auto_replies import AutoReplies
from bot.inbound.backlog import BACKLOG_THRESHOLD, BacklogNotice
from bot.inbound.bulk_cards import BulkBoard
from bot.inbound.conversations import ConversationRouter, post_payload
from bot.inbound.endpoints import (
    STORE_WAIT,
    STUCK_AFTER,
    CallbackEndpoints,
    Credentials,
    InboxWriter,
    WriteGate,
)
from bot.inbound.held import HeldSends, ResendOffers
from bot.inbound.outbox import SlackOutbox, Timing
from bot.inbound.processor import PART_WAIT, InboxProcessor
from bot.inbound.rejections import RejectionLog
from bot.inbound.replies import ReplyRelay, reaction_for
from bot.inbound.slack_health import SlackHealth
from bot.inbound.worker import LoopWorker
from bot.slack.directory import SlackDirectory
from bot.slack.workspace import Workspace
from bot.storage import Storage
from bot.usecases.bulk.events import progress_changed

CARD_CACHE_SIZE = 4096  # sends whose card is remembered; older ones are read from storage

log = logging.getLogger(__name__)

__all__ = ["Inbound", "InboundDeps", "Options"]


@dataclass(frozen=True)
class InboundDeps:
    """What the inbound side is built on. `settings` is the effective configuration (with the
    sandbox: its generated callback credentials); `api_id` the account callbacks must name."""

    settings: Settings
    storage: Storage
    gateway: Gateway
    slack: WebClient
    clock: Callable[[], datetime]
    gateway_api_id: str
    sandboxed: bool


@dataclass(frozen=True)
class _CardRef:
    channel: str  # the card's channel (until it is posted: the channel it will be posted in)
    posted: bool
    is_reply: bool  # a thread reply relayed as SMS: it has a reaction, not a card
    bulk_id: str | None = None  # a bulk run's row: its run's progress card shows it


@dataclass(frozen=True)
class Options:
    """Tunables; tests shorten the waits, production keeps the defaults."""

    timing: Timing = field(default_factory=Timing)
    part_wait_seconds: float = PART_WAIT.total_seconds()
    balance_interval: float = 900.0
    low_balance: float | None = None  # None: SMS_LOW_BALANCE (settings.low_balance)
    relay_backoff: float = 2.0
    store_wait: float = STORE_WAIT  # seconds a callback waits for the database, then 503
    home_debounce: float = 5.0  # seconds between two refreshes of the open Home tabs
    # How long a write may take before the writer counts as stuck (every callback 503 at once).
    stuck_after: float = STUCK_AFTER
    # Waiting posts in one channel that make the outbox post one summary there (and /healthz
    # name the backlog).
    backlog_threshold: int = BACKLOG_THRESHOLD
    start: bool = True


def outbox_client(slack: WebClient) -> WebClient:
    """A client like the services' one but without retry handlers: the outbox does its own
    retrying (a handler sleeping through Retry-After would stall every channel)."""
    return WebClient(
        token=slack.token,
        base_url=slack.base_url,
        timeout=slack.timeout,
        retry_handlers=[],
        logger=slack.logger,
    )


class Inbound:
    """Everything of issue 4, built on `services`; `start()`/`stop()` run the workers."""

    def __init__(self, services: InboundDeps, options: Options = Options()) -> None:
        self.services = services
        storage, settings = services.storage, services.settings
        clock = _aware(services.clock)
        self.directory = SlackDirectory(services.slack)  # names and time zones, cached
        self.relay = ReplyRelay(
            storage,
            services.gateway,
            allowed=lambda user: _may_use(settings, user),
            max_parts=settings.max_parts,
            sandbox=services.sandboxed,
            clock=clock,
            on_enqueue=self._wake_outbox,
            backoff=options.relay_backoff,
            names=self.directory.names(),
            is_admin=lambda user: user in settings.admins,
        )
        self.backlog = BacklogNotice(storage, threshold=options.backlog_threshold)
        self.slack_health = SlackHealth(storage, clock)
        self.held = HeldSends(
            storage,
            services.gateway,
            clock=clock,
            refresh_card=self.refresh_card,
            on_enqueue=self._wake_outbox,
        )
        self.outbox = SlackOutbox(
            storage,
            outbox_client(services.slack),
            clock=clock,
            render_card=card_message,
            timing=options.timing,
            handlers={
                OutboxKind.SMS: self.relay.submit,
                OutboxKind.HELD: self.held.submit,
                OutboxKind.CANCEL_OPTED_OUT: self.held.submit,
                OutboxKind.OFFER_RESEND: ResendOffers(storage, self.refresh_card).submit,
            },
            reaction_for=reaction_for,
            backlog=self.backlog,
            bulk=BulkBoard(services, sandboxed=services.sandboxed, on_change=self._bulk_changed),
            health=self.slack_health,
        )
        self.workspace = Workspace(services.slack)
        self.router = ConversationRouter(
            storage,
            settings.sms_channel or "",
            clock=clock,
            on_enqueue=self._wake_outbox,
            auto_replies=AutoReplies(
                help_text=settings.help_reply,
                stop_text=settings.stop_reply,
                team=self._team_name,
                queue=self.relay.queue_sms,
            ),
        )
        self.gate = WriteGate()
        self.writer = InboxWriter(
            storage,
            gate=self.gate,
            wait=options.store_wait,
            stuck_after=options.stuck_after,
            on_stored=self._wake_processor,  # per committed batch, coalesced during a burst
        )
        self.processor = InboxProcessor(
            storage,
            self.router,
            decoder=services.gateway.callbacks,
            clock=clock,
            refresh_card=self.refresh_card,
            is_reply=self.is_reply,
            refresh_reply=self.relay.refresh,
            reply_failed=self.relay.status_failed,
            part_wait=_seconds(options.part_wait_seconds),
            gate=self.gate,
        )
        threshold = settings.low_balance if options.low_balance is None else options.low_balance
        self.balance = BalanceWatcher(
            storage,
            services.gateway,
            settings.sms_channel or "",
            threshold,
            sandbox=services.sandboxed,
            interval=options.balance_interval,
            on_enqueue=self._wake_outbox,
            clock=clock,
        )
        self.rejections = RejectionLog()  # one rate limit per process, Slack's and callbacks'
        self.endpoints = CallbackEndpoints(
            storage,
            decoder=services.gateway.callbacks,
            credentials=Credentials(
                settings.callback_user, settings.callback_password, settings.callback_token
            ),
            on_stored=self.writer.stored_directly,
            store=self.writer.store,
            remember=self.processor.decoded.put,
            forget=self.processor.decoded.take,
            rejections=self.rejections,
        )
        idle = options.timing.idle
        self.outbox_worker = LoopWorker("slack-outbox", self.outbox.step, max_pause=idle)
        self.processor_worker = LoopWorker("inbox-processor", self.processor.step)
        self.balance_worker = LoopWorker(
            "balance-watcher",
            self.balance.step,
            max_pause=options.balance_interval,
            error_pause=options.balance_interval,
        )
        self.workers = [
            self.relay,
            self.held,
            self.outbox_worker,
            self.processor_worker,
            self.balance_worker,
            self.writer,
        ]
        # send -> where its card is and whether it is a relayed reply: a cache of what storage
        # holds, shared by the processor and the card refresher, kept to the most recently used
        # sends so a long-running process does not grow with every send it ever made.
        self._cards: OrderedDict[int, _CardRef] = OrderedDict()
        self._card_lock = threading.Lock()
        # Told whenever Slack work is queued: what people see changed (the Home tab listens).
        self.on_change: Callable[[], None] = lambda: None

    # ---- seams

    def _known_card(self, send_id: int) -> _CardRef | None:
        with self._card_lock:
            known = self._cards.get(send_id)
            if known is not None:
                self._cards.move_to_end(send_id)
            return known

    def _remember_card(self, send_id: int, known: _CardRef) -> None:
        with self._card_lock:
            self._cards[send_id] = known
            if len(self._cards) > CARD_CACHE_SIZE:
                self._cards.popitem(last=False)

    def _card(self, send_id: int, *, posted: bool) -> _CardRef | None:
        """What is known of the send's card; None for an unknown send. Whether a send is a
        reply never changes, so the cache answers that at once; the card's channel only once
        the card was posted (`posted`: the caller needs that)."""
        known = self._known_card(send_id)
        if known is None or (posted and not known.posted and known.bulk_id is None):
            storage = self.services.storage
            stored = storage.sends.card_place(send_id)
            if stored is None:
                return None
            # A send without a card of its own may be a bulk row (never shown by a card).
            bulk_id = None if stored.posted or stored.is_reply else storage.bulks.by_send(send_id)
            known = _CardRef(stored.channel, stored.posted, stored.is_reply, bulk_id)
            self._remember_card(send_id, known)
        return known

    def is_reply(self, send_id: int) -> bool:
        """Whether the send is a thread reply relayed as SMS (its status shows as a reaction)."""
        known = self._card(send_id, posted=False)
        return known is not None and known.is_reply

    def refresh_card(self, send_id: int) -> None:
        """Services.refresh_card: queue ONE coalesced update showing the send's latest state
        (a relayed thread reply gets its reaction updated instead)."""
        known = self._card(send_id, posted=True)
        if known is None:
            return
        if known.is_reply:
            self.relay.refresh(send_id)
            return
        if known.bulk_id is not None:
            run = self.services.storage.bulks.get(known.bulk_id)
            if run is not None:
                progress_changed(self.services.storage, run)  # coalesced: one per run
                self._wake_outbox()
            return
        self.services.storage.outbox.enqueue(
            known.channel,
            OutboxKind.UPDATE,
            {"send_id": send_id},
            coalesce_key=CARD_KEY.format(send_id),
        )
        self._wake_outbox()

    def post(self, channel: str, message: Message) -> None:
        """Post `message` in `channel` (a user ID: their DM with the app) through the outbox."""
        self.services.storage.outbox.enqueue(channel, OutboxKind.POST, post_payload(message))
        self._wake_outbox()

    def routes(self, status_path: str, mo_path: str) -> dict[str, Callable[..., Iterable[bytes]]]:
        return self.endpoints.routes(status_path, mo_path)

    def _wake_outbox(self) -> None:
        self.outbox_worker.wake()
        self.on_change()

    def _team_name(self) -> str | None:
        known = self.workspace.known()
        return None if known is None else known.name

    def _bulk_changed(self) -> None:
        self.on_change()  # a bulk card moved: the Home tabs showing the run follow

    def _wake_processor(self) -> None:
        self.processor_worker.wake()

    # ---- lifecycle

    def start(self) -> Inbound:
        released = self.services.storage.outbox.release_leases()
        if released:
            log.info("outbox: %d item(s) claimed before a restart are due again", released)
        # New rows, from this replica or another on the database, wake the workers at once;
        # their polling stays the fallback.
        self.services.storage.watch("inbox", self.processor_worker.wake)
        self.services.storage.watch("outbox", self.outbox_worker.wake)
        self.writer.start()
        self.outbox_worker.start()
        self.processor_worker.start()
        self.balance_worker.start()
        return self

    def check_slack(self) -> None:
        """Once Slack accepted the token (serve, after Bolt's own check): the workspace's name
        (for the default HELP reply), and whether SMS_CHANNEL can be posted in (one log line
        saying what to do when it cannot). Neither stops start-up: failures are logged."""
        self.workspace.info()
        channel = self.services.settings.sms_channel or ""
        self.slack_health.check_channel(self.services.slack, channel)

    def stop(self) -> None:
        for worker in reversed(self.workers):
            worker.stop()


def _may_use(settings: Settings, user: str | None) -> bool:
    return access.may_use(settings.allowed_users, settings.admins, user)


def _aware(clock: Callable[[], datetime]) -> Callable[[], datetime]:
    """The services' clock (aware UTC datetimes); a naive one is taken as UTC."""

    def now() -> datetime:
        value = clock()
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    return now


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
