"""Templates and groups: lists, change confirmations, and the Templates modal of App Home."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.blocks.base import Block, Message, clip, escape, plain, quote, section
from bot.domain.records import Group, Template
from bot.sms.numbers import display_number

SHOWN = 45  # templates or groups listed in one message: a section each, under 50 blocks
MEMBERS_SHOWN = 20
VIEW_SHOWN = 95  # a modal holds at most 100 blocks


def templates_message(templates: Sequence[Template]) -> Message:
    if not templates:
        words = "No templates yet. Add one with /sms template add NAME TEXT."
        return Message(words, [section(escape(words))])
    return Message(f"{len(templates)} templates", _template_blocks(templates, SHOWN))


def _template_blocks(templates: Sequence[Template], shown: int) -> list[Block]:
    blocks = [section(f"*Templates* ({len(templates)})")]
    blocks += [section(f"*{escape(t.name)}*\n{quote(t.text, 600)}") for t in templates[:shown]]
    if len(templates) > shown:
        blocks.append(section(f"…and {len(templates) - shown} more"))
    return blocks


def templates_view(templates: Sequence[Template]) -> Block:
    """The modal App Home's Templates button opens: every template, and how to add one."""
    how = "Add one with `/sms template add NAME TEXT`; `{name}` and `{first_name}` are filled in."
    blocks = (
        _template_blocks(templates, VIEW_SHOWN) if templates else [section("No templates yet.")]
    )
    return {
        "type": "modal",
        "callback_id": "templates_list",
        "title": plain("Templates", 24),
        "close": plain("Close", 24),
        "blocks": [*blocks, section(how)],
    }


def template_saved_message(name: str, new: bool) -> Message:
    words = f"{'Saved' if new else 'Updated'} template {name}."
    return Message(escape(words), [section(f":memo: {escape(words)}")])


def template_removed_message(name: str) -> Message:
    words = f"Removed template {name}."
    return Message(escape(words), [section(escape(words))])


def template_replaced_message(name: str, owner: str | None, old: str) -> Message:
    """To the person who replaced a template someone else had saved."""
    whose = f"<@{owner}>'s" if owner else "an existing"
    words = f"Updated template {escape(name)}: it replaced {whose} text, which was:"
    told = " They have been told." if owner else ""
    return Message(words + told, [section(f":memo: {words}\n{quote(old, 600)}{told}")])


def template_changed_note(name: str, by: str, old: str, new: str) -> Message:
    """To the person whose template someone else replaced."""
    words = f"<@{by}> changed the template {escape(name)} you saved. It was:"
    body = f"{words}\n{quote(old, 600)}\nand is now:\n{quote(new, 600)}"
    return Message(words, [section(f":warning: {body}")])


def groups_message(groups: Sequence[Group], names: Mapping[str, str]) -> Message:
    """Every group with its members (contact names where known), for /sms groups."""
    if not groups:
        words = "No groups yet. Add one with /sms group add NAME MEMBER…"
        return Message(words, [section(escape(words))])
    blocks = [section(f"*Groups* ({len(groups)})")]
    for group in groups[:SHOWN]:
        blocks.append(section(f"*{escape(group.name)}* {_members(group.members, names)}"))
    if len(groups) > SHOWN:
        blocks.append(section(f"…and {len(groups) - SHOWN} more"))
    return Message(f"{len(groups)} groups", blocks)


def _members(members: Sequence[str], names: Mapping[str, str]) -> str:
    count = f"({len(members)} member{'' if len(members) == 1 else 's'})"
    shown = ", ".join(escape(_label(m, names)) for m in members[:MEMBERS_SHOWN])
    more = f", …and {len(members) - MEMBERS_SHOWN} more" if len(members) > MEMBERS_SHOWN else ""
    return clip(f"{count}: {shown}{more}", 2900)


def _label(msisdn: str, names: Mapping[str, str]) -> str:
    number = display_number(msisdn)
    return f"{names[msisdn]} ({number})" if msisdn in names else number


def group_saved_message(group: Group, added: int, new: bool, names: Mapping[str, str]) -> Message:
    if new:
        words = f"Saved group {group.name}"
    else:
        words = f"Added {added} member{'' if added == 1 else 's'} to group {group.name}"
    body = f":busts_in_silhouette: {escape(words)} {_members(group.members, names)}"
    return Message(escape(words), [section(body)])


def group_changed_message(name: str, owner: str | None) -> Message | None:
    """Appended when the group was someone else's: they are told too."""
    if not owner:
        return None
    words = f"Group {escape(name)} was <@{owner}>'s; they have been told of the change."
    return Message(words, [section(words)])


def group_changed_note(name: str, by: str, what: str) -> Message:
    """To the person whose group someone else changed; `what` says how, in plain words."""
    words = f"<@{by}> changed the group {escape(name)} you saved: {escape(what)}."
    return Message(words, [section(f":warning: {words}")])


def group_removed_message(name: str, removed: int | None, left: Group | None) -> Message:
    """The whole group (`removed` None) or some members of it."""
    members = f"{removed} member{'' if removed == 1 else 's'}"
    if removed is None:
        words = f"Removed group {name}."
    elif left is None:
        words = f"Removed {members}; group {name} was left empty, so it is gone."
    else:
        words = f"Removed {members} from group {name}; {len(left.members)} left."
    return Message(escape(words), [section(escape(words))])
