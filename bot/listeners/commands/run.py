"""Running one `/sms …` command on the work executor (after the acknowledgement)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot import grammar
from bot.blocks.base import Message
from bot.blocks.contacts import (
    contact_changed_note,
    contact_removed_message,
    contact_replaced_message,
    contact_saved_message,
    contacts_message,
)
from bot.blocks.errors import error_message, refused_message, usage_message
from bot.blocks.help import help_message, offered_commands
from bot.blocks.results import (
    balance_message,
    cancel_message,
    charge_message,
    coverage_message,
    ping_message,
    redeem_message,
    reported_status_message,
    shared_id_message,
    status_message,
)
from bot.blocks.saved import group_changed_note
from bot.container import Services
from bot.domain import access
from bot.domain.access import admin_only_text, not_allowed_text
from bot.domain.delivery import WITHDRAWN
from bot.domain.records import Recipient
from bot.listeners.commands.log_command import show_log
from bot.listeners.commands.opt_outs import opt_in_command, opt_out_command, opt_outs_command
from bot.listeners.commands.saved import SAVED_HANDLERS
from bot.listeners.common import Replier, is_admin, may_use, send_and_report
from bot.listeners.errors import expected, problem_message
from bot.sms.numbers import display_number, normalize_msisdn
from bot.storage import StorageError
from bot.usecases.cancelling import cancel_held
from bot.usecases.holding import withdraw
from bot.usecases.redeeming import redeem_voucher
from bot.usecases.sending import SendIntent, prepare
from bot.usecases.shared_ids import cancel_each, report_each, shared_by
from bot.usecases.tracking import apply_status, gateway_id, latest_report, stored_status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invocation:
    """Who typed the command, where, and how to answer them."""

    user: str
    channel: str
    trigger_id: str | None
    reply: Replier


# Commands that read nothing from the database and write nothing to it: they still work when it
# cannot be written (only their request ID cannot be claimed, and repeating them is harmless).
# `help` does not even claim its ID, so it answers at once while another process holds the lock.
NEEDS_NO_STORAGE = (grammar.Balance, grammar.Coverage, grammar.Ping)

NOT_RECORDED = (
    "Could not record this command: the database cannot be written right now, so nothing was "
    "sent or changed. Try again in a moment."
)


def run_command(services: Services, command: dict[str, Any], text: str, reply: Replier) -> None:
    trigger = command.get("trigger_id") or None
    call = Invocation(
        str(command.get("user_id") or ""), str(command.get("channel_id") or ""), trigger, reply
    )
    try:
        parsed: object = _parse(services, text, call.user)
    except grammar.UsageError as error:
        parsed = error
    if isinstance(parsed, grammar.Help):  # needs nothing: not even the database to claim it
        _help(services, parsed, call)
        return
    recorded = _claim(services, trigger)
    if recorded is False:
        log.info("repeated slash command %s ignored", trigger)
        return
    refusal = _refusal(services, call, parsed, recorded)
    if refusal is not None:
        reply(refusal)
        return
    handler = HANDLERS.get(type(parsed))
    if handler is None:  # Compose arrives only as a bare /sms, handled by the listener
        reply(usage_message(f"{text!r} is not available in Slack.", "/sms help"))
        return
    try:
        handler(services, parsed, call)
    except Exception as error:
        if not expected(error):
            log.exception("command failed: %s", type(parsed).__name__)
        reply(problem_message(error))


def _parse(services: Services, text: str, user: str) -> grammar.Command:
    """The command, read in the person's time zone (asked of Slack only when a time is given)
    and with SMS_DEFAULT_REGION (a second number where the text should start is refused)."""
    zone = services.time_zone(user) if "--at" in text.lower() else None
    region = services.settings.default_region
    return grammar.parse_text(text, now=services.clock(), zone=zone, region=region)


def _refusal(
    services: Services, call: Invocation, parsed: object, recorded: bool | None
) -> Message | None:
    """Why the command cannot run: bad usage, a user not allowed, or a database that could not
    record it (only commands that need no storage run then). None: run it."""
    if isinstance(parsed, grammar.UsageError):
        return usage_message(parsed.problem, parsed.usage, parsed.suggestions)
    if not may_use(services.settings, call.user):
        return refused_message(not_allowed_text(call.user))
    if recorded is None and not isinstance(parsed, NEEDS_NO_STORAGE):
        return error_message(NOT_RECORDED)
    return None


# The commands that call the gateway; every other one (help, contacts, the log, usage errors)
# runs on the services' quick lane, so a hung gateway filling the main pool never delays it.
GATEWAY_COMMANDS = (
    grammar.Send,
    grammar.Status,
    grammar.Cancel,
    grammar.Charge,
    grammar.Balance,
    grammar.Coverage,
    grammar.Redeem,
    grammar.Ping,
)


def needs_gateway(services: Services, text: str) -> bool:
    """Whether running `/sms <text>` calls the gateway (parsing is cheap and has no effects)."""
    try:
        return isinstance(grammar.parse_text(text, now=services.clock()), GATEWAY_COMMANDS)
    except grammar.UsageError:
        return False


def _claim(services: Services, trigger: str | None) -> bool | None:
    """Claim the request's ID so that Slack's retries run it once: True the first time, False
    for a repeat, None when the database could not be asked (every command is still answered)."""
    if not trigger:
        return True
    try:
        return services.storage.claims.claim(f"slash:{trigger}")
    except StorageError as error:
        log.warning("could not record slash command %s: %s", trigger, error)
        return None


# --------------------------------------------------------------------------- send


def _send(services: Services, command: grammar.Send, call: Invocation) -> None:
    intent = SendIntent(
        user=call.user,
        channel=call.channel,
        to=command.to,
        text=command.text,
        intent_key=f"slash:{call.trigger_id}" if call.trigger_id else _fresh_key(),
        sender=command.sender,
        at=command.at,
        client_id=command.client_id,
        template=command.template,
    )
    send_and_report(services, prepare(services, intent), call.reply)


def _fresh_key() -> str:
    return f"anon:{uuid.uuid4().hex}"


# --------------------------------------------------------------------------- gateway queries


def _status(services: Services, command: grammar.Status, call: Invocation) -> None:
    shared = shared_by(services.storage, command.id)
    if shared:
        reports = report_each(services.gateway, shared, partial(apply_status, services))
        call.reply(shared_id_message(command.id, reports, False, services.sandboxed))
        return
    if not services.gateway.capabilities.query:
        reported = latest_report(services.storage, command.id)
        status = reported.status if reported is not None else None
        ident = reported.message_id if reported is not None else command.id
        call.reply(reported_status_message(ident, status, services.sandboxed))
        return
    asked = command.id
    if not services.gateway.capabilities.query_by_client_id:
        asked = gateway_id(services.storage, command.id)  # people quote either ID
    found = services.gateway.query(asked)
    apply_status(services, found.message_id, found.status)
    call.reply(status_message(found.message_id, found.status, services.sandboxed))


def _cancel(services: Services, command: grammar.Cancel, call: Invocation) -> None:
    # A message sms-bot has a record of is cancelled by its sender or an admin; an ID it has no
    # record of is the gateway's to answer (it says when it knows no such message).
    send = services.storage.sends.by_message_id(command.id)
    if send is not None and not access.may_touch(
        services.settings.admins, call.user, send.slack_user
    ):
        call.reply(refused_message(access.not_your_send_text(send.slack_user)))
        return
    shared = shared_by(services.storage, command.id)
    if shared:
        _cancel_shared(services, command.id, shared, call)
        return
    if not services.gateway.capabilities.cancel:
        # Only what sms-bot still holds can be stopped; anything else says it is not offered.
        withdrawn = cancel_held(services.storage, command.id)
        if withdrawn is None:
            services.gateway.cancel(command.id)  # raises Unsupported, without a call
            return
        services.refresh_card(withdrawn.send_id)
        status = stored_status(withdrawn) or WITHDRAWN
        call.reply(cancel_message(command.id, status, services.sandboxed))
        return
    found = services.gateway.cancel(command.id)
    apply_status(services, found.message_id, found.status)
    call.reply(cancel_message(found.message_id, found.status, services.sandboxed))


def _cancel_shared(
    services: Services, client_id: str, shared: list[Recipient], call: Invocation
) -> None:
    """Every message sent under one client ID; each send's sender (or an admin) only."""
    sends = {r.send_id: services.storage.sends.get(r.send_id) for r in shared}
    for send in sends.values():
        if send is not None and not access.may_touch(
            services.settings.admins, call.user, send.slack_user
        ):
            call.reply(refused_message(access.not_your_send_text(send.slack_user)))
            return

    def withdraw_held(held: Sequence[Recipient]) -> None:
        for send_id, send in sends.items():
            mine = [r for r in held if r.send_id == send_id]
            if send is not None and mine:
                withdraw(services.storage, send, mine)

    store = partial(apply_status, services)
    reports = cancel_each(services.gateway, shared, withdraw_held, store)
    for send_id in sends:
        services.refresh_card(send_id)
    call.reply(shared_id_message(client_id, reports, True, services.sandboxed))


def _charge(services: Services, command: grammar.Charge, call: Invocation) -> None:
    found = services.gateway.charge(command.id)
    apply_status(services, found.message_id, found.status, charge=found.charge)
    call.reply(charge_message(found.message_id, found.charge, found.status, services.sandboxed))


def _balance(services: Services, command: grammar.Balance, call: Invocation) -> None:
    call.reply(balance_message(services.gateway.balance(), services.sandboxed))


def _coverage(services: Services, command: grammar.Coverage, call: Invocation) -> None:
    msisdn = normalize_msisdn(command.number, services.settings.default_region)
    found = services.gateway.coverage(msisdn)
    call.reply(coverage_message(found.msisdn, found.routable, found.charge, services.sandboxed))


def _redeem(services: Services, command: grammar.Redeem, call: Invocation) -> None:
    if not is_admin(services.settings, call.user):
        call.reply(refused_message(admin_only_text(call.user)))
        return
    call.reply(
        redeem_message(redeem_voucher(services.gateway, command.voucher), services.sandboxed)
    )


def _ping(services: Services, command: grammar.Ping, call: Invocation) -> None:
    services.gateway.ping()
    call.reply(ping_message(services.sandboxed))


# --------------------------------------------------------------------------- local state


def _contact_add(services: Services, command: grammar.ContactAdd, call: Invocation) -> None:
    """Saving over a contact someone else set is allowed (contacts are shared), but never
    silent: both are told, and cards show the number under the name."""
    group = services.storage.groups.get(command.name)
    if group is not None:  # one name, one meaning: a send to it must not be ambiguous
        call.reply(refused_message(f"There is a group named {group.name}; pick another name."))
        return
    msisdn = normalize_msisdn(command.number, services.settings.default_region)
    before = services.storage.contacts.get(command.name)
    new = services.storage.contacts.save(command.name, msisdn, owner=call.user)
    groups = _groups_follow(services, call.user, before.msisdn if before else None, msisdn)
    if before is None or before.msisdn == msisdn or before.owner == call.user:
        replaced = before.msisdn if before is not None else None
        call.reply(contact_saved_message(command.name, msisdn, new, replaced, groups))
        return
    call.reply(contact_replaced_message(command.name, before.owner, before.msisdn, msisdn, groups))
    if before.owner:
        note = contact_changed_note(command.name, call.user, before.msisdn, msisdn)
        services.inbound.post(before.owner, note)


def _groups_follow(services: Services, user: str, old: str | None, new: str) -> list[str]:
    """A contact's new number replaces the old one in every group holding it (a group holds
    numbers), unless another contact still has the old number; the groups changed. Changing
    someone else's group is never silent: its owner is told."""
    if old is None or old == new or services.storage.contacts.name_for(old) is not None:
        return []
    changed = services.storage.groups.renumber(old, new)
    what = f"{display_number(old)} is now {display_number(new)} (a contact's new number)"
    for name in changed:
        group = services.storage.groups.get(name)
        if group is not None and group.owner and group.owner != user:
            services.inbound.post(group.owner, group_changed_note(name, user, what))
    return changed


def _contact_remove(services: Services, command: grammar.ContactRemove, call: Invocation) -> None:
    if not services.storage.contacts.remove(command.name):
        call.reply(refused_message(f"There is no contact named {command.name}. See /sms contacts."))
        return
    call.reply(contact_removed_message(command.name))


def _contacts(services: Services, command: grammar.Contacts, call: Invocation) -> None:
    call.reply(contacts_message(services.storage.contacts.all()))


def _log(services: Services, command: grammar.Log, call: Invocation) -> None:
    show_log(services, call.user, call.channel, command.number, command.page, call.reply)


def _help(services: Services, command: grammar.Help, call: Invocation) -> None:
    offered = offered_commands(services.gateway.capabilities)
    call.reply(help_message(services.sandboxed, offered))


# Each handler takes the command type it is registered for.
HANDLERS: dict[type, Callable[[Services, Any, Invocation], None]] = {
    grammar.Send: _send,
    grammar.Status: _status,
    grammar.Cancel: _cancel,
    grammar.Charge: _charge,
    grammar.Balance: _balance,
    grammar.Coverage: _coverage,
    grammar.Redeem: _redeem,
    grammar.Ping: _ping,
    grammar.ContactAdd: _contact_add,
    grammar.ContactRemove: _contact_remove,
    grammar.Contacts: _contacts,
    grammar.Log: _log,
    grammar.OptOut: opt_out_command,
    grammar.OptIn: opt_in_command,
    grammar.OptOuts: opt_outs_command,
    grammar.Help: _help,
    **SAVED_HANDLERS,
}
