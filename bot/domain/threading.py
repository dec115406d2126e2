"""Where an inbound SMS goes: the card-versus-conversation threading rule (product.md §6).

An SMS from a number goes into the thread of the newest card sent to it or conversation with it,
within `THREAD_WINDOW`. Storage finds the newest of each kind (a query per backend); which of
the two wins is decided here, once for every backend.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

THREAD_WINDOW = timedelta(days=7)

# The `thread_ts` of a send that has no Slack message of its own to update: a send from the
# command line, or an automatic reply to a thread still being posted. Not None, so it is never
# taken for a card waiting to be posted (nor settled as one); empty, so no note is posted for it.
NO_SLACK_MESSAGE = ""
# Who sent what the command line sent (`sends.slack_user`; Slack user IDs never start with "~").
COMMAND_LINE_USER = "~cli"

Moment = TypeVar("Moment", float, datetime)  # each backend compares its own stamps


def conversation_wins(conversation_active: Moment | None, card_created: Moment | None) -> bool:
    """Whether the conversation's thread is the one to use: it was active no earlier than the
    newest card was sent (a tie goes to the conversation, which already holds the replies)."""
    if conversation_active is None:
        return False
    return card_created is None or conversation_active >= card_created
