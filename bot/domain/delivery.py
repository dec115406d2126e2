"""Delivery state: one vocabulary for every gateway, and the forward-only rule (product.md §4).

A gateway reports a message's status in its own code space (legacy `"004"`, Platform `"5"` or
`"DEVICE_ACK"`). Its adapter turns each code into a `DeliveryStatus`: the code itself (kept for
display and for the CLI's JSON `status`), the shared `state`, plain words for a card, and a `step`
that orders codes sharing one state within that gateway's own progress.

Callbacks arrive unordered and twice, so a status applies only when it moves a message forward
(`moves_forward`): unknown < queued = scheduled < sent < every final state, and the first final
state seen stays. This is the only place that rule is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryState(StrEnum):
    UNKNOWN = "unknown"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENT = "sent"  # handed to the network
    DELIVERED = "delivered"  # received by the phone
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


FINAL_STATES: frozenset[DeliveryState] = frozenset(
    {DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.CANCELLED, DeliveryState.EXPIRED}
)

_FINAL_RANK = 3
_RANK: dict[DeliveryState, int] = {
    DeliveryState.UNKNOWN: 0,
    DeliveryState.QUEUED: 1,
    DeliveryState.SCHEDULED: 1,
    DeliveryState.SENT: 2,
    **{state: _FINAL_RANK for state in FINAL_STATES},
}
_STEPS = 100  # a gateway orders at most this many codes within one state


@dataclass(frozen=True)
class DeliveryStatus:
    """One gateway status, normalised. `step` (0..99) orders a gateway's codes within one
    non-final state (legacy 011 before 008 before 002, all queued or scheduled); finals ignore
    it, because the first final status seen is the truth."""

    code: str
    state: DeliveryState
    words: str
    step: int = 0

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def progress(self) -> int:
        """How far along the message is; storage keeps it beside the code to compare with."""
        rank = _RANK[self.state]
        if rank == _FINAL_RANK or rank == 0:
            return rank * _STEPS
        return rank * _STEPS + max(0, min(self.step, _STEPS - 1))


def moves_forward(current_progress: int | None, new: DeliveryStatus) -> bool:
    """Whether `new` replaces a message's stored status (None: no status yet).

    An unknown status never replaces anything and is only taken when there is nothing yet.
    """
    if current_progress is None:
        return True
    return new.progress > current_progress


# Codes sms-bot itself gives a recipient the gateway gave no code for (the card and the log show
# them apart from the gateway's refusals).
OUTCOME_UNKNOWN = "unknown"  # the gateway may or may not have the message: check before resending
ALREADY_SENT = "repeated"  # the client ID was sent before: not sent again
OPTED_OUT = "opted-out"  # the number texted STOP: skipped, never sent to
# An unknown outcome no report settled within the window, where the gateway cannot be asked: the
# card offers a person "Send again" (once); and what such a message becomes when they do.
UNSETTLED = "unsettled"
RESENT = "resent"
SETTLED_BY_A_REPORT = frozenset({OUTCOME_UNKNOWN, UNSETTLED})  # any report clears these

# Statuses sms-bot gives a scheduled message it holds itself because the gateway cannot (the
# Portal): held until due, handed over (the gateway's reports take it from there), or cancelled
# before it ever went out. They move forward like any gateway's.
HELD = DeliveryStatus("held", DeliveryState.SCHEDULED, "Held by sms-bot until it is due")
HANDED_OVER = DeliveryStatus("handed-over", DeliveryState.QUEUED, "Handed to the gateway", 50)
WITHDRAWN = DeliveryStatus("withdrawn", DeliveryState.CANCELLED, "Cancelled before it went out")
