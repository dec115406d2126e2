"""Sending an SMS: the use case behind `/sms send`, the compose modal and every later surface.

`prepare()` does every check that needs no gateway call (authorization, contact names, number
normalization, opt-outs, text length) and raises `Refusal` in plain words; it is fast enough to
run inside a modal's submission acknowledgement. `execute()` then, on the work executor:

1. claims the intent (Slack's trigger_id / view id), so a repeated delivery sends once;
2. records the send and its recipients, each with the client ID the gateway planned for it;
3. posts the card ("Sending…") so later delivery reports always have a card to update;
4. sends through the gateway, stores each recipient's result, refreshes the card;
5. returns a `SendOutcome` saying what went wrong, in plain words, for the edge to tell.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bot.domain import access
from bot.domain.delivery import OPTED_OUT
from bot.domain.quiet_hours import QuietHours
from bot.domain.records import NewRecipient, Recipient, Send
from bot.gateway.base import (
    GatewayError,
    OutcomeUnknown,
    Planned,
    RecipientResult,
)
from bot.sms.encoding import EncodedText, TextTooLong, encode_text
from bot.sms.numbers import InvalidNumber, display_number, normalize_msisdn
from bot.sms.refusals import Refused
from bot.sms.timezones import zones_for
from bot.usecases.holding import hold
from bot.usecases.ports import AppPorts
from bot.usecases.recording import explain, store_result
from bot.usecases.unsettled import offer_later_if_needed

log = logging.getLogger(__name__)

SKIPPED_WORDS = "Opted out (texted STOP): not sent. They can opt in again by texting START."
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
    """A checked send: `targets` get the SMS; `opted_out` are skipped (they texted STOP), shown
    on the card and told to the sender, never sent to."""

    intent: SendIntent
    targets: tuple[Target, ...]
    encoded: EncodedText
    opted_out: tuple[Target, ...] = ()


# --------------------------------------------------------------------------- checks


def prepare(services: AppPorts, intent: SendIntent) -> PreparedSend:
    """Every check that needs no gateway call; raises Refusal in plain words."""
    settings = services.settings
    if not access.may_use(settings.allowed_users, settings.admins, intent.user):
        raise Refusal(access.not_allowed_text(intent.user))
    targets = resolve(services, intent.to)
    opted_out = tuple(t for t in targets if services.storage.opt_outs.is_opted_out(t.msisdn))
    if len(opted_out) == len(targets):
        names = ", ".join(_label(t) for t in opted_out)
        raise Refusal(
            f"{names} opted out of SMS from us (they texted STOP), so nothing was sent. "
            "They can opt in again by texting START."
        )
    try:
        encoded = encode_text(intent.text, settings.max_parts)
    except TextTooLong as error:
        raise Refusal(str(error), field="text") from None
    except Refused as error:
        raise Refusal(str(error), field="text") from None
    sending = tuple(t for t in targets if t not in opted_out)
    at = after_quiet_hours(settings.quiet_hours, intent.at, sending)
    if at != intent.at:
        intent = replace(intent, at=at)
    return PreparedSend(intent, sending, encoded, opted_out)


def after_quiet_hours(
    quiet: QuietHours | None, at: datetime | None, targets: Sequence[Target]
) -> datetime | None:
    """A scheduled send's time moved past SMS_QUIET_HOURS where its recipients are: it goes
    when the window has ended for every one of them (one send keeps one time, so recipients in
    several time zones all wait for the last window to end). Sends without a time are not held."""
    if quiet is None or at is None:
        return at
    ends = [quiet.held_until(at, zones_for(t.msisdn)) for t in targets]
    return max([at, *(end for end in ends if end is not None)])


def resolve(services: AppPorts, typed: Sequence[str]) -> tuple[Target, ...]:
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


def _target(services: AppPorts, raw: str) -> Target:
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


@dataclass(frozen=True)
class RecipientProblem:
    """One recipient the gateway did not take, in plain words."""

    msisdn: str
    code: str | None  # the gateway's code, when it gave one
    words: str


@dataclass(frozen=True)
class SendOutcome:
    """What became of a send: its stored state, why its card could not be shown (None: it is),
    the error that stopped the whole send (None: it went out), and the recipients refused."""

    send: Send
    card_problem: str | None
    failure: GatewayError | Refused | None
    failure_words: str | None
    refused: tuple[RecipientProblem, ...]


def execute(services: AppPorts, prepared: PreparedSend) -> SendOutcome | None:
    """Record, post the card, send, record the results, update the card; None when this intent
    was already sent (a repeated delivery of the same request)."""
    intent = prepared.intent
    if not services.storage.claims.claim(f"send:{intent.intent_key}"):
        log.info("duplicate send request %s ignored", intent.intent_key)
        return None
    planned = services.gateway.plan(
        [t.msisdn for t in prepared.targets], client_id=intent.client_id
    )
    send = _record(services, prepared, planned)
    card_problem = services.cards.post(send.id)
    if _held_here(services, intent):
        hold(services.storage, send, intent.at)  # type: ignore[arg-type]  # checked: not None
        services.refresh_card(send.id)
        return outcome_of(services.storage.sends.get(send.id) or send, card_problem, None, prepared)
    results, failure = _call_gateway(services, prepared, planned)
    _store_results(services, send, results, failure, prepared)
    offer_later_if_needed(services.storage, services.gateway, send.id, _now())
    if card_problem is None:
        services.refresh_card(send.id)
    stored = services.storage.sends.get(send.id) or send
    return outcome_of(stored, card_problem, failure, prepared)


def _now() -> datetime:
    return datetime.now(UTC)


def _held_here(services: AppPorts, intent: SendIntent) -> bool:
    """A scheduled send the gateway cannot hold: sms-bot holds it and hands it over when due."""
    return intent.at is not None and not services.gateway.capabilities.schedule


def _record(services: AppPorts, prepared: PreparedSend, planned: Sequence[Planned]) -> Send:
    """Record before the call, with the client IDs the gateway planned, so a delivery report
    that outruns the gateway's answer still finds its row and a crash is settled by them."""
    intent = prepared.intent
    recipients = [
        NewRecipient(msisdn=t.msisdn, climsgid=p.client_id, contact_name=t.contact_name)
        for t, p in zip(prepared.targets, planned, strict=True)
    ] + [
        NewRecipient(
            msisdn=t.msisdn,
            climsgid="",  # never sent: no message for the gateway to know it by
            contact_name=t.contact_name,
            error_code=OPTED_OUT,
            error_description=SKIPPED_WORDS,
        )
        for t in prepared.opted_out
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
    services: AppPorts, prepared: PreparedSend, planned: Sequence[Planned]
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
    services: AppPorts,
    send: Send,
    results: Sequence[RecipientResult],
    failure: GatewayError | Refused | None,
    prepared: PreparedSend,
) -> None:
    storage = services.storage
    by_number = {r.to: r for r in results}
    # One transaction: a card rendered meanwhile never shows half of the results.
    with storage.transaction():
        current = storage.sends.get(send.id) or send  # reports may have come in meanwhile
        for recipient in current.recipients:
            if recipient.error_code == OPTED_OUT:
                continue  # skipped before the call: nothing came back for it
            result = by_number.get(recipient.msisdn)
            if _settled_by_a_report(recipient, result, failure):
                continue
            store_result(storage, recipient, result, failure, prepared.encoded)


def _settled_by_a_report(
    recipient: Recipient, result: RecipientResult | None, failure: GatewayError | Refused | None
) -> bool:
    """The gateway left the outcome unknown, but a delivery report carrying the recipient's
    client ID outran its answer: the message was taken, and the report said so already."""
    error = failure if result is None else result.error
    return isinstance(error, OutcomeUnknown) and recipient.status is not None


def outcome_of(
    send: Send,
    card_problem: str | None,
    failure: GatewayError | Refused | None,
    prepared: PreparedSend,
) -> SendOutcome:
    """The outcome of a stored send, with every problem in plain words."""
    words = None if failure is None else _failure_words(failure, prepared)
    return SendOutcome(send, card_problem, failure, words, _refused(send))


def _failure_words(failure: GatewayError | Refused, prepared: PreparedSend) -> str:
    """What stopped the whole send, in plain words with what to do."""
    if isinstance(failure, OutcomeUnknown):
        return (
            f"{failure.explanation} The card shows which messages are unconfirmed; check them "
            "with /sms status ID (or /sms log) before sending again."
        )
    if isinstance(failure, GatewayError):
        return f"Nothing was sent: {explain(failure, prepared.encoded)}"
    return f"Nothing was sent: {failure}"


def _refused(send: Send) -> tuple[RecipientProblem, ...]:
    return tuple(
        RecipientProblem(r.msisdn, r.error_code, r.error_description or "Not sent.")
        for r in send.recipients
        if r.error_code or r.error_description
    )
