"""The storage port's repositories for what people save to reuse: templates and groups.

Beside `bot.storage.base` (which holds the `Storage` protocol that exposes them) to keep each
module short. The same promises hold: durable writes, names unique ignoring case (also beyond
ASCII, as contacts), the casing typed last kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain.records import Group, Template


class TemplateRepository(Protocol):
    """Saved SMS texts with `{field}` holes, by name."""

    def save(self, name: str, text: str, owner: str | None = None) -> bool:
        """Add or replace (the casing typed last is kept; `owner`, who set it, too); True if the
        template is new. An empty name or text is refused with ValueError."""
        ...

    def remove(self, name: str) -> bool:
        """Remove by name (any case); False when there was no such template."""
        ...

    def get(self, name: str) -> Template | None:
        """Look a template up by name, ignoring case."""
        ...

    def all(self) -> list[Template]:
        """All templates sorted by name, ignoring case."""
        ...


class GroupRepository(Protocol):
    """Named lists of numbers, by name; a number is in a group at most once."""

    def add(self, name: str, members: Sequence[str], owner: str | None = None) -> bool:
        """Create the group or add `members` (normalised numbers) to it, after those it has, in
        order; numbers already in it are kept where they are. `owner` (who changed it last) and
        the name's casing are updated. True if the group is new. An empty name, or a new group
        without members, is refused with ValueError."""
        ...

    def remove_members(self, name: str, members: Sequence[str]) -> int:
        """Take these numbers out of the group; how many were in it. A group left without
        members is removed (a group is never empty)."""
        ...

    def renumber(self, old: str, new: str) -> list[str]:
        """A number changed (a contact saved with another one): every group holding `old`
        holds `new` in its place, once (where `new` is a member already, `old` just leaves).
        The names of the groups changed, sorted ignoring case."""
        ...

    def remove(self, name: str) -> bool:
        """Remove the whole group (any case); False when there was no such group."""
        ...

    def get(self, name: str) -> Group | None:
        """Look a group up by name, ignoring case, with its members in order."""
        ...

    def all(self) -> list[Group]:
        """All groups sorted by name, ignoring case, each with its members."""
        ...


# Shared by every backend's adapter, so the rule for names is written once.


def name_key(name: str) -> str:
    """Names are unique ignoring case, also beyond ASCII ('ZOË' == 'zoë')."""
    return name.strip().casefold()


def clean_name(name: str, what: str) -> str:
    """The name as stored (surrounding spaces dropped); ValueError when nothing is left."""
    cleaned = name.strip()
    if not cleaned:
        raise ValueError(f"a {what} name cannot be empty")
    return cleaned


def unique_members(members: Sequence[str]) -> list[str]:
    """Each number once, in first-given order."""
    return list(dict.fromkeys(members))
