"""The one command grammar shared by the slash command and the command line (product.md §4, §5).

Two tokenizers feed one set of command builders and one set of option validators:

* `parse_text` reads slash-command text (what follows `/sms`). Options come right after `send`;
  a number may be quoted to keep spaces in it; the message text is the raw remainder of the line,
  quotes and apostrophes kept exactly as typed.
* `parse_argv` reads command-line words (what follows `sms-bot`). Options may also come after the
  text (`sms-bot send TO TEXT --from F`), `--` ends the options, and the text words are joined by
  single spaces.

Both return a `Command` or raise `UsageError`, whose message says what was wrong and gives the
usage line; nothing else escapes. Recipients stay as typed (a number or a contact name): resolving
names and normalizing numbers is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.sms.identifiers import validate_client_id, validate_sender

SLASH = "/sms"
PROGRAM = "sms-bot"
MAX_SCHEDULE = timedelta(days=7)

# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    to: tuple[str, ...]
    text: str
    sender: str | None = None
    at: datetime | None = None  # aware, UTC
    client_id: str | None = None


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
        "spaces) or a contact name\n    WHEN is +30m, +2h, +1d, HH:MM (UTC) or an ISO time with Z "
        "or an offset, at most 7 days ahead",
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


class UsageError(ValueError):
    """Bad command input. `str(error)` is what was wrong followed by the usage line."""

    def __init__(self, problem: str, usage: str):
        self.problem = problem
        self.usage = usage
        super().__init__(f"{problem}\nUsage: {usage}")


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
_RELATIVE = re.compile(r"\+(\d{1,6})([mhd])", re.IGNORECASE)
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
# A name's words start with no quote; an apostrophe inside one is part of it (O'Brien, D’Angelo).
_NAME_WORD = r"[^\s,\"'“”‘’][^\s,\"“”‘]*"
_NAME = re.compile(rf"{_NAME_WORD}(?: {_NAME_WORD})*")
_NAME_MAX = 40


def parse_when(raw: str, now: datetime) -> datetime:
    """`+30m`/`+2h`/`+1d`, `HH:MM` (UTC, next occurrence) or ISO 8601 with Z or an offset -> an
    aware UTC datetime in the future and at most 7 days ahead."""
    now = now.astimezone(UTC)
    text = raw.strip()
    if match := _RELATIVE.fullmatch(text):
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2).lower()]
        at = now + timedelta(**{unit: int(match.group(1))})
    elif match := _CLOCK.fullmatch(text):
        at = now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0)
        at = at.replace(microsecond=0)
        if at <= now:
            at += timedelta(days=1)
    else:
        at = _iso(text)
    if at <= now:
        raise ValueError(f"--at {raw!r} is in the past; give a future time")
    if at - now > MAX_SCHEDULE:
        raise ValueError(f"--at {raw!r} is more than 7 days ahead; the gateway allows at most 7")
    return at


def _iso(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is not None:
            at = at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(
            f"--at {text!r} is not a time: use +30m, +2h, +1d, HH:MM (UTC) or an ISO time such "
            "as 2025-01-31T09:00Z"
        ) from None
    if at.tzinfo is None:
        raise ValueError(f"--at {text!r} has no time zone: add Z (UTC) or an offset like +02:00")
    return at


@dataclass(frozen=True)
class _Option:
    field: str
    check: Callable[[str, datetime], object]


SEND_OPTIONS: dict[str, _Option] = {
    # --from and --id follow the client's own rules, so the grammar never accepts what the
    # client would refuse (or the other way round).
    "--from": _Option("sender", lambda raw, now: validate_sender(raw)),
    "--at": _Option("at", parse_when),
    "--id": _Option("client_id", lambda raw, now: validate_client_id(raw)),
}


def _apply_option(
    options: dict[str, object], name: str, value: str | None, now: datetime, usage: str
) -> None:
    spec = SEND_OPTIONS.get(name)
    if spec is None:
        known = ", ".join(SEND_OPTIONS)
        raise UsageError(f"Unknown option {name!r}; send takes {known}.", usage)
    if value is None or not value.strip():
        raise UsageError(f"{name} needs a value.", usage)
    if spec.field in options:
        raise UsageError(f"{name} is given twice.", usage)
    try:
        options[spec.field] = spec.check(value.strip(), now)
    except ValueError as error:  # Refused is a ValueError too
        raise UsageError(f"{str(error).rstrip('.')}.", usage) from None


def _recipients(items: list[str], usage: str) -> tuple[str, ...]:
    cleaned = tuple(item.strip() for item in items)
    if not cleaned or any(not item for item in cleaned):
        raise UsageError(
            "A recipient is missing: write TO as NUMBER or NAME, comma-separated.", usage
        )
    return cleaned


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

_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "”": "”", "’": "’"}


@dataclass(frozen=True)
class _Token:
    value: str
    start: int
    end: int


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _word(text: str, pos: int, stop: str = "") -> _Token:
    """One token at `pos`: a quoted string (quotes removed) or a run without spaces or `stop`."""
    if pos < len(text) and text[pos] in _QUOTES:
        close = text.find(_QUOTES[text[pos]], pos + 1)
        if close < 0:
            raise ValueError(f"a quote opened at {text[pos : pos + 20]!r} is never closed")
        return _Token(text[pos + 1 : close], pos, close + 1)
    end = pos
    while end < len(text) and not text[end].isspace() and text[end] not in stop:
        end += 1
    return _Token(text[pos:end], pos, end)


def _words(text: str) -> list[str]:
    """All tokens of `text` (quotes group, and are removed)."""
    result, pos = [], _skip_space(text, 0)
    while pos < len(text):
        token = _word(text, pos)
        result.append(token.value)
        pos = _skip_space(text, token.end)
    return result


def _text_send_options(text: str, pos: int, now: datetime, usage: str) -> tuple[dict, int]:
    options: dict[str, object] = {}
    while text.startswith("--", pos):
        token = _word(text, pos, stop="=")
        if token.end < len(text) and text[token.end] == "=":
            value_token: _Token | None = _word(text, token.end + 1)  # --at="…" or --at=…
        else:
            start = _skip_space(text, token.end)
            value_token = _word(text, start) if start < len(text) else None
        value = value_token.value if value_token else None
        pos = _skip_space(text, value_token.end if value_token else len(text))
        _apply_option(options, token.value.lower(), value, now, usage)
    return options, pos


def _text_recipients(text: str, pos: int, usage: str) -> tuple[list[str], int]:
    """TO[,TO…]: items separated by commas (spaces allowed after a comma), each quoted or not."""
    items = []
    while True:
        token = _word(text, pos, stop=",")
        items.append(token.value)
        pos = token.end
        if pos < len(text) and text[pos] == ",":
            pos = _skip_space(text, pos + 1)
            continue
        if pos < len(text) and not text[pos].isspace():
            raise UsageError(f"Put a space or a comma after recipient {token.value!r}.", usage)
        return items, pos


def _text_send(text: str, pos: int, now: datetime) -> Send:
    usage = usage_line("send", SLASH)
    options, pos = _text_send_options(text, pos, now, usage)
    if pos >= len(text):
        raise UsageError("send needs recipients and a text.", usage)
    items, pos = _text_recipients(text, pos, usage)
    to = _recipients(items, usage)
    body = text[pos:].strip()
    if not body:
        raise UsageError("send needs a text after the recipients.", usage)
    return Send(to=to, text=body, **options)  # type: ignore[arg-type]


def parse_text(text: str, *, now: datetime | None = None) -> Command:
    """Parse slash-command text (after "/sms"). Empty text is `Compose()`."""
    if not isinstance(text, str):
        raise UsageError("The command must be text.", f"{SLASH} help")
    stripped = text.strip()
    if not stripped:
        return Compose()
    try:
        head = _word(stripped, 0)
        word = head.value.lower()
        if word == "send":
            return _text_send(stripped, _skip_space(stripped, head.end), _now(now))
        args = _words(stripped[head.end :])
    except ValueError as error:
        if isinstance(error, UsageError):
            raise
        raise UsageError(f"Could not read the command: {error}.", f"{SLASH} help") from None
    if word == "contact":
        return _contact(args, SLASH)
    return _build(word, args, SLASH)


# --- command-line words -------------------------------------------------------------------------


def _argv_send(args: Sequence[str], now: datetime) -> Send:
    usage = usage_line("send", PROGRAM)
    options: dict[str, object] = {}
    positional: list[str] = []
    index, only_positional = 0, False
    while index < len(args):
        arg = args[index]
        if not only_positional and arg == "--":
            only_positional = True
        elif not only_positional and arg.startswith("--"):
            name, eq, inline = arg.partition("=")
            if eq:
                value = inline
            else:
                index += 1
                value = args[index] if index < len(args) else None
            _apply_option(options, name.lower(), value, now, usage)
        else:
            positional.append(arg)
        index += 1
    if not positional:
        raise UsageError("send needs recipients and a text.", usage)
    items, rest = _argv_recipients(positional)
    to = _recipients(items, usage)
    body = " ".join(rest).strip()
    if not body:
        raise UsageError("send needs a text after the recipients.", usage)
    return Send(to=to, text=body, **options)  # type: ignore[arg-type]


def _argv_recipients(positional: list[str]) -> tuple[list[str], list[str]]:
    """The first word is TO; a word ending in a comma continues the list into the next word."""
    items: list[str] = []
    index = 0
    while index < len(positional):
        word = positional[index]
        index += 1
        items.extend(word.rstrip(",").split(",") if word.strip() else [""])
        if not word.endswith(",") or index >= len(positional):
            break
    return items, positional[index:]


def parse_argv(argv: Sequence[str], *, now: datetime | None = None) -> Command:
    """Parse command-line words (after "sms-bot"): the gateway commands and the rest."""
    words = [str(arg) for arg in argv]
    if not words:
        raise UsageError("A command is missing.", f"{PROGRAM} help")
    word, args = words[0].lower(), words[1:]
    if word in ("--help", "-h"):
        return Help()
    if word == "send":
        return _argv_send(args, _now(now))
    if word == "contact":
        return _contact(args, PROGRAM)
    return _build(word, args, PROGRAM)


# --- rendering (the inverse: for buttons, logs and round-trip tests) --------------------------


def _quote_if_needed(value: str) -> str:
    if any(c.isspace() or c == "," for c in value) or value[:1] in _QUOTES or not value:
        return f'"{value}"'
    return value


def _send_options(command: Send) -> list[str]:
    words = []
    if command.sender:
        words += ["--from", command.sender]
    if command.at:
        words += ["--at", command.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    if command.client_id:
        words += ["--id", command.client_id]
    return words


def to_text(command: Command) -> str:
    """Slash-command text that parses back to `command` (numbers with spaces are quoted)."""
    if isinstance(command, Send):
        recipients = ",".join(_quote_if_needed(to) for to in command.to)
        return " ".join(["send", *_send_options(command), recipients, command.text])
    return " ".join(_quote_if_needed(w) if i else w for i, w in enumerate(_plain_words(command)))


def to_argv(command: Command) -> list[str]:
    """Command-line words that parse back to `command`."""
    if isinstance(command, Send):
        return ["send", *_send_options(command), "--", ",".join(command.to), command.text]
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
