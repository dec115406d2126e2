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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from bot.config import Settings
from bot.domain import access
from bot.domain.delivery import OPTED_OUT
from bot.domain.quiet_hours import QuietHours
from bot.domain.records import NewRecipient, Recipient, Send
from bot.domain.templates import CONTACT_FIELDS, check_fields, contact_values, render
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
from bot.storage import Storage
from bot.usecases.holding import hold
from bot.usecases.ports import AppPorts
from bot.usecases.recording import TextBatch, explain, plan_by_text, store_result
from bot.usecases.unsettled import offer_later_if_needed
from bot.when import MAX_SCHEDULE

log = logging.getLogger(__name__)

SKIPPED_WORDS = "Opted out (texted STOP): not sent. They can opt in again by texting START."
ONE_ID_ONE_TEXT = (
    "--id names one message, but the template gives the recipients different texts; leave out "
    "--id (each text gets IDs of its own)."
)
PAST_THE_LIMIT = (
    "Quiet hours (SMS_QUIET_HOURS) where the recipients are would move this send over 7 days "
    "ahead, past the gateway's limit: pick an earlier time."
)
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
    template: str | None = None  # a saved template's name: `text` is then unused
    own_texts: Mapping[str, str] = field(default_factory=dict)  # number -> its text (sent again)


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
    encoded: EncodedText  # of the longest text (the most parts)
    opted_out: tuple[Target, ...] = ()
    text: str = ""  # what the card shows: the text, or the template when texts differ
    own_texts: Mapping[str, str] = field(default_factory=dict)  # number -> its personal text
    asked_at: datetime | None = None  # the time asked for, when quiet hours moved it

    def text_for(self, msisdn: str) -> str:
        return self.own_texts.get(msisdn, self.text)


class Directory(Protocol):
    """What resolving recipients needs: the saved names and the default region."""

    @property
    def settings(self) -> Settings: ...

    @property
    def storage(self) -> Storage: ...


# --------------------------------------------------------------------------- checks


def prepare(services: Directory, intent: SendIntent) -> PreparedSend:
    """Every check that needs no gateway call; raises Refusal in plain words."""
    settings = services.settings
    if not access.may_use(settings.allowed_users, settings.admins, intent.user):
        raise Refusal(access.not_allowed_text(intent.user))
    return checked(services, intent)


def checked(services: Directory, intent: SendIntent) -> PreparedSend:
    """`prepare` without the Slack allow-list (the command line runs as its operator):
    recipients resolved, opted-out ones set aside, texts filled in and within the part limit."""
    settings = services.settings
    targets = resolve(services, intent.to)
    opted_out = tuple(t for t in targets if services.storage.opt_outs.is_opted_out(t.msisdn))
    if len(opted_out) == len(targets):
        names = ", ".join(_label(t) for t in opted_out)
        raise Refusal(
            f"{names} opted out of SMS from us (they texted STOP), so nothing was sent. "
            "They can opt in again by texting START."
        )
    sending = tuple(t for t in targets if t not in opted_out)
    text, own = texts_for(services.storage, intent, sending)
    if own and intent.client_id is not None:
        raise Refusal(ONE_ID_ONE_TEXT, field="template")
    where = "text" if intent.template is None else "template"
    labels = {t.msisdn: _label(t) for t in sending}
    texts = [(labels[number], own_text) for number, own_text in own.items()] or [(None, text)]
    encoded = _worst_encoding(texts, settings.max_parts, where)
    at = after_quiet_hours(settings.quiet_hours, intent.at, sending)
    asked = None
    if at != intent.at:
        if at is not None and at - _now() > MAX_SCHEDULE:
            raise Refusal(PAST_THE_LIMIT, field="when")
        intent, asked = replace(intent, at=at), intent.at
    return PreparedSend(intent, sending, encoded, opted_out, text, own, asked)


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


def texts_for(
    storage: Storage, intent: SendIntent, targets: Sequence[Target]
) -> tuple[str, dict[str, str]]:
    """The send's text and each number's own text when they differ: a template is filled in
    per contact (`{name}`, `{first_name}`); a field nothing fills raises `UnknownFields` before
    anything is sent. Texts that all come out the same are one plain text."""
    if intent.template is None:
        given = intent.own_texts
        return intent.text, {t.msisdn: given[t.msisdn] for t in targets if t.msisdn in given}
    template = storage.templates.get(intent.template)
    if template is None:
        raise Refusal(
            f"There is no template named {intent.template}. See /sms templates.", field="template"
        )
    check_fields(template.text, CONTACT_FIELDS)
    rendered = {t.msisdn: render(template.text, contact_values(t.contact_name)) for t in targets}
    if len(set(rendered.values())) <= 1:
        return next(iter(rendered.values()), template.text), {}
    return template.text, rendered


def _worst_encoding(
    texts: Sequence[tuple[str | None, str]], max_parts: int, where: str
) -> EncodedText:
    """Every text within the part limit (each recipient's own, named, for a template), or
    Refusal; the one with the most parts describes the send."""
    encoded = []
    for whose, text in texts:
        try:
            encoded.append(encode_text(text, max_parts))
        except (TextTooLong, Refused) as error:
            prefix = f"The text for {whose}: " if whose else ""
            raise Refusal(f"{prefix}{error}", field=where) from None
    return max(encoded, key=lambda e: (e.parts, e.length))


def resolve(services: Directory, typed: Sequence[str]) -> tuple[Target, ...]:
    """Contact and group names to numbers, numbers normalized; duplicates dropped (one SMS per
    phone). A group stands for its members, each by their contact name where they have one."""
    if not typed:
        raise Refusal("There is no recipient: give a number or a contact name.")
    if len(typed) > MAX_SEND_RECIPIENTS:
        raise Refusal(
            f"That is {len(typed)} recipients; one command may send to at most "
            f"{MAX_SEND_RECIPIENTS}. Split the list."
        )
    targets: dict[str, Target] = {}
    for raw in typed:
        for target in _targets(services, raw):
            targets.setdefault(target.msisdn, target)
    if len(targets) > MAX_SEND_RECIPIENTS:
        raise Refusal(
            f"That is {len(targets)} recipients with the groups' members; one command may send "
            f"to at most {MAX_SEND_RECIPIENTS}. Use /sms bulk for longer lists."
        )
    return tuple(targets.values())


def _targets(services: Directory, raw: str) -> tuple[Target, ...]:
    """What one typed recipient stands for: a contact, a group's members, or a number."""
    if not could_be_name(raw):
        return (_target(services, raw),)
    contact = services.storage.contacts.get(raw)
    if contact is not None:
        return (Target(contact.msisdn, contact.name),)
    group = services.storage.groups.get(raw)
    if group is None:
        return (_target(services, raw),)
    names = services.storage.contacts.names_for(group.members)
    return tuple(Target(msisdn, names.get(msisdn)) for msisdn in group.members)


def _target(services: Directory, raw: str) -> Target:
    try:
        msisdn = normalize_msisdn(raw, services.settings.default_region)
    except InvalidNumber as error:
        hint = "" if any(c.isdigit() for c in raw) else _unknown_name_hint(services, raw)
        raise Refusal(f"{error}.{hint} Nothing was sent.") from None
    return Target(msisdn, services.storage.contacts.name_for(msisdn))


def _unknown_name_hint(services: Directory, raw: str) -> str:
    """No such name. When a saved name begins with it and goes on (`Night` for "Night shift"),
    the rest of that name was probably read as the text: say how to quote it."""
    start = raw.casefold() + " "
    saved = [c.name for c in services.storage.contacts.all()]
    saved += [g.name for g in services.storage.groups.all()]
    longer = sorted(name for name in saved if name.casefold().startswith(start))
    if longer:
        return f' Did you mean "{longer[0]}"? A name with spaces goes in quotes.'
    return " There is no contact or group by that name either."


def could_be_name(raw: str) -> bool:
    """Whether a typed recipient may be a contact or group name (a number starts otherwise)."""
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
    numbers = [t.msisdn for t in prepared.targets]
    batches = plan_by_text(services.gateway, numbers, prepared.text_for, intent.client_id)
    planned_for = {n: p for batch in batches for n, p in batch.by_number.items()}
    planned = [planned_for[n] for n in numbers]
    send = _record(services, prepared, planned)
    card_problem = services.cards.post(send.id)
    if _held_here(services, intent):
        hold(services.storage, send, intent.at)  # type: ignore[arg-type]  # checked: not None
        services.refresh_card(send.id)
        return outcome_of(services.storage.sends.get(send.id) or send, card_problem, None, prepared)
    results, failures = _call_gateway(services, prepared, batches)
    _store_results(services, send, results, failures, prepared)
    offer_later_if_needed(services.storage, services.gateway, send.id, _now())
    if card_problem is None:
        services.refresh_card(send.id)
    stored = services.storage.sends.get(send.id) or send
    # One error that stopped everything is told as such; a part refused shows per recipient.
    failure = next(iter(failures.values())) if failures and not results else None
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
        NewRecipient(
            msisdn=t.msisdn,
            climsgid=p.client_id,
            contact_name=t.contact_name,
            text=prepared.own_texts.get(t.msisdn),
        )
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
        text=prepared.text,
        encoding=prepared.encoded.encoding,
        parts=prepared.encoded.parts,
        recipients=recipients,
        sender=intent.sender,
        scheduled_at=intent.at,
        sandbox=services.sandboxed,
        intent_key=intent.intent_key,
        asked_at=prepared.asked_at,
    )


Failures = dict[str, GatewayError | Refused]  # number -> the error that stopped its call


def _call_gateway(
    services: AppPorts, prepared: PreparedSend, batches: Sequence[TextBatch]
) -> tuple[tuple[RecipientResult, ...], Failures]:
    """The gateway's per-recipient results, and for the numbers of a call that failed as a
    whole, its error. One call per distinct text (personalised texts differ)."""
    intent = prepared.intent
    results: list[RecipientResult] = []
    failures: Failures = {}
    for text, batch in ((b.text, b.planned) for b in batches):
        try:
            result = services.gateway.send(
                batch,
                text,
                sender=intent.sender,
                at=intent.at,
                skip_if_sent=intent.client_id is not None,  # `--id X` twice sends once
            )
        except (GatewayError, Refused) as error:
            failures.update((message.to, error) for message in batch)
            continue
        except Exception as error:  # a bug or an unwrapped network error: the outcome is unknown
            log.exception("gateway send failed unexpectedly")
            unknown = OutcomeUnknown(f"The send failed unexpectedly ({type(error).__name__}).")
            failures.update((message.to, unknown) for message in batch)
            continue
        results.extend(result.messages)
    return tuple(results), failures


def _store_results(
    services: AppPorts,
    send: Send,
    results: Sequence[RecipientResult],
    failures: Failures,
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
            failure = failures.get(recipient.msisdn)
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
