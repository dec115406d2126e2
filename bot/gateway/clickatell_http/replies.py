"""The reply grammar of the Clickatell HTTP API (protocol reference §3).

Every reply is `text/plain`, one record per line. A line is a run of `Key: value` pairs: a key is
letters followed by `:` (at the start of the line or after white space), and its value runs until
the next such key, so values may hold spaces and dots. Real replies are sloppy: lines may end in
`\\r\\n`, bodies may end with a newline, colons may be followed by two spaces or none, `OK` may come
without a colon, `ERR:` may carry no code (coverage) and the recipient after `To:` may be empty.

Everything here is pure: `parse_reply` turns a body into `ReplyLine`s and the `read_*` helpers turn
those into the values each command needs. Anything that does not fit raises `GatewayError` with a
description that quotes (a bounded part of) the reply, never another exception.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from bot.gateway.base import GatewayError
from bot.gateway.clickatell_http.codes import gateway_error

# A key: letters right before a colon, at the start of the line or after white space ("12:30" or
# "x1:" never make a key: the run before the colon must be letters only, from a word start).
_KEY = re.compile(r"(?<!\S)([A-Za-z]+):")
_BARE_WORD = re.compile(r"[A-Za-z]+")
# `<code>, <description>`; tolerate a missing comma or spaces, but a code is at most 3 digits.
_ERR_VALUE = re.compile(r"(\d{1,3})(?!\d)\s*,?\s*(.*)", re.DOTALL)
_CODE = re.compile(r"\d{1,3}")
_MAX_QUOTE = 120


@dataclass(frozen=True)
class ReplyLine:
    """One parsed line: its `Key: value` pairs in wire order (keys as written) and the raw text."""

    pairs: tuple[tuple[str, str], ...]
    raw: str

    def get(self, key: str) -> str | None:
        """The value of the first pair whose key matches `key`, ignoring case (getmsgcharge writes
        `charge`/`status` in lower case where other replies write `Status`)."""
        wanted = key.lower()
        for name, value in self.pairs:
            if name.lower() == wanted:
                return value
        return None

    @property
    def first_key(self) -> str:
        return self.pairs[0][0].upper()

    def has(self, key: str) -> bool:
        return self.get(key) is not None


@dataclass(frozen=True)
class SendLine:
    """One line of a `sendmsg`/`quicksend` reply: an accepted message (`apimsgid`) or a refusal
    (`error`), with the recipient when the line names one (`to` is "" for an empty `To:`, None when
    the line has no `To:` at all, as in a single-recipient reply)."""

    apimsgid: str | None
    to: str | None
    error: GatewayError | None


def quote(body: str | bytes) -> str:
    """A short, printable rendering of a reply for error messages."""
    text = body.decode("latin-1") if isinstance(body, bytes) else body
    text = text.strip()
    if len(text) > _MAX_QUOTE:
        text = text[:_MAX_QUOTE] + "…"
    return repr(text)


def unreadable(body: str | bytes, what: str) -> GatewayError:
    """The error for a reply that does not fit the grammar or is not what the command returns."""
    return GatewayError(
        None,
        f"Unreadable reply from the gateway ({what}): {quote(body)}",
        "The gateway answered something this client does not understand. Check "
        "CLICKATELL_BASE_URL points at the Clickatell HTTP API; if it does, try again later.",
    )


def _as_text(body: str | bytes) -> str:
    # Replies are ASCII in practice; Latin-1 maps every byte so decoding can never fail.
    return body.decode("latin-1") if isinstance(body, bytes) else body


def parse_line(line: str) -> ReplyLine:
    """Parse one non-empty line; raise GatewayError when it is not a run of `Key: value` pairs."""
    stripped = line.strip()
    if _BARE_WORD.fullmatch(stripped):
        # `OK` with no colon (endbatch): a key with an empty value.
        return ReplyLine(((stripped, ""),), line)
    keys = list(_KEY.finditer(stripped))
    if not keys or keys[0].start() != 0:
        raise unreadable(line, "expected 'Key: value'")
    pairs = []
    for index, match in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(stripped)
        pairs.append((match.group(1), stripped[match.end() : end].strip()))
    return ReplyLine(tuple(pairs), line)


def parse_reply(body: str | bytes) -> list[ReplyLine]:
    """All non-blank lines of a reply (`\\n` or `\\r\\n`); an empty reply is unreadable."""
    return list(_parse_text(_as_text(body)))


@functools.lru_cache(maxsize=16)
def _parse_text(text: str) -> tuple[ReplyLine, ...]:
    # Cached: the client looks at one reply more than once (call-level error, then the
    # command's reader); lines are frozen, so sharing them is safe.
    lines = tuple(parse_line(line) for line in re.split(r"\r?\n|\r", text) if line.strip())
    if not lines:
        raise unreadable(text, "empty reply")
    return lines


def code_of(raw: str) -> str:
    """A code as the 3-digit string the tables use ("4" -> "004")."""
    return raw.zfill(3)


def error_of(line: ReplyLine) -> GatewayError | None:
    """The GatewayError an `ERR:` line stands for (None for any other line).

    `ERR: <code>, <description>` keeps the code as a 3-digit string; `ERR: <text>` without a code
    (coverage) and a bare `ERR:` give code None.
    """
    if line.first_key != "ERR":
        return None
    value = line.pairs[0][1]
    match = _ERR_VALUE.fullmatch(value)
    if match:
        return gateway_error(code_of(match.group(1)), (match.group(2) or "").strip())
    return gateway_error(None, value)


def raise_for_error(lines: list[ReplyLine]) -> None:
    """Raise the first line's error when the reply is a call-level `ERR:`."""
    error = error_of(lines[0])
    if error is not None:
        raise error


def _single(body: str | bytes, key: str) -> ReplyLine:
    lines = parse_reply(body)
    raise_for_error(lines)
    if len(lines) != 1 or lines[0].first_key != key.upper():
        raise unreadable(body, f"expected '{key}:'")
    return lines[0]


def read_ok(body: str | bytes) -> str:
    """`OK: <value>`, `OK:` or `OK` -> the value ("" when there is none)."""
    return _single(body, "OK").pairs[0][1]


def read_session_id(body: str | bytes) -> str:
    """`auth`: `OK: <32 hex>`."""
    value = read_ok(body)
    if not re.fullmatch(r"[0-9A-Za-z]+", value):
        raise unreadable(body, "expected a session ID after 'OK:'")
    return value


def read_id(body: str | bytes) -> str:
    """`ID: <id>` (startbatch, senditem)."""
    value = _single(body, "ID").pairs[0][1]
    if not value or " " in value:
        raise unreadable(body, "expected an ID after 'ID:'")
    return value


def _status_code(body: str | bytes, raw: str | None) -> str:
    if raw is None or not _CODE.fullmatch(raw):
        raise unreadable(body, "expected a 3-digit status")
    return code_of(raw)


def read_status(body: str | bytes) -> tuple[str, str]:
    """`querymsg`/`delmsg`: `ID: <apimsgid> Status: <NNN>` -> (apimsgid, status)."""
    line = _single(body, "ID")
    apimsgid = line.pairs[0][1]
    if not apimsgid:
        raise unreadable(body, "expected an ID after 'ID:'")
    return apimsgid, _status_code(body, line.get("Status"))


def _float(body: str | bytes, raw: str | None) -> float:
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise unreadable(body, "expected a number") from None


def read_balance(body: str | bytes) -> float:
    """`getbalance`: `Credit: <float>`."""
    return _float(body, _single(body, "Credit").pairs[0][1])


def read_charge(body: str | bytes) -> tuple[str, float, str]:
    """`getmsgcharge`: `apiMsgId: <id> charge: <float> status: <NNN>` (lower-case keys)."""
    line = _single(body, "apiMsgId")
    apimsgid = line.pairs[0][1]
    if not apimsgid:
        raise unreadable(body, "expected an ID after 'apiMsgId:'")
    return apimsgid, _float(body, line.get("charge")), _status_code(body, line.get("status"))


def read_coverage(body: str | bytes) -> tuple[bool, float | None]:
    """`routeCoverage`: `OK: … Charge: <float>` -> (True, charge); `ERR: <text>` with no code ->
    (False, None). An `ERR:` with a code (e.g. authentication) is raised."""
    lines = parse_reply(body)
    error = error_of(lines[0])
    if error is not None:
        if error.code is None:
            return False, None
        raise error
    if len(lines) != 1 or lines[0].first_key != "OK":
        raise unreadable(body, "expected 'OK:' or 'ERR:'")
    charge = lines[0].get("Charge")
    return True, (None if charge is None else _float(body, charge))


def read_send(body: str | bytes) -> list[SendLine]:
    """`sendmsg`/`quicksend`: one `ID: <apimsgid> [To: <msisdn>]` or `ERR: <code>, <desc>
    [To: <msisdn>]` line per recipient, mixed freely."""
    result = []
    for line in parse_reply(body):
        to = line.get("To")
        to = None if to is None else to.lstrip("+")
        error = error_of(line)
        if error is not None:
            result.append(SendLine(None, to, error))
            continue
        if line.first_key != "ID" or not line.pairs[0][1] or " " in line.pairs[0][1]:
            raise unreadable(body, "expected 'ID:' or 'ERR:' lines")
        result.append(SendLine(line.pairs[0][1], to, None))
    return result


def call_error(body: str | bytes) -> GatewayError | None:
    """The error when the whole call was refused: a reply that is one `ERR:` line naming no
    recipient (session expired, internal error, bad parameters). None for anything else,
    including replies that do not parse (the command's reader reports those)."""
    try:
        lines = parse_reply(body)
    except GatewayError:
        return None
    if len(lines) != 1 or lines[0].has("To"):
        return None
    return error_of(lines[0])
