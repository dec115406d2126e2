"""Where an inbound SMS goes: the card-versus-conversation threading rule (product.md §6).

An SMS from a number goes into the thread of the newest card sent to it or conversation with it,
within `THREAD_WINDOW`; if the newest thing the number was sent is a bulk row (a send with no card
of its own), it answers that, so it opens a new conversation. Storage finds the newest of each
kind (a query per backend); which one wins is decided here, once for every backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import TypeVar

THREAD_WINDOW = timedelta(days=7)

# The `thread_ts` of a send that has no Slack message of its own to update: a send from the
# command line, or an automatic reply to a thread still being posted. Not None, so it is never
# taken for a card waiting to be posted (nor settled as one); empty, so no note is posted for it.
NO_SLACK_MESSAGE = ""
# Who sent what the command line sent (`sends.slack_user`; Slack user IDs never start with "~").
COMMAND_LINE_USER = "~cli"

Moment = TypeVar("Moment", float, datetime)  # each backend compares its own stamps


class ThreadChoice(Enum):
    """Where an inbound SMS goes."""

    CONVERSATION = "conversation"  # the newest conversation's thread
    CARD = "card"  # the newest card's thread
    NEW = "new"  # a new conversation in SMS_CHANNEL


def thread_to_use(
    conversation_active: Moment | None,
    card_created: Moment | None,
    bulk_sent: Moment | None = None,
) -> ThreadChoice:
    """The newest of the three wins. A tie goes to the conversation (it already holds the
    replies), then to the card; a bulk row newest of all means a new conversation, because
    the phone is answering it, not an older card (nor is the card's sender answered)."""
    ranked = [
        (at, tie_rank, choice)
        for at, tie_rank, choice in (
            (conversation_active, 2, ThreadChoice.CONVERSATION),
            (card_created, 1, ThreadChoice.CARD),
            (bulk_sent, 0, ThreadChoice.NEW),
        )
        if at is not None
    ]
    return max(ranked)[2] if ranked else ThreadChoice.NEW
