"""`send`: its command, its options, and how a send line is read on both surfaces.

    send [OPTIONS] [--] TO[,TO…] [OPTIONS] [--] TEXT [OPTIONS]

Options go right after `send` (the documented place, product.md §5) or right after the
recipients. They may also follow the text when its end is plain: the text is one word, or quoted
(`sms-bot send TO "TEXT" --at +1h`, the form of product.md §4; `/sms send TO "TEXT" --at +1h`
reads the same). What looks mistyped is refused with the corrected command to copy, never sent
as typed, on both surfaces alike:

* an option among the words of the text (`/sms send N Happy birthday --from Mom`): meant as an
  option or as words? The refusal offers both commands;
* a second phone number where the text should start (`/sms send 27825550103 27825550100 hi`).
  Only a word that is a valid number (for SMS_DEFAULT_REGION when set) counts: a text may start
  with a year, a price or a short code (`2024 results are in`).

`--` before the text (or before the recipients) takes the text exactly as typed, unchecked.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from bot.command_words import (
    PROGRAM,
    SLASH,
    Token,
    UsageError,
    loose_tokens,
    quote_if_needed,
    skip_space,
    unquoted,
    word,
)
from bot.grammar_saved import checked_name
from bot.sms.identifiers import validate_client_id, validate_sender
from bot.sms.numbers import normalize_msisdn
from bot.when import parse_when


@dataclass(frozen=True)
class Send:
    to: tuple[str, ...]
    text: str
    sender: str | None = None
    at: datetime | None = None  # aware, UTC
    client_id: str | None = None
    template: str | None = None  # a saved template's name; `text` is then empty


@dataclass(frozen=True)
class Reading:
    """What a command is read against: the time now, the person's time zone (`--at 14:00` is
    14:00 there; None: unknown, read as UTC) and SMS_DEFAULT_REGION (so a second number typed
    where the text should start is told apart from a text that starts with digits)."""

    now: datetime
    zone: tzinfo | None = None
    region: str | None = None


@dataclass(frozen=True)
class _Option:
    field: str
    check: Callable[[str, Reading], object]


SEND_OPTIONS: dict[str, _Option] = {
    # --from and --id follow the client's own rules, so the grammar never accepts what the
    # client would refuse (or the other way round).
    "--from": _Option("sender", lambda raw, reading: validate_sender(raw)),
    "--at": _Option("at", lambda raw, reading: parse_when(raw, reading.now, reading.zone)),
    "--id": _Option("client_id", lambda raw, reading: validate_client_id(raw)),
    "--template": _Option("template", lambda raw, reading: checked_name(raw, "template")),
}


def _apply_option(
    options: dict[str, object], name: str, value: str | None, reading: Reading, usage: str
) -> None:
    spec = SEND_OPTIONS.get(name)
    if spec is None:
        known = ", ".join(SEND_OPTIONS)
        raise UsageError(
            f"Unknown option {name!r}; send takes {known}. To send it as text, put -- before "
            "the text.",
            usage,
        )
    if value is None or not value.strip():
        raise UsageError(f"{name} needs a value.", usage)
    if spec.field in options:
        raise UsageError(f"{name} is given twice.", usage)
    try:
        options[spec.field] = spec.check(value.strip(), reading)
    except ValueError as error:  # Refused is a ValueError too
        raise UsageError(f"{str(error).rstrip('.')}.", usage) from None


def _recipients(items: list[str], usage: str) -> tuple[str, ...]:
    cleaned = tuple(item.strip() for item in items)
    if not cleaned or any(not item for item in cleaned):
        raise UsageError(
            "A recipient is missing: write TO as NUMBER or NAME, comma-separated.", usage
        )
    return cleaned


# --- reading a send line ---------------------------------------------------------------------

_OPTION_SHAPED = re.compile(r"--[A-Za-z][A-Za-z0-9-]*(=.*)?", re.DOTALL)
END_OF_OPTIONS = "--"
BOTH_TEXT_AND_TEMPLATE = "Give either a text or --template NAME, not both."


@dataclass
class _SendLine:
    """A send command as far as it has been read."""

    line: str  # the words as typed (slash text; the command-line words joined by spaces)
    prefix: str  # "/sms" or "sms-bot", for the corrected commands
    reading: Reading
    usage: str
    options: dict[str, object] = field(default_factory=dict)
    option_words: list[tuple[str, str]] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    verbatim: bool = False  # a `--` came before the text

    def typed(self, tokens: Sequence[Token]) -> str:
        return self.line[tokens[0].start : tokens[-1].end] if tokens else ""

    def command(
        self,
        to: Sequence[str],
        text: str,
        options: Sequence[tuple[str, str]],
        verbatim: bool = False,
    ) -> str:
        """A send command to copy, in this surface's own quoting (`--` before the text when
        `verbatim`)."""
        marker = [END_OF_OPTIONS] if verbatim else []
        texts = [text] if text else []  # none: `--template` stands for it
        if self.prefix == SLASH:
            words = [f"{name} {quote_if_needed(value)}" for name, value in options]
            recipients = ",".join(map(quote_if_needed, to))
            return " ".join([f"{SLASH} send", *words, recipients, *marker, *texts])
        pairs = [item for name, value in options for item in (name, value)]
        return shlex.join([PROGRAM, "send", *pairs, ",".join(to), *marker, *texts])


def _option_shaped(token: Token) -> bool:
    return not token.quoted and bool(_OPTION_SHAPED.fullmatch(token.value))


def _take_option(send: _SendLine, tokens: Sequence[Token], index: int) -> int:
    """Apply the option at `tokens[index]` (`--at +1h` or `--at=+1h`); the index after it."""
    name, eq, inline = tokens[index].value.partition("=")
    if eq:
        value: str | None = unquoted(inline)
        after = index + 1
    else:
        value = tokens[index + 1].value if index + 1 < len(tokens) else None
        after = index + 2
    _apply_option(send.options, name.lower(), value, send.reading, send.usage)
    send.option_words.append((name.lower(), (value or "").strip()))
    return after


def _leading_options(send: _SendLine, tokens: Sequence[Token], index: int) -> int:
    """Options (and a `--`) from `tokens[index]` on; the index of the first other token."""
    while index < len(tokens) and not send.verbatim:
        if tokens[index].value == END_OF_OPTIONS and not tokens[index].quoted:
            send.verbatim = True
            return index + 1
        if not _option_shaped(tokens[index]):
            break
        index = _take_option(send, tokens, index)
    return index


def _option_run_end(tokens: Sequence[Token], index: int) -> int:
    """Where a run of options (each with its value) starting at `index` ends."""
    while index < len(tokens) and _option_shaped(tokens[index]):
        index += 1 if "=" in tokens[index].value else 2
    return min(index, len(tokens))


def _read_text(send: _SendLine, tokens: Sequence[Token]) -> Send:
    """Options right after the recipients, then the text (with options after it, if plain)."""
    to = _recipients(send.to, send.usage)
    rest = list(tokens[_leading_options(send, tokens, 0) :])
    if send.options.get("template"):  # `send TO --template NAME`: the template is the text
        if rest:
            raise UsageError(BOTH_TEXT_AND_TEMPLATE, send.usage)
        return Send(to=to, text="", **send.options)  # type: ignore[arg-type]
    if not rest:
        raise UsageError("send needs a text after the recipients.", send.usage)
    text = send.typed(rest)
    if not send.verbatim:
        cut = next((i for i, token in enumerate(rest) if _option_shaped(token)), None)
        trailing = cut == 1 and _option_run_end(rest, cut) == len(rest)
        if _numbers(rest[0], send.reading.region) or (cut is not None and not trailing):
            _refuse_mistyped(send, rest)
        if cut is not None:
            index = cut
            while index < len(rest):
                index = _take_option(send, rest, index)
            text = rest[0].value
    if send.options.get("template"):  # given after the text
        raise UsageError(BOTH_TEXT_AND_TEMPLATE, send.usage)
    return Send(to=to, text=text, **send.options)  # type: ignore[arg-type]


def _numbers(token: Token, region: str | None) -> list[str]:
    """The phone numbers `token` is (`27825550100`, `0821234567,0821234568` with a region),
    or [] when it is anything else: a year, a price or a word start a real message."""
    parts = [part for part in token.value.split(",") if part.strip()]
    if token.quoted or not parts:
        return []
    for part in parts:
        try:
            normalize_msisdn(part, region)
        except ValueError:
            return []
    return parts


def _refuse_mistyped(send: _SendLine, rest: Sequence[Token]) -> None:
    """Refuse the line with what was probably meant (the numbers among the recipients, the
    options up front) and the same text sent exactly as typed."""
    options, words = list(send.option_words), []
    index = 0
    while index < len(rest):
        if _option_shaped(rest[index]):
            name, eq, inline = rest[index].value.partition("=")
            value_at = index if eq else index + 1
            value = inline if eq else rest[value_at].value if value_at < len(rest) else ""
            options.append((name.lower(), unquoted(value)))
            index = value_at + 1
        else:
            words.append(rest[index])
            index += 1
    numbers: list[str] = []
    while words and (found := _numbers(words[0], send.reading.region)):
        numbers += found
        words.pop(0)
    meant = " ".join(send.line[token.start : token.end] for token in words)
    as_typed = send.command(send.to, send.typed(rest), send.option_words, verbatim=True)
    # With --template there is no text to meet: the numbers and the options are the command.
    # Words beside a template: no reading of them is a command (a text and a template), so
    # only the text as typed is offered.
    templated = any(name == "--template" for name, _ in options)
    corrected = bool(meant) != templated
    suggestions = [send.command([*send.to, *numbers], meant, options)] if corrected else []
    raise UsageError(
        _mistake(rest, numbers) + " To send the text exactly as typed, put -- before it:",
        send.usage,
        [*suggestions, as_typed],
    )


def _mistake(rest: Sequence[Token], numbers: Sequence[str]) -> str:
    if numbers:  # the text's first word: options were taken before it
        return (
            f"{numbers[0]!r} looks like a second phone number where the text should start; "
            "recipients are separated by commas."
        )
    option = next(token.value.partition("=")[0] for token in rest if _option_shaped(token))
    return (
        f"{option} is inside the text, where it would be sent as words; options go right after "
        "`send`."
    )


def _text_recipients(text: str, pos: int, usage: str) -> tuple[list[str], int]:
    """TO[,TO…]: items separated by commas (spaces allowed after a comma), each quoted or not."""
    items = []
    while True:
        token = word(text, pos, stop=",")
        items.append(token.value)
        pos = token.end
        if pos < len(text) and text[pos] == ",":
            pos = skip_space(text, pos + 1)
            continue
        if pos < len(text) and not text[pos].isspace():
            raise UsageError(f"Put a space or a comma after recipient {token.value!r}.", usage)
        return items, pos


def read_slash_send(text: str, pos: int, reading: Reading, usage: str) -> Send:
    """`send` from slash text, `pos` just after the word `send`."""
    send = _SendLine(text, SLASH, reading, usage)
    while True:  # options before the recipients, two tokens at a time (the rest is not words yet)
        ahead = loose_tokens(text, pos, limit=2)
        taken = _leading_options(send, ahead, 0) if ahead and not send.verbatim else 0
        if not taken:
            break
        pos = ahead[taken - 1].end
    pos = skip_space(text, pos)
    if pos >= len(text):
        raise UsageError("send needs recipients and a text.", send.usage)
    send.to, pos = _text_recipients(text, pos, send.usage)
    return _read_text(send, loose_tokens(text, pos))


def read_argv_send(args: Sequence[str], reading: Reading, usage: str) -> Send:
    """The same layout as the slash command's, over the shell's words (a word with a space in
    it was quoted)."""
    tokens, pos = [], 0
    for arg in args:
        tokens.append(Token(arg, pos, pos + len(arg), quoted=any(c.isspace() for c in arg)))
        pos += len(arg) + 1
    send = _SendLine(" ".join(args), PROGRAM, reading, usage)
    index = _leading_options(send, tokens, 0)
    if index >= len(tokens):
        raise UsageError("send needs recipients and a text.", send.usage)
    while index < len(tokens):  # a word ending in a comma continues the list into the next
        item = tokens[index].value
        send.to.extend(item.rstrip(",").split(",") if item.strip() else [""])
        index += 1
        if not item.endswith(","):
            break
    return _read_text(send, tokens[index:])


# --- rendering (the inverse: for round-trip tests and corrected commands) ----------------------


def send_text(command: Send) -> str:
    """Slash-command text that reads back as `command`: `--` marks a text that would otherwise
    be read differently (one starting with digits, or holding `--`)."""
    recipients = ",".join(quote_if_needed(to) for to in command.to)
    options = [quote_if_needed(word) for word in send_option_words(command)]  # a template name
    if command.template:
        return " ".join(["send", *options, recipients])
    first = command.text.split()[0] if command.text.split() else ""
    marker = [END_OF_OPTIONS] if "--" in command.text or any(c.isdigit() for c in first) else []
    return " ".join(["send", *options, recipients, *marker, command.text])


def send_argv(command: Send) -> list[str]:
    """Command-line words that read back as `command`."""
    to = ",".join(command.to)
    if command.template:
        return ["send", *send_option_words(command), to]
    return ["send", *send_option_words(command), to, END_OF_OPTIONS, command.text]


def send_option_words(command: Send) -> list[str]:
    words = []
    if command.sender:
        words += ["--from", command.sender]
    if command.at:
        words += ["--at", command.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    if command.client_id:
        words += ["--id", command.client_id]
    if command.template:
        words += ["--template", command.template]
    return words
