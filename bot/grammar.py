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
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bot import grammar_saved as saved
from bot.command_words import PROGRAM, SLASH, UsageError
from bot.command_words import quote_if_needed as _quote_if_needed
from bot.command_words import skip_space as _skip_space
from bot.command_words import word as _word
from bot.command_words import words as _words
from bot.grammar_saved import (
    GroupAdd,
    GroupRemove,
    Groups,
    SavedCommand,
    TemplateAdd,
    TemplateRemove,
    Templates,
    checked_name,
)
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
class Bulk:
    """`sms-bot bulk FILE.csv TEXT`: one personalised SMS per CSV row."""

    file: str
    text: str
    to_column: str | None = None
    at: datetime | None = None  # aware, UTC
    dry_run: bool = False


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


@dataclass(frozen=True)
class BulkForm:
    """`/sms bulk` in Slack: open the bulk form (`sms-bot bulk FILE TEXT` is `Bulk`)."""


Command = (
    Send
    | Bulk
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
    | SavedCommand
    | Log
    | OptOut
    | OptIn
    | OptOuts
    | Help
    | Compose
    | BulkForm
)

# --- usage ------------------------------------------------------------------------------------

# (command word, arguments, what it does); the order is the help text's order.
USAGE: tuple[tuple[str, str, str], ...] = (
    (
        "send",
        "[--from SENDER] [--at WHEN] [--id CLIENT_ID] TO[,TO…] TEXT|--template NAME",
        "send an SMS; TO is a number (+27821234567, 0027…, 27-82-123-4567; quote it to keep "
        "spaces), a contact or a group name; -- before TEXT sends it exactly as typed\n    "
        "--template NAME: a saved text, {name} and {first_name} filled in per recipient\n    "
        "WHEN is +30m, +2h, +1h30m, +1d, HH:MM (your time zone) or an ISO time, at most 7 days "
        "ahead",
    ),
    ("status", "ID", "where a message is, in plain words"),
    ("cancel", "ID", "stop a scheduled message"),
    ("charge", "ID", "what a message cost"),
    ("balance", "", "credit left on the account"),
    ("coverage", "NUMBER", "whether a number can be reached, and the price"),
    ("redeem", "VOUCHER", "add credit with a 16-digit voucher (admins)"),
    ("ping", "", "check the gateway session"),
    (
        "bulk",
        "FILE.csv TEXT [--to-column NAME] [--at WHEN] [--dry-run]",
        "one personalised SMS per CSV row ({column} fields in TEXT); /sms bulk opens the form",
    ),
    ("contact add", "NAME NUMBER", "save a contact"),
    ("contact remove", "NAME", "forget a contact"),
    ("contacts", "", "list contacts"),
    *saved.SAVED_USAGE,
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
# Slack only: what opens a form rather than running a command.
SLASH_FORM_WORDS = ("bulk",)
SLASH_FORMS = [
    f"{SLASH} bulk",
    "    open the bulk form: a CSV file, a group or pasted numbers; a preview before sending",
    SLASH,
    "    open the compose form",
]


def usage_line(word: str, prefix: str) -> str:
    args = _USAGE_BY_WORD.get(word, "")
    return f"{prefix} {word} {args}".rstrip()


def help_text(prefix: str = SLASH, commands: Iterable[str] | None = None) -> str:
    """Every command (or those named in `commands`), its usage line and what it does, in the
    order of USAGE; `prefix` is "/sms" or "sms-bot"."""
    wanted = None if commands is None else set(commands)
    lines = []
    for word, args, what in USAGE:
        if prefix == SLASH and word in SLASH_FORM_WORDS:
            continue  # in Slack the word opens a form (SLASH_FORMS says so), it takes no args
        if wanted is None or word in wanted:
            lines += [f"{prefix} {word} {args}".rstrip(), f"    {what}"]
    if prefix == SLASH and wanted is None:
        lines += SLASH_FORMS
    return "\n".join(lines)


# --- shared validation --------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_VOUCHER = re.compile(r"[0-9]{16}")  # not \d: it matches other scripts' digits too


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
    try:
        return checked_name(raw)  # one rule for contact, group and template names
    except ValueError as error:
        raise UsageError(str(error), usage) from None


def _saved(parse: Callable[[], SavedCommand], prefix: str) -> SavedCommand:
    """A template or group command, its misuse worded with this program's usage lines."""
    try:
        return parse()
    except saved.Misuse as error:
        usage = " | ".join(usage_line(w.strip(), prefix) for w in error.words.split("|"))
        raise UsageError(error.problem, usage) from None


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
    simple = {
        "balance": Balance,
        "ping": Ping,
        "contacts": Contacts,
        "optouts": OptOuts,
        **saved.SIMPLE,
    }
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
        if word == "template":  # its text is the raw rest of the line, as typed
            sub = _word(stripped, _skip_space(stripped, head.end))
            name = _word(stripped, _skip_space(stripped, sub.end))
            rest = stripped[_skip_space(stripped, name.end) :]
            return _saved(lambda: saved.template(sub.value, name.value, rest), SLASH)
        args = _words(stripped[head.end :])
    except ValueError as error:
        if isinstance(error, UsageError):
            raise
        raise UsageError(f"Could not read the command: {error}.", f"{SLASH} help") from None
    if word == "contact":
        return _contact(args, SLASH)
    if word == "bulk":  # in Slack the form takes the file (or list) and the text
        if any(arg.strip() for arg in args):
            raise UsageError("/sms bulk takes no arguments: it opens the form.", f"{SLASH} bulk")
        return BulkForm()
    if word == "group":
        return _saved(lambda: saved.group(args), SLASH)
    return _build(word, args, SLASH)


# --- command-line words -------------------------------------------------------------------------


_BULK_VALUED = ("--to-column", "--at")


def _refuse_bulk_option_in_text(args: Sequence[str], usage: str) -> None:
    """An option typed among the text's words (`list.csv Happy --at 09:00 birthday`) is a
    mistype, as for `send`: refused with the command probably meant and the text as typed."""
    options: list[str] = []  # every option word, values included, in order
    before_text: list[str] = []  # those typed before the text's first word
    positional: list[str] = []
    text_from, pending, splitting = 0, None, None
    index = 0
    while index < len(args):
        arg = args[index]
        name, eq, _ = arg.partition("=")
        if arg == "--":
            return  # what follows is the file and the text, exactly as typed
        if name in (*_BULK_VALUED, "--dry-run"):
            taken = list(args[index : index + (1 if eq or name == "--dry-run" else 2)])
            options += taken
            if len(positional) < 2:
                before_text += taken
            pending = pending or (name if len(positional) >= 2 else None)
            index += len(taken)
            continue
        splitting = splitting or pending
        if len(positional) == 1:
            text_from = index
        positional.append(arg)
        index += 1
    if splitting is None:
        return
    meant = [PROGRAM, "bulk", *options, positional[0], " ".join(positional[1:])]
    as_typed = [PROGRAM, "bulk", *before_text, "--", positional[0], " ".join(args[text_from:])]
    raise UsageError(
        f"{splitting} is inside the text, where it would be sent as words; options go before "
        "the file. To send the text exactly as typed, put -- before the file:",
        usage,
        [shlex.join(meant), shlex.join(as_typed)],
    )


def _argv_bulk(args: Sequence[str], now: datetime, zone: tzinfo | None) -> Bulk:
    usage = usage_line("bulk", PROGRAM)
    _refuse_bulk_option_in_text(args, usage)
    positional, options, dry_run = [], {}, False
    words = iter(args)
    for arg in words:
        name, eq, inline = arg.partition("=")
        if arg == "--":
            positional += list(words)  # everything after -- is the file and the text
        elif arg == "--dry-run":
            dry_run = True
        elif name in ("--to-column", "--at"):
            value = inline if eq else next(words, None)
            if value is None or not value.strip():
                raise UsageError(f"{name} needs a value.", usage)
            try:
                options[name] = parse_when(value, now, zone) if name == "--at" else value.strip()
            except ValueError as error:
                raise UsageError(f"{str(error).rstrip('.')}.", usage) from None
        elif arg.startswith("--"):
            raise UsageError(
                f"Unknown option {arg!r}; bulk takes --to-column, --at, --dry-run.", usage
            )
        else:
            positional.append(arg)
    if len(positional) < 2 or not positional[0].strip() or not " ".join(positional[1:]).strip():
        raise UsageError("bulk needs a CSV file and a text.", usage)
    return Bulk(
        positional[0],
        " ".join(positional[1:]).strip(),
        to_column=options.get("--to-column"),  # type: ignore[arg-type]
        at=options.get("--at"),  # type: ignore[arg-type]
        dry_run=dry_run,
    )


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
    if word == "bulk":
        return _argv_bulk(args, _now(now), zone)
    if word == "contact":
        return _contact(args, PROGRAM)
    if word == "template":
        sub, name = [*args, "", ""][:2]
        return _saved(lambda: saved.template(sub, name, " ".join(args[2:])), PROGRAM)
    if word == "group":
        return _saved(lambda: saved.group(args), PROGRAM)
    return _build(word, args, PROGRAM)


# --- rendering (the inverse: for buttons, logs and round-trip tests) --------------------------


def to_text(command: Command) -> str:
    """Slash-command text that parses back to `command` (numbers with spaces are quoted)."""
    if isinstance(command, Send):
        return send_text(command)
    if isinstance(command, TemplateAdd):  # the text is the raw rest of the line
        return f"template add {_quote_if_needed(command.name)} {command.text}"
    return " ".join(_quote_if_needed(w) if i else w for i, w in enumerate(_plain_words(command)))


def to_argv(command: Command) -> list[str]:
    """Command-line words that parse back to `command`."""
    if isinstance(command, Send):
        return send_argv(command)
    if isinstance(command, Bulk):
        at = ["--at", f"{command.at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"] if command.at else []
        column = ["--to-column", command.to_column] if command.to_column else []
        dry = ["--dry-run"] if command.dry_run else []
        return ["bulk", *column, *at, *dry, "--", command.file, command.text]
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
        case TemplateAdd() | TemplateRemove() | Templates() | GroupAdd() | GroupRemove() | Groups():
            return saved.words_of(command)
        case Log(number=number):
            return ["log", number] if number else ["log"]
        case Compose():
            return []
        case BulkForm():
            return ["bulk"]
    return [type(command).__name__.lower()]
