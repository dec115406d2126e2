"""Settling sends a crash cut off: the card said "Sending…" and nobody heard anything more.

A send is recorded, with each recipient's client ID, before the gateway is called. If the process
dies between the call and storing its answer (SIGKILL, power, a SIGTERM whose grace ran out),
those recipients have no outcome at all. At start-up `SendSettler` asks the gateway about each
such client ID (`find_sent`, querymsg by climsgid): found means it was sent, and the recipient
gets the gateway's status; not known means the gateway never took it, so it is safe to say "not
sent". The card is updated, and the sender is told (`tell`: the Slack side's words).

A gateway that cannot be asked by client ID (the Clickatell Portal) cannot say either: the
recipients are stored as an unknown outcome, never resent blindly, which the status report
carrying their client ID settles; if none comes, the card offers "Send again" after the window
of `bot.usecases.unsettled`, as for any unknown outcome on that gateway.

Who may settle what: on SQLite only this `serve` process can be sending on its database (one
serve per file), so at start-up nothing else is in flight. On PostgreSQL several replicas send at
once, so the storage hands out only sends recorded by an instance that is gone (its presence lock
released: a crashed replica, or an earlier run of this one), never a live replica's send between
its gateway call and the answer; a replica that dies is settled by the next one to start. Two
replicas starting together may both settle one send (the records are idempotent: the same query,
the same answer), and a claim lets only one of them tell the sender. The gateway may still be
finishing a request the dead process made, though, so a send younger than `quiet` (the gateway
timeout) is asked about only once that much time has passed; a gateway that cannot be asked is
asked again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import groupby

from bot.domain.delivery import OUTCOME_UNKNOWN
from bot.domain.records import Recipient, Send
from bot.gateway.base import GatewayError, MessageStatus
from bot.usecases.ports import AppPorts
from bot.usecases.unsettled import offer_later_if_needed

log = logging.getLogger(__name__)

NOT_TAKEN = (
    "sms-bot stopped before the gateway answered, and the gateway never received this message. "
    "Send it again if it is still needed."
)
CANNOT_ASK = (
    "Outcome unknown: sms-bot stopped before the gateway answered, and this gateway cannot be "
    "asked. A delivery report settles it; without one the card offers to send it again."
)
# Tells the sender how a send of theirs was settled: (send, recipients settled, of them sent,
# of them with an outcome nobody can know yet).
Tell = Callable[[Send, int, int, int], None]
RETRY_EVERY = 30.0  # seconds between passes while some sends could not be settled yet
DONE = 3600.0  # the pause once everything from before the start is settled


class SendSettler:
    """A worker step: settle the sends left without an outcome by earlier runs."""

    def __init__(
        self,
        services: AppPorts,
        *,
        started_at: datetime,
        quiet: timedelta,
        clock: Callable[[], datetime],
        tell: Tell,
    ) -> None:
        self.services = services
        self.tell = tell
        self.started_at = started_at
        self.quiet = quiet
        self.clock = clock
        self.done = False

    def step(self) -> float:
        if self.done:
            return DONE
        left = self.settle_once()
        if left:
            return min(RETRY_EVERY, max(self.quiet.total_seconds(), 0.05))
        self.done = True
        return DONE

    def settle_once(self) -> int:
        """One pass; returns how many sends are still unsettled (too young, or not answered)."""
        sends = self.services.storage.sends.unsettled(self.started_at)
        ripe_before = self.clock() - self.quiet
        left = 0
        for send in sends:
            if send.created_at > ripe_before or not self._settle(send):
                left += 1
        return left

    def _settle(self, send: Send) -> bool:
        """True when every recipient without an outcome got one."""
        open_ones = [r for r in send.recipients if _no_outcome(r)]
        if not self.services.gateway.capabilities.query_by_client_id:
            self._leave_unknown(send, open_ones)
            return True
        by_client_id = groupby(sorted(open_ones, key=lambda r: r.climsgid), lambda r: r.climsgid)
        settled, sent = True, 0
        for client_id, group in by_client_id:
            recipients = list(group)
            try:
                found = self.services.gateway.find_sent(client_id)
            except GatewayError as error:
                log.warning("cannot settle send %s yet (%s): %s", send.id, client_id, error)
                settled = False
                continue
            self._record(recipients, found)
            sent += len(recipients) if found is not None else 0
        self.services.refresh_card(send.id)
        if settled:
            log.info("send %s settled: %d of %d sent", send.id, sent, len(open_ones))
            self._tell_once(send, len(open_ones), sent, 0)
        return settled

    def _leave_unknown(self, send: Send, recipients: Sequence[Recipient]) -> None:
        storage = self.services.storage
        with storage.transaction():
            for recipient in recipients:
                storage.sends.record_result(
                    recipient.id,
                    apimsgid=None,
                    error_code=OUTCOME_UNKNOWN,
                    error_description=CANNOT_ASK,
                )
        offer_later_if_needed(storage, self.services.gateway, send.id, self.clock())
        self.services.refresh_card(send.id)
        log.info("send %s: %d interrupted, outcome unknown", send.id, len(recipients))
        self._tell_once(send, len(recipients), 0, len(recipients))

    def _tell_once(self, send: Send, settled: int, sent: int, unknown: int) -> None:
        """Tell the sender, once however many replicas settled the send together."""
        if self.services.storage.claims.claim(f"settled:{send.id}"):
            self.tell(send, settled, sent, unknown)

    def _record(self, recipients: Sequence[Recipient], found: MessageStatus | None) -> None:
        sends = self.services.storage.sends
        with self.services.storage.transaction():
            for recipient in recipients:
                if found is None:
                    sends.record_result(recipient.id, apimsgid=None, error_description=NOT_TAKEN)
                else:
                    # One ID for a chunk of several names none of them: reports match by number.
                    apimsgid = found.message_id if len(recipients) == 1 else None
                    sends.update_status(recipient.id, found.status, apimsgid=apimsgid)


def _no_outcome(recipient: Recipient) -> bool:
    return not (
        recipient.apimsgid
        or recipient.status
        or recipient.error_code
        or recipient.error_description
    )
