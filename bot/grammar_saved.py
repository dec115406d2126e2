"""The words of the saved-things commands: `template add|remove`, `templates`, `group
add|remove`, `groups` (product.md §5), and the one rule for names.

Part of the one grammar (`bot.grammar` imports this and wraps `Misuse` into its `UsageError`
with the usage line of the right program), kept beside it so neither module grows too long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.templates import TemplateError, fields_of


@dataclass(frozen=True)
class TemplateAdd:
    name: str
    text: str


@dataclass(frozen=True)
class TemplateRemove:
    name: str


@dataclass(frozen=True)
class Templates:
    pass


@dataclass(frozen=True)
class GroupAdd:
    name: str
    members: tuple[str, ...]  # as typed: numbers or contact names


@dataclass(frozen=True)
class GroupRemove:
    name: str
    members: tuple[str, ...] = ()  # none: the whole group


@dataclass(frozen=True)
class Groups:
    pass


SavedCommand = TemplateAdd | TemplateRemove | Templates | GroupAdd | GroupRemove | Groups

# (command word, arguments, what it does), in the help text's order.
SAVED_USAGE: tuple[tuple[str, str, str], ...] = (
    ("template add", "NAME TEXT", "save a text; {name} and {first_name} are filled per contact"),
    ("template remove", "NAME", "forget a template"),
    ("templates", "", "list templates"),
    ("group add", "NAME MEMBER…", "create a group or add to it (numbers or contact names)"),
    ("group remove", "NAME [MEMBER…]", "forget a group, or only the members given"),
    ("groups", "", "list groups"),
)
SIMPLE = {"templates": Templates, "groups": Groups}

# A name's words start with no quote; an apostrophe inside one is part of it (O'Brien, D’Angelo).
_NAME_WORD = r"[^\s,\"'“”‘’][^\s,\"“”‘]*"
_NAME = re.compile(rf"{_NAME_WORD}(?: {_NAME_WORD})*")
NAME_MAX = 40


class Misuse(ValueError):
    """Bad words: `problem`, and the command words (`words`, " | "-separated) whose usage fits."""

    def __init__(self, problem: str, words: str):
        self.problem, self.words = problem, words
        super().__init__(problem)


def checked_name(raw: str, what: str = "contact") -> str:
    """A contact, group or template name (spaces collapsed), or ValueError saying why not."""
    name = " ".join(raw.split())
    if not name or len(name) > NAME_MAX or not _NAME.fullmatch(name):
        raise ValueError(
            f"{raw!r} is not a {what} name: up to {NAME_MAX} characters, no commas, no quotes "
            "(an apostrophe inside a name is fine)."
        )
    if name[0] in "+0123456789(":
        raise ValueError(f"{raw!r} looks like a number; a {what} name must start otherwise.")
    if name[0] == "-":  # `send --vip hi` reads --vip as an option: the name could never be used
        raise ValueError(f"{raw!r} looks like an option; a {what} name must start otherwise.")
    return name


def _named(raw: str, what: str, words: str) -> str:
    try:
        return checked_name(raw, what)
    except ValueError as error:
        raise Misuse(str(error), words) from None


def _sub(word: str, sub: str) -> str:
    sub = sub.lower()
    if sub not in ("add", "remove"):
        raise Misuse(f"{word} needs add or remove.", f"{word} add | {word} remove")
    return sub


def template(sub: str, name: str, text: str) -> SavedCommand:
    """`template add NAME TEXT` (TEXT as typed, its fields checked) or `template remove NAME`."""
    words = f"template {_sub('template', sub)}"
    if not name.strip():
        raise Misuse(f"{words} needs a name.", words)
    if words == "template remove":
        return TemplateRemove(_named(f"{name} {text}", "template", words))
    if not text.strip():
        raise Misuse("template add needs a text after the name.", words)
    try:
        fields_of(text)
    except TemplateError as error:
        raise Misuse(str(error), words) from None
    return TemplateAdd(_named(name, "template", words), text.strip())


def group(args: list[str]) -> SavedCommand:
    """`group add NAME MEMBER…` or `group remove NAME [MEMBER…]`: members are separated by spaces
    or commas (quote a name or number that has spaces)."""
    words = f"group {_sub('group', args[0] if args else '')}"
    if len(args) < 2 or not args[1].strip():
        raise Misuse(f"{words} needs a name.", words)
    name = _named(args[1], "group", words)
    members = tuple(m.strip() for word in args[2:] for m in word.split(",") if m.strip())
    if words == "group remove":
        return GroupRemove(name, members)
    if not members:
        raise Misuse("group add needs members after the name: numbers or contact names.", words)
    return GroupAdd(name, members)


def words_of(command: SavedCommand) -> list[str]:
    """Command-line words that parse back to `command`."""
    match command:
        case TemplateAdd(name=name, text=text):
            return ["template", "add", name, text]
        case TemplateRemove(name=name):
            return ["template", "remove", name]
        case GroupAdd(name=name, members=members):
            return ["group", "add", name, *members]
        case GroupRemove(name=name, members=members):
            return ["group", "remove", name, *members]
    return [type(command).__name__.lower()]
