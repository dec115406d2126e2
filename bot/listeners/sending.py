"""The send pipeline shared by `/sms send` and the compose modal.

`prepare()` does every check that needs no gateway call (authorization, contact names, number
normalization, opt-outs, text length) and raises `Refusal` in plain words; it is fast enough to
run inside a modal's submission acknowledgement. `execute()` then, on the work executor:

1. claims the intent (Slack's trigger_id / view id), so a repeated delivery sends once;
2. records the send and its recipients, each with the client ID the gateway planned for it;
3. posts the card ("Sending…") so later delivery reports always have a card to update;
4. sends through the gateway, stores each recipient's result, refreshes the card;
5. tells the sender ephemerally about anything that went wrong, with what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.blocks.base import Message
from bot.blocks.card import ALREADY_SENT, OUTCOME_UNKNOWN, card_message
from bot.blocks.errors import error_message, refused_message
from bot.domain.records import NewRecipient
from bot.gateway.base import GatewayError, OutcomeUnknown, PartsExceeded, Planned, RecipientResult
from bot.gateway.stored import stored_error  # transitional: see that module
from bot.listeners.common import Replier, may_use, not_allowed_text
from bot.sms.encoding import EncodedText, TextTooLong, encode_text
from bot.sms.numbers import InvalidNumber, display_number, normalize_msisdn
from bot.sms.refusals import Refused

log = logging.getLogger(__name__)

MAX_SEND_RECIPIENTS = 1000  # one Slack command; more is a job for a batch, not a chat command


class Refusal(Exception):
    """Stopped before any gateway call. `field` names the modal input it concerns."""

    def __init__(self, reason: str, field: str = "recipients"):
        self.reason, self.field = reason, field
        super().__init__(reason)


@dataclass(frozen=True)
class SendIntent:
    """One person's request to send, before any check."""

    user: str
    channel: str
    to: tuple[str, ...]  # as typed: numbers or contact names
    text: str
    intent_key: str  # Slack's ID for this request (trigger_id, view id): sends once
    sender: str | None = None
    at: datetime | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class Target:
    msisdn: str
    contact_name: str | None


@dataclass(frozen=True)
class PreparedSend:
    intent: SendIntent
    targets: tuple[Target, ...]
    encoded: EncodedText


# --------------------------------------------------------------------------- checks


def prepare(services: Any, intent: SendIntent) -> PreparedSend:
    """Every check that needs no gateway call; raises Refusal in plain words."""
    settings = services.settings
    if not may_use(settings, intent.user):
        raise Refusal(not_allowed_text(intent.user))
    targets = resolve(services, intent.to)
    opted_out = [t for t in targets if services.storage.opt_outs.is_opted_out(t.msisdn)]
    if opted_out:
        names = ", ".join(_label(t) for t in opted_out)
        raise Refusal(
            f"{names} opted out of SMS from us (they texted STOP), so nothing was sent. "
            "Remove them from the recipients; they can opt in again by texting START."
        )
    try:
        encoded = encode_text(intent.text, settings.max_parts)
    except TextTooLong as error:
        raise Refusal(str(error), field="text") from None
    except Refused as error:
        raise Refusal(str(error), field="text") from None
    return PreparedSend(intent, targets, encoded)


def resolve(services: Any, typed: Sequence[str]) -> tuple[Target, ...]:
    """Contact names to numbers, numbers normalized; duplicates dropped (one SMS per phone)."""
    if not typed:
        raise Refusal("There is no recipient: give a number or a contact name.")
    if len(typed) > MAX_SEND_RECIPIENTS:
        raise Refusal(
            f"That is {len(typed)} recipients; one command may send to at most "
            f"{MAX_SEND_RECIPIENTS}. Split the list."
        )
    targets: dict[str, Target] = {}
    for raw in typed:
        target = _target(services, raw)
        targets.setdefault(target.msisdn, target)
    return tuple(targets.values())


def _target(services: Any, raw: str) -> Target:
    contact = services.storage.contacts.get(raw) if _could_be_name(raw) else None
    if contact is not None:
        return Target(contact.msisdn, contact.name)
    try:
        msisdn = normalize_msisdn(raw, services.settings.default_region)
    except InvalidNumber as error:
        hint = "" if any(c.isdigit() for c in raw) else " There is no contact by that name either."
        raise Refusal(f"{error}.{hint} Nothing was sent.") from None
    return Target(msisdn, services.storage.contacts.name_for(msisdn))


def _could_be_name(raw: str) -> bool:
    return bool(raw) and raw[0] not in "+0123456789("


def _label(target: Target) -> str:
    number = display_number(target.msisdn)
    return f"{target.contact_name} ({number})" if target.contact_name else number


# --------------------------------------------------------------------------- the send


def execute(services: Any, prepared: PreparedSend, reply: Replier) -> None:
    """Record, post the card, send, record the results, update the card, report problems."""
    intent = prepared.intent
    if not services.storage.claims.claim(f"send:{intent.intent_key}"):
        log.info("duplicate send request %s ignored", intent.intent_key)
        return
    planned = services.gateway.plan(
        [t.msisdn for t in prepared.targets], client_id=intent.client_id
    )
    send = _record(services, prepared, planned)
    card_problem = services.cards.post(send.id)
    results, failure = _call_gateway(services, prepared, planned)
    _store_results(services, send, results, failure)
    if card_problem is None:
        services.refresh_card(send.id)
    _report(services, send.id, card_problem, failure, prepared, reply)


def _record(services: Any, prepared: PreparedSend, planned: Sequence[Planned]) -> Any:
    """Record before the call, with the client IDs the gateway planned, so a delivery report
    that outruns the gateway's answer still finds its row and a crash is settled by them."""
    intent = prepared.intent
    recipients = [
        NewRecipient(msisdn=t.msisdn, climsgid=p.client_id, contact_name=t.contact_name)
        for t, p in zip(prepared.targets, planned, strict=True)
    ]
    return services.storage.sends.record(
        slack_user=intent.user,
        channel=intent.channel,
        text=intent.text,
        encoding=prepared.encoded.encoding,
        parts=prepared.encoded.parts,
        recipients=recipients,
        sender=intent.sender,
        scheduled_at=intent.at,
        sandbox=services.sandboxed,
        intent_key=intent.intent_key,
    )


def _call_gateway(
    services: Any, prepared: PreparedSend, planned: Sequence[Planned]
) -> tuple[tuple[RecipientResult, ...], GatewayError | Refused | None]:
    """The gateway's per-recipient results, or the error that stopped the whole send."""
    intent = prepared.intent
    try:
        result = services.gateway.send(
            planned,
            intent.text,
            sender=intent.sender,
            at=intent.at,
            skip_if_sent=intent.client_id is not None,  # `--id X` twice sends once
        )
    except (GatewayError, Refused) as error:
        return (), error
    except Exception as error:  # a bug or an unwrapped network error: the outcome is unknown
        log.exception("gateway send failed unexpectedly")
        return (), OutcomeUnknown(f"The send failed unexpectedly ({type(error).__name__}).")
    return result.messages, None


def _store_results(
    services: Any,
    send: Any,
    results: Sequence[RecipientResult],
    failure: GatewayError | Refused | None,
) -> None:
    storage = services.storage
    by_number = {r.to: r for r in results}
    # One transaction: a card rendered meanwhile never shows half of the results.
    with storage.transaction():
        _store_each(storage, send, by_number, failure)


def _store_each(
    storage: Any,
    send: Any,
    by_number: dict[str, RecipientResult],
    failure: GatewayError | Refused | None,
) -> None:
    for recipient in send.recipients:
        result = by_number.get(recipient.msisdn)
        error = failure if result is None else result.error
        if result is not None and result.already_sent is not None:
            # No apimsgid here: delivery reports keep updating the earlier send's card.
            storage.sends.record_result(
                recipient.id,
                apimsgid=None,
                error_code=ALREADY_SENT,
                error_description=_already_sent_words(result),
            )
            continue
        if error is None and result is not None and result.status is not None:
            # Accepted without a per-recipient ID: the gateway says how far it is.
            storage.sends.update_status(recipient.id, result.status)
            continue
        code, description = _error_fields(error)
        storage.sends.record_result(
            recipient.id,
            apimsgid=result.message_id if result is not None else None,
            error_code=code,
            error_description=description,
        )


def _already_sent_words(result: RecipientResult) -> str:
    found = result.already_sent
    assert found is not None
    ident = f" as message {result.message_id}" if result.message_id else ""
    return (
        f"Client ID {result.client_id} was already sent earlier{ident} ({found.status.words}); "
        "not sent again."
    )


def _error_fields(error: Exception | None) -> tuple[str | None, str | None]:
    if error is None:
        return None, None
    if isinstance(error, OutcomeUnknown):
        return OUTCOME_UNKNOWN, (
            "Outcome unknown: the gateway did not confirm this message. Check it with "
            "/sms status before sending again."
        )
    if isinstance(error, GatewayError):
        return error.code, error.description or error.explanation
    return None, str(error)


# --------------------------------------------------------------------------- reporting


def _report(
    services: Any,
    send_id: int,
    card_problem: str | None,
    failure: GatewayError | Refused | None,
    prepared: PreparedSend,
    reply: Replier,
) -> None:
    send = services.storage.sends.get(send_id)
    if card_problem is not None:
        # No card in the channel: show the person the card itself, with why it is not there.
        card = card_message(send)
        note = (
            f"I could not post the card in this channel ({card_problem}); "
            "invite me with /invite to get cards here. "
        )
        note += "The SMS went out as shown below." if failure is None else "See below."
        reply(Message(f"{note}\n{card.text}", [_note_block(note), *card.blocks]))
    problems = _problems(send, failure, prepared)
    if problems is not None:
        reply(problems)


def _note_block(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {text}"}]}


def _problems(send: Any, failure: Exception | None, prepared: PreparedSend) -> Message | None:
    """One ephemeral message about what failed, or None when everything was accepted."""
    if isinstance(failure, OutcomeUnknown):
        return error_message(
            f"{failure.explanation} The card shows which messages are unconfirmed; check them "
            "with /sms status ID (or /sms log) before sending again."
        )
    if isinstance(failure, GatewayError):
        return error_message(f"Nothing was sent: {_explain(failure, prepared)}", code=failure.code)
    if failure is not None:
        return refused_message(f"Nothing was sent: {failure}")
    failed = [r for r in send.recipients if r.error_code or r.error_description]
    if not failed:
        return None
    codes = sorted({r.error_code for r in failed if r.error_code and r.error_code.isdigit()})
    # Each code is named once: one code for all goes at the end as "(gateway code N)"; several
    # go beside their numbers, so the reader can tell which applies to which.
    per_line = len(codes) > 1
    lines = [
        f"{display_number(r.msisdn)}: {_recipient_explanation(r, prepared, per_line)}"
        for r in failed[:10]
    ]
    if len(failed) > 10:
        lines.append(f"…and {len(failed) - 10} more (see the card).")
    head = f"Not sent to {len(failed)} of {len(send.recipients)} recipients:"
    code = None if per_line else (codes[0] if codes else None)
    return error_message(head + "\n" + "\n".join(lines), code=code)


def _recipient_explanation(recipient: Any, prepared: PreparedSend, with_code: bool) -> str:
    if recipient.error_code in (OUTCOME_UNKNOWN, ALREADY_SENT):
        return recipient.error_description
    error = stored_error(recipient.error_code, recipient.error_description or "")
    suffix = f" (code {recipient.error_code})" if with_code and recipient.error_code else ""
    return _explain(error, prepared) + suffix


def _explain(error: GatewayError, prepared: PreparedSend) -> str:
    """The explanation, with the length of the text when it needs too many parts."""
    words = error.explanation
    if isinstance(error, PartsExceeded):
        encoded = prepared.encoded
        unit = "GSM characters" if encoded.encoding == "gsm7" else "UCS-2 characters"
        words += f" The text is {encoded.length} {unit}, {encoded.parts} parts."
    return words
