"""`/sms template …`, `/sms templates`, `/sms group …` and `/sms groups`: saved texts and lists
of numbers everyone in the workspace shares. Changing one someone else saved is allowed, never
silent: both are told (as with contacts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot import grammar
from bot.blocks.errors import refused_message
from bot.blocks.saved import (
    group_changed_message,
    group_changed_note,
    group_removed_message,
    group_saved_message,
    groups_message,
    template_changed_note,
    template_removed_message,
    template_replaced_message,
    template_saved_message,
    templates_message,
)
from bot.container import Services
from bot.domain.templates import fixed_text
from bot.listeners.common import Replier
from bot.sms.encoding import measure
from bot.usecases.sending import Refusal, resolve


class Caller(Protocol):
    """Who typed the command and how to answer them (the runner's `Invocation`)."""

    @property
    def user(self) -> str: ...

    @property
    def reply(self) -> Replier: ...


def _template_add(services: Services, command: grammar.TemplateAdd, call: Caller) -> None:
    too_long = _too_long(command.text, services.settings.max_parts)
    if too_long:
        call.reply(refused_message(f"Template {command.name} was not saved: {too_long}"))
        return
    before = services.storage.templates.get(command.name)
    new = services.storage.templates.save(command.name, command.text, owner=call.user)
    if before is None or before.text == command.text or before.owner == call.user:
        call.reply(template_saved_message(command.name, new))
        return
    call.reply(template_replaced_message(command.name, before.owner, before.text))
    if before.owner:
        note = template_changed_note(command.name, call.user, before.text, command.text)
        services.inbound.post(before.owner, note)


def _too_long(text: str, max_parts: int) -> str | None:
    """Why no message from this template could be sent (its words alone need more parts than
    SMS_MAX_PARTS allows), found when it is saved rather than at every send."""
    _, _, parts = measure(fixed_text(text))
    if parts <= max_parts:
        return None
    return (
        f"even with its fields empty, it needs {parts} SMS parts and at most {max_parts} "
        "are allowed (SMS_MAX_PARTS). Shorten it."
    )


def _template_remove(services: Services, command: grammar.TemplateRemove, call: Caller) -> None:
    if not services.storage.templates.remove(command.name):
        words = f"There is no template named {command.name}. See /sms templates."
        call.reply(refused_message(words))
        return
    call.reply(template_removed_message(command.name))


def _templates(services: Services, command: grammar.Templates, call: Caller) -> None:
    call.reply(templates_message(services.storage.templates.all()))


def _group_add(services: Services, command: grammar.GroupAdd, call: Caller) -> None:
    """Members are typed as anywhere else (numbers, contact names, even another group's name,
    which adds its members); a name that is neither refuses the whole command."""
    contact = services.storage.contacts.get(command.name)
    if contact is not None:
        raise Refusal(
            f"There is a contact named {contact.name}; a group needs a name of its own, or "
            "sends to that name would be ambiguous."
        )
    numbers = _members(services, command.members)
    before = services.storage.groups.get(command.name)
    new = services.storage.groups.add(command.name, numbers, owner=call.user)
    group = services.storage.groups.get(command.name)
    assert group is not None  # just saved with at least one member
    added = len(group.members) - (len(before.members) if before else 0)
    names = services.storage.contacts.names_for(group.members)
    call.reply(group_saved_message(group, added, new, names))
    if before is not None and added:
        _tell_owner(services, call, before.owner, command.name, f"{added} member(s) added")


def _group_remove(services: Services, command: grammar.GroupRemove, call: Caller) -> None:
    before = services.storage.groups.get(command.name)
    if before is None:
        call.reply(refused_message(f"There is no group named {command.name}. See /sms groups."))
        return
    if not command.members:
        services.storage.groups.remove(command.name)
        call.reply(group_removed_message(before.name, None, None))
        _tell_owner(services, call, before.owner, before.name, "it was removed")
        return
    numbers = _members(services, command.members)
    removed = services.storage.groups.remove_members(command.name, numbers)
    if not removed:
        call.reply(refused_message(f"None of those is in group {before.name}. See /sms groups."))
        return
    call.reply(
        group_removed_message(before.name, removed, services.storage.groups.get(before.name))
    )
    _tell_owner(services, call, before.owner, before.name, f"{removed} member(s) removed")


def _members(services: Services, typed: tuple[str, ...]) -> list[str]:
    """The members' numbers, resolved as a send's recipients are; a refusal is worded for a
    group command, which sends nothing."""
    try:
        return [target.msisdn for target in resolve(services, typed)]
    except Refusal as refusal:
        reason = refusal.reason.replace(" Nothing was sent.", "")
        raise Refusal(f"{reason} The group was not changed.", refusal.field) from None


def _tell_owner(services: Services, call: Caller, owner: str | None, name: str, what: str) -> None:
    """Someone else's group changed: they hear of it, and the changer hears that they did."""
    if not owner or owner == call.user:
        return
    services.inbound.post(owner, group_changed_note(name, call.user, what))
    told = group_changed_message(name, owner)
    if told is not None:
        call.reply(told)


def _groups(services: Services, command: grammar.Groups, call: Caller) -> None:
    groups = services.storage.groups.all()
    members = [m for group in groups for m in group.members]
    call.reply(groups_message(groups, services.storage.contacts.names_for(members)))


# Merged into the command runner's HANDLERS.
SAVED_HANDLERS: dict[type, Callable[[Services, Any, Any], None]] = {
    grammar.TemplateAdd: _template_add,
    grammar.TemplateRemove: _template_remove,
    grammar.Templates: _templates,
    grammar.GroupAdd: _group_add,
    grammar.GroupRemove: _group_remove,
    grammar.Groups: _groups,
}
