"""Storing what the gateway answered for each recipient of a send, in the words a card shows:
shared by sends made now (`sending`) and sends sms-bot held until due (`holding`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.domain.delivery import ALREADY_SENT, OUTCOME_UNKNOWN
from bot.domain.keywords import GATEWAY_OPT_OUT
from bot.domain.records import Recipient
from bot.gateway.base import (
    Gateway,
    GatewayError,
    OptedOut,
    OutcomeUnknown,
    PartsExceeded,
    Planned,
    RecipientResult,
)
from bot.sms.encoding import EncodedText
from bot.sms.refusals import Refused
from bot.storage import Storage
from bot.usecases.opt_out_cancels import record_opt_out

UNKNOWN_WORDS = (
    "Outcome unknown: the gateway did not confirm this message, and it was not sent again. "
    "A delivery report settles it; check with /sms status before sending it again yourself."
)


def store_result(
    storage: Storage,
    recipient: Recipient,
    result: RecipientResult | None,
    failure: GatewayError | Refused | None,
    encoded: EncodedText,
) -> None:
    """Store what the gateway answered for one recipient recorded before the call (`result`),
    or the failure that stopped the whole send; a gateway opt-out is recorded as such."""
    error = failure if result is None else result.error
    if result is not None and result.already_sent is not None:
        # No apimsgid here: delivery reports keep updating the earlier send's card.
        storage.sends.record_result(
            recipient.id,
            apimsgid=None,
            error_code=ALREADY_SENT,
            error_description=_already_sent_words(result),
        )
    elif error is None and result is not None and result.status is not None:
        # Accepted without a per-recipient ID: the gateway says how far it is.
        storage.sends.update_status(recipient.id, result.status)
    else:
        code, words = error_fields(error, encoded)
        storage.sends.record_result(
            recipient.id,
            apimsgid=result.message_id if result is not None else None,
            error_code=code,
            error_description=words,
        )
        if isinstance(error, OptedOut):
            # As if the phone had texted STOP: later sends are refused before any call.
            record_opt_out(storage, recipient.msisdn, GATEWAY_OPT_OUT)


def _already_sent_words(result: RecipientResult) -> str:
    found = result.already_sent
    assert found is not None
    ident = f" as message {result.message_id}" if result.message_id else ""
    return (
        f"Client ID {result.client_id} was already sent earlier{ident} ({found.status.words}); "
        "not sent again."
    )


def error_fields(error: Exception | None, encoded: EncodedText) -> tuple[str | None, str | None]:
    """The code and plain words a refused recipient is stored with (what the card shows)."""
    if error is None:
        return None, None
    if isinstance(error, OutcomeUnknown):
        return OUTCOME_UNKNOWN, UNKNOWN_WORDS
    if isinstance(error, GatewayError):
        return error.code, explain(error, encoded)
    return None, str(error)


def explain(error: GatewayError, encoded: EncodedText) -> str:
    """The explanation, with the length of the text when it needs too many parts."""
    words = error.explanation
    if isinstance(error, PartsExceeded):
        unit = "GSM characters" if encoded.encoding == "gsm7" else "UCS-2 characters"
        words += f" The text is {encoded.length} {unit}, {encoded.parts} parts."
    return words


def by_text(planned: Sequence[Planned], text_for: Callable[[str], str]) -> dict[str, list[Planned]]:
    """The planned messages grouped by the text each number gets, in first-seen order: a
    personalised send is one gateway call per distinct text (one call when they all match)."""
    groups: dict[str, list[Planned]] = {}
    for message in planned:
        groups.setdefault(text_for(message.to), []).append(message)
    return groups


@dataclass(frozen=True)
class TextBatch:
    """The numbers that get one text, planned together: their own client IDs, never shared
    with another text's (the gateway settles an unknown outcome by client ID)."""

    text: str
    planned: tuple[Planned, ...]
    by_number: Mapping[str, Planned]  # as the numbers were given (the gateway may write them so)


def plan_by_text(
    gateway: Gateway, numbers: Sequence[str], text_for: Callable[[str], str], client_id: str | None
) -> list[TextBatch]:
    """One plan per distinct text, in first-seen order (one for a send whose texts match)."""
    groups: dict[str, list[str]] = {}
    for number in numbers:
        groups.setdefault(text_for(number), []).append(number)
    batches = []
    for text, batch in groups.items():
        planned = tuple(gateway.plan(batch, client_id=client_id))
        batches.append(TextBatch(text, planned, dict(zip(batch, planned, strict=True))))
    return batches
