"""What one person's Home tab shows, gathered without Slack: the balance, the latest SMS threads
(unanswered first), their own scheduled sends, the bulk sends still running (their own; every
one for admins), and for admins the opt-out list.

The edge renders it (bot/blocks/home.py) and publishes it (bot/slack/home.py); keeping the
gathering here lets the rules be tested on storage and the gateway alone: who sees what is
`/sms`'s (someone not allowed to send sees only that; only admins see opted-out numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.config import Settings
from bot.domain import access
from bot.domain.delivery import FINAL_STATES
from bot.domain.records import OptOut, Recipient, Send, ThreadSummary
from bot.gateway.base import Balance, Gateway, GatewayError
from bot.storage import Storage
from bot.usecases import bulk
from bot.usecases.bulk import BulkProgress
from bot.usecases.holding import is_held

THREADS_SHOWN = 10
SCHEDULED_SHOWN = 10
BULK_SHOWN = 10
OPT_OUTS_SHOWN = 25


class HomePorts(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def gateway(self) -> Gateway: ...

    @property
    def sandboxed(self) -> bool: ...


@dataclass(frozen=True)
class ThreadLine:
    thread: ThreadSummary
    contact_name: str | None


@dataclass(frozen=True)
class HomeSnapshot:
    user: str
    allowed: bool  # may send SMS; when False nothing else is filled in
    balance: Balance | None = None
    balance_problem: str | None = None  # why the balance is not shown
    threads: tuple[ThreadLine, ...] = ()  # unanswered first, then newest first
    scheduled: tuple[Send, ...] = ()
    bulk_runs: tuple[BulkProgress, ...] = ()  # bulk sends not finished, newest first
    opt_outs: tuple[OptOut, ...] | None = None  # None: not an admin
    opt_outs_total: int = 0
    sandbox: bool = False


def home_snapshot(ports: HomePorts, user: str, now: datetime) -> HomeSnapshot:
    settings = ports.settings
    if not access.may_use(settings.allowed_users, settings.admins, user):
        return HomeSnapshot(user, allowed=False, sandbox=ports.sandboxed)
    balance, problem = _balance(ports.gateway)
    admin = access.is_admin(settings.admins, user)
    opted_out = _opted_out(ports.storage) if admin else None
    return HomeSnapshot(
        user=user,
        allowed=True,
        balance=balance,
        balance_problem=problem,
        threads=_threads(ports.storage),
        scheduled=_still_scheduled(ports.storage, user, now),
        bulk_runs=tuple(bulk.running(ports, user=None if admin else user)[:BULK_SHOWN]),  # type: ignore[arg-type]
        opt_outs=None if opted_out is None else tuple(opted_out[:OPT_OUTS_SHOWN]),
        opt_outs_total=0 if opted_out is None else len(opted_out),
        sandbox=ports.sandboxed,
    )


def _balance(gateway: Gateway) -> tuple[Balance | None, str | None]:
    """The account's balance, or plain words saying why it cannot be shown now."""
    try:
        return gateway.balance(), None
    except GatewayError as error:
        return None, error.explanation


def _threads(storage: Storage) -> tuple[ThreadLine, ...]:
    latest = storage.conversations.latest(THREADS_SHOWN)
    names = storage.contacts.names_for([t.msisdn for t in latest])
    ordered = sorted(latest, key=lambda t: (not t.inbound, -t.last_at.timestamp()))
    return tuple(ThreadLine(t, names.get(t.msisdn)) for t in ordered)


def _still_scheduled(storage: Storage, user: str, now: datetime) -> tuple[Send, ...]:
    """The person's scheduled sends the gateway, or sms-bot itself for a gateway that cannot
    hold messages (`holding`), still holds (a cancelled one is final)."""
    sends = storage.sends.scheduled_by(user, now, SCHEDULED_SHOWN)
    return tuple(s for s in sends if any(_pending(r) for r in s.recipients))


def _pending(recipient: Recipient) -> bool:
    if is_held(recipient):
        return True
    return bool(recipient.apimsgid) and recipient.state not in FINAL_STATES


def _opted_out(storage: Storage) -> list[OptOut]:
    return [o for o in storage.opt_outs.all() if o.opted_out]


def may_cancel(settings: Settings, user: str | None, send: Send) -> bool:
    """A scheduled send is cancelled by its sender or an admin (product.md §5), who may use /sms:
    the rule of the card's Cancel button and `/sms cancel` (`access.may_touch`)."""
    return access.may_use(settings.allowed_users, settings.admins, user) and access.may_touch(
        settings.admins, user, send.slack_user
    )
