"""The outbox's job kinds: every piece of deferred work has exactly one kind and one handler.

Work is written to the outbox in the same transaction as the state change that caused it and done
afterwards by the outbox worker, which registers one handler per kind (an unknown kind is a bug,
given up at once). `StrEnum` values are what storage keeps, so rows written before this enum
existed ("post", "update", ...) still map onto it.
"""

from __future__ import annotations

from enum import StrEnum


class OutboxKind(StrEnum):
    POST = "post"  # chat.postMessage: a conversation message, a note, an alert, a delayed card
    UPDATE = "update"  # chat.update of a card, rendered from the latest stored state
    REACTION = "reaction"  # the reaction that shows a relayed thread reply's delivery state
    EPHEMERAL = "ephemeral"  # chat.postEphemeral to one person
    SMS = "sms"  # a relayed thread reply's gateway send (not a Slack call)
    HELD = "held"  # a scheduled send sms-bot held, handed to the gateway when due (not Slack)
    CANCEL_OPTED_OUT = "cancel_opted_out"  # a number opted out: cancel its scheduled messages
    OFFER_RESEND = "offer_resend"  # an unknown outcome still unsettled: offer "Send again"
    BULK_PROGRESS = "bulk_progress"  # a bulk run's tallies changed: post/update its card
    BULK_RESULT = "bulk_result"  # a bulk run ended: upload its result CSV in the card's thread


CARD_KEY = "card:{}"  # coalescing key: one pending update per card
BULK_KEY = "bulk:{}"  # coalescing key: one pending progress update per bulk run
GATEWAY_CHANNEL = "~gateway"  # pseudo channel of work that is not a Slack call
