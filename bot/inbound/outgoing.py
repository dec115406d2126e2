"""An SMS the inbound side sends on its own (plain data, shared by the relay and the router)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingSms:
    """An SMS the inbound side sends on its own: a relayed thread reply (to one number or to
    several, once a person chose) or an automatic reply to HELP or STOP."""

    slack_user: str  # who typed it; "" for an automatic reply
    channel: str
    text: str
    msisdns: tuple[str, ...]
    intent_key: str  # unique per SMS meant: a second attempt to queue it fails
    thread_ts: str | None  # the thread it belongs to (failure notes go there)
    marked_message: str | None = None  # the person's message whose reaction shows the state
    # An answer the phone asked for (HELP, the opt-out confirmation): sent even when it opted out.
    to_opted_out: bool = False
