"""The one command grammar shared by the slash command and the command line (product.md §4, §5).

Two tokenizers (`bot.command_words`) feed one set of command builders:

* `parse_text` reads slash-command text (what follows `/sms`): a number may be quoted to keep
  spaces in it; the message text is the rest of the line, quotes and apostrophes kept as typed.
* `parse_argv` reads command-line words (what follows `sms-bot`); the text words are joined by
  single spaces.

`send` is laid out the same way on both (`bot.send_grammar`): options right after `send` or after
the recipients, or after a text that is one word or quoted; a line that looks mistyped (an option
among the text's words, a second phone number where the text should start) is refused with the
corrected command; `--` before the text sends it exactly as typed. `--at 14:00` is read in the
person's time zone (`bot.when`).

Both return a `Command` or raise `UsageError`, whose message says what was wrong and gives the
usage line; nothing else escapes. Recipients stay as typed (a number or a contact name): resolving
names and normalizing numbers is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bot.command_words import PROGRAM, SLASH, UsageError
from bot.command_words import quote_if_needed as _quote_if_needed
from bot.command_words import skip_space as _skip_space
from bot.command_words import word as _word
from bot.command_words import words as _words
from bot.send_grammar import SEND_OPTIONS as SEND_OPTIONS  # re-exported: the send options
from bot.send_grammar import (
    Reading,
    Send,
    read_argv_send,
    read_slash_send,
    send_argv,
    send_text,
)
from bot.when import MAX_SCHEDULE as MAX_SCHEDULE  # re-exported, as before the move
from bot.when import parse_when as parse_when

# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    id: str


@dataclass(frozen=True)
class Cancel:
    id: str


@dataclass(frozen=True)
class Charge:
    id: str


@dataclass(frozen=True)
class Balance:
    pass


@dataclass(frozen=True)
class Coverage:
    number: str


@dataclass(frozen=True)
class Redeem:
    voucher: str


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class ContactAdd:
    name: str
    number: str


@dataclass(frozen=True)
class ContactRemove:
    name: str


@dataclass(frozen=True)
class Contacts:
    pass


@dataclass(frozen=True)
class Log:
    number: str | None = None  # a number, a contact name, or "all" (admins)
    page: int = 1


@dataclass(frozen=True)
class OptOut:
    """An admin opts a number out (as if it had texted STOP)."""

    number: str


@dataclass(frozen=True)
class OptIn:
    """An admin opts a number back in."""

    number: str


@dataclass(frozen=True)
class OptOuts:
    """The opted-out numbers, who/when/how (admins), also as a CSV file."""


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Compose:
    """Bare `/sms`: open the compose form."""


Command = (
    Send
    | Status
    | Cancel
    | Charge
    | Balance
    | Coverage
    | Redeem
    | Ping
    | ContactAdd
    | ContactRemove
    | Contacts
    | Log
    | OptOut
    | OptIn
    | OptOuts
    | Help
    | Compose
)

# --- usage ------------------------------------------------------------------------------------

# (command word, arguments, what it does); the order is the help text's order.
USAGE: tuple[tuple[str, str, str], ...] = (
    (
        "send",
        "[--from SENDER] [--at WHEN] [--id CLIENT_ID] TO[,TO…] TEXT",
        "send an SMS; TO is a number (+27821234567, 0027…, 27-82-123-4567; quote it to keep "
        "spaces) or a contact name; -- before TEXT sends it exactly as typed\n    WHEN is +30m, "
        "+2h, +1h30m, +1d, HH:MM (your time zone) or an ISO time, at most 7 days ahead",
    ),
    ("status", "ID", "where a message is, in plain words"),
    ("cancel", "ID", "stop a scheduled message"),
    ("charge", "ID", "what a message cost"),
    ("balance", "", "credit left on the account"),
    ("coverage", "NUMBER", "whether a number can be reached, and the price"),
    ("redeem", "VOUCHER", "add credit with a 16-digit voucher (admins)"),
    ("ping", "", "check the gateway session"),
    ("contact add", "NAME NUMBER", "save a contact"),
    ("contact remove", "NAME", "forget a contact"),
    ("contacts", "", "list contacts"),
    (
        "log",
        "[NUMBER|NAME] [--page N]",
        "recent messages of this channel, both directions, 20 a page (admins: log all)",
    ),
    ("optout", "NUMBER", "stop all sends to a number (admins)"),
    ("optin", "NUMBER", "allow sends to a number that opted out again (admins)"),
    ("optouts", "", "the opted-out numbers: who, when, how; also as a CSV file (admins)"),
    ("help", "", "this help"),
)
_USAGE_BY_WORD = {word: args for word, args, _ in USAGE}


def usage_line(word: str, prefix: str) -> str:
    args = _USAGE_BY_WORD.get(word, "")
    return f"{prefix} {word} {args}".rstrip()


def help_text(prefix: str = SLASH, commands: Iterable[str] | None = None) -> str:
    """Every command (or those named in `commands`), its usage line and what it does, in the
    order of USAGE; `prefix` is "/sms" or "sms-bot"."""
    wanted = None if commands is None else set(commands)
    lines = []
    for word, args, what in USAGE:
        if wanted is None or word in wanted:
            lines += [f"{prefix} {word} {args}".rstrip(), f"    {what}"]
    if prefix == SLASH and wanted is None:
        lines += [SLASH, "    open the compose form"]
    return "\n".join(lines)


# --- shared validation --------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_VOUCHER = re.compile(r"[0-9]{16}")  # not \d: it matches other scripts' digits too
# A name's words start with no quote; an apostrophe inside one is part of it (O'Brien, D’Angelo).
_NAME_WORD = r"[^\s,\"'“”‘’][^\s,\"“”‘]*"
_NAME = re.compile(rf"{_NAME_WORD}(?: {_NAME_WORD})*")
_NAME_MAX = 40


def _one(word: str, args: list[str], what: str, usage: str) -> str:
    if not args or not args[0].strip():
        raise UsageError(f"{word} needs {what}.", usage)
    if len(args) > 1:
        raise UsageError(f"{word} takes only {what}; unexpected {args[1]!r}.", usage)
    return args[0].strip()


def _message_id(word: str, args: list[str], usage: str) -> str:
    value = _one(word, args, "a message ID", usage)
    if not _MESSAGE_ID.fullmatch(value):
        raise UsageError(f"{value!r} is not a message ID (letters and digits only).", usage)
    return value


def _voucher(args: list[str], usage: str) -> str:
    value = re.sub(r"[\s-]", "", " ".join(args))
    if not _VOUCHER.fullmatch(value):
        raise UsageError("redeem needs a 16-digit voucher.", usage)
    return value


def _name(raw: str, usage: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > _NAME_MAX or not _NAME.fullmatch(name):
        raise UsageError(
            f"{raw!r} is not a contact name: up to {_NAME_MAX} characters, no commas, no quotes "
            "(an apostrophe inside a name is fine).",
            usage,
        )
    if name[0] in "+0123456789(":
        raise UsageError(
            f"{raw!r} looks like a number; a contact name must start otherwise.", usage
        )
    return name


def _none(word: str, args: list[str], usage: str) -> None:
    if any(arg.strip() for arg in args):
        raise UsageError(f"{word} takes no arguments; unexpected {args[0]!r}.", usage)


def _build(word: str, args: list[str], prefix: str) -> Command:
    """Commands other than send and contact, from their argument words."""
    usage = usage_line(word, prefix)
    if word in ("status", "cancel", "charge"):
        cls = {"status": Status, "cancel": Cancel, "charge": Charge}[word]
        return cls(_message_id(word, args, usage))
    if word == "coverage":
        return Coverage(_one(word, [" ".join(args)] if args else [], "a number", usage))
    if word == "redeem":
        return Redeem(_voucher(args, usage))
    if word == "log":
        return _log(args, usage)
    if word in ("optout", "optin"):
        number = _one(word, [" ".join(args)] if args else [], "a number", usage)
        return OptOut(number) if word == "optout" else OptIn(number)
    if word == "help":
        return Help()
    simple = {"balance": Balance, "ping": Ping, "contacts": Contacts, "optouts": OptOuts}
    if word in simple:
        _none(word, args, usage)
        return simple[word]()
    known = ", ".join(dict.fromkeys(w.split()[0] for w, _, _ in USAGE))
    raise UsageError(f"Unknown command {word!r}; commands are {known}.", f"{prefix} help")


def _log(args: list[str], usage: str) -> Log:
    """`log [NUMBER|NAME] [--page N]`: the page option may come before or after the rest."""
    rest, page = [], 1
    words = iter(args)
    for word in words:
        if word == "--page":
            value = next(words, "")
            if not value.isdigit() or not 1 <= int(value) <= 1000:
                raise UsageError(f"--page takes a page number (1, 2, …); not {value!r}.", usage)
            page = int(value)
        else:
            rest.append(word)
    return Log(" ".join(rest).strip() or None, page)


def _contact(args: list[str], prefix: str) -> Command:
    sub = args[0].lower() if args else ""
    if sub == "add":
        usage = usage_line("contact add", prefix)
        if len(args) < 3:
            raise UsageError("contact add needs a name and a number.", usage)
        number = " ".join(args[2:]).strip()
        if not number:
            raise UsageError("contact add needs a number after the name.", usage)
        return ContactAdd(_name(args[1], usage), number)
    if sub == "remove":
        usage = usage_line("contact remove", prefix)
        if len(args) < 2:
            raise UsageError("contact remove needs a name.", usage)
        return ContactRemove(_name(" ".join(args[1:]), usage))
    raise UsageError(
        "contact needs add or remove.",
        f"{usage_line('contact add', prefix)} | {usage_line('contact remove', prefix)}",
    )


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


# --- slash-command text -----------------------------------------------------------------------


def parse_text(
    text: str,
    *,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    region: str | None = None,
) -> Command:
    """Parse slash-command text (after "/sms"). Empty text is `Compose()`. `zone` is the
    person's time zone, `region` SMS_DEFAULT_REGION (see `Reading`)."""
    if not isinstance(text, str):
        raise UsageError("The command must be text.", f"{SLASH} help")
    stripped = text.strip()
    if not stripped:
        return Compose()
    try:
        head = _word(stripped, 0)
        word = head.value.lower()
        if word == "send":
            reading = Reading(_now(now), zone, region)
            usage = usage_line("send", SLASH)
            return read_slash_send(stripped, _skip_space(stripped, head.end), reading, usage)
        args = _words(stripped[head.end :])
    except ValueError as error:
        if isinstance(error, UsageError):
            raise
        raise UsageError(f"Could not read the command: {error}.", f"{SLASH} help") from None
    if word == "contact":
        return _contact(args, SLASH)
    return _build(word, args, SLASH)


# --- command-line words -------------------------------------------------------------------------


def parse_argv(
    argv: Sequence[str],
    *,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    region: str | None = None,
) -> Command:
    """Parse command-line words (after "sms-bot"): the gateway commands and the rest."""
    words = [str(arg) for arg in argv]
    if not words:
        raise UsageError("A command is missing.", f"{PROGRAM} help")
    word, args = words[0].lower(), words[1:]
    if word in ("--help", "-h"):
        return Help()
    if word == "send":
        reading = Reading(_now(now), zone, region)
        return read_argv_send(args, reading, usage_line("send", PROGRAM))
    if word == "contact":
        return _contact(args, PROGRAM)
    return _build(word, args, PROGRAM)


# --- rendering (the inverse: for buttons, logs and round-trip tests) --------------------------


def to_text(command: Command) -> str:
    """Slash-command text that parses back to `command` (numbers with spaces are quoted)."""
    if isinstance(command, Send):
        return send_text(command)
    return " ".join(_quote_if_needed(w) if i else w for i, w in enumerate(_plain_words(command)))


def to_argv(command: Command) -> list[str]:
    """Command-line words that parse back to `command`."""
    if isinstance(command, Send):
        return send_argv(command)
    return _plain_words(command)


def _plain_words(command: Command) -> list[str]:
    match command:
        case Status(id=value) | Cancel(id=value) | Charge(id=value):
            return [type(command).__name__.lower(), value]
        case Coverage(number=number):
            return ["coverage", number]
        case Redeem(voucher=voucher):
            return ["redeem", voucher]
        case ContactAdd(name=name, number=number):
            return ["contact", "add", name, number]
        case ContactRemove(name=name):
            return ["contact", "remove", name]
        case Log(number=number, page=page):
            paging = ["--page", str(page)] if page != 1 else []
            return ["log", *([number] if number else []), *paging]
        case OptOut(number=number) | OptIn(number=number):
            return [type(command).__name__.lower(), number]
        case Compose():
            return []
    return [type(command).__name__.lower()]
