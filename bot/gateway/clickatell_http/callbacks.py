"""Decoding Clickatell's status callbacks (§6) and inbound SMS callbacks (§7).

Everything works on BYTES: an MO text in UTF-16BE arrives as raw percent-encoded bytes
(`%04%1F%04%40` is "Пр"), so the query or body must never be decoded as UTF-8 before the
`charset` parameter has been read. `parse_params` turns the raw query string or form body into
name -> bytes; `decode_status` / `decode_mo` turn those into typed callbacks or raise
`CallbackError` (the port's), whose message is the short reason the endpoint sends with its 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote_to_bytes

from bot.gateway.base import CallbackError

# §7: MO timestamps are GMT+2 all year (no daylight saving).
MO_TIMEZONE = timezone(timedelta(hours=2))

LATIN1 = "ISO-8859-1"
UTF16BE = "UTF-16BE"
UTF8 = "UTF-8"

# charset parameter (lower-cased) -> the canonical name. The protocol names ISO-8859-1 and
# UTF-16BE; the other spellings are what gateways and people write for the same encodings.
# "UTF-16" and "UCS-2" mean big-endian unless a byte order mark says otherwise (RFC 2781 §4.3).
# UTF-8 is not in the protocol but is unambiguous, so it is accepted rather than refused.
_CHARSETS: dict[str, str] = {
    "iso-8859-1": LATIN1,
    "iso8859-1": LATIN1,
    "iso_8859-1": LATIN1,
    "latin1": LATIN1,
    "latin-1": LATIN1,
    "utf-16be": UTF16BE,
    "utf16be": UTF16BE,
    "utf-16": UTF16BE,
    "utf16": UTF16BE,
    "ucs-2": UTF16BE,
    "ucs2": UTF16BE,
    "utf-8": UTF8,
    "utf8": UTF8,
}
_BOM_ALIASES = frozenset({"utf-16", "utf16", "ucs-2", "ucs2"})

_STATUS_RE = re.compile(r"[0-9]{3}")
_UNIX_RE = re.compile(r"[0-9]{1,11}(?:\.[0-9]{1,9})?")
_MO_TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})")
_HEX_RE = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_MAX_ID = 64  # apiMsgId is 32 hex digits, climsgid at most 32: anything far longer is garbage
# An MO's sender is a phone number: digits (with a + and separators at most), at least one digit.
_PHONE_RE = re.compile(r"\+?[0-9() .-]*[0-9][0-9() .-]*")


@dataclass(frozen=True)
class StatusCallback:
    api_id: str
    apimsgid: str
    climsgid: str | None
    to: str
    sender: str
    timestamp: datetime  # aware, UTC
    status: str  # 3 digits, e.g. "004"
    charge: float | None

    @property
    def unique_key(self) -> str:
        """Deduplication key for the inbox: the same status of the same message twice is one."""
        return f"{self.apimsgid}:{self.status}"


@dataclass(frozen=True)
class Concatenation:
    reference: int  # 8-bit (IEI 00) or 16-bit (IEI 08) message reference
    total: int
    sequence: int  # 1-based


@dataclass(frozen=True)
class MoCallback:
    api_id: str
    momsgid: str
    sender: str  # the phone's number ("from")
    to: str  # our number
    timestamp: datetime  # aware, UTC
    text: str
    charset: str  # canonical: "ISO-8859-1", "UTF-16BE" or "UTF-8"
    concatenation: Concatenation | None
    network: str | None

    @property
    def unique_key(self) -> str:
        """Deduplication key for the inbox (one per inbound message part)."""
        return self.momsgid


# --------------------------------------------------------------------------- parameters


def parse_params(raw: bytes | str) -> dict[str, bytes]:
    """A query string or x-www-form-urlencoded body -> name -> value BYTES.

    '+' is a space and %XX a byte; values are never decoded as text here. Malformed escapes are
    kept literally (never an error). A name given twice keeps its FIRST value: Clickatell never
    repeats one, and the endpoint's api_id check and the decoder read the same dict, so a
    repeated name cannot make them disagree. A `str` (WSGI's QUERY_STRING, which PEP 3333 makes
    Latin-1) is turned back into its bytes first.
    """
    if isinstance(raw, str):
        raw = raw.encode("latin-1", errors="replace")
    params: dict[str, bytes] = {}
    for field in bytes(raw).split(b"&"):
        if not field:
            continue
        name, _, value = field.partition(b"=")
        key = _unquote(name).decode("latin-1")
        if key and key not in params:
            params[key] = _unquote(value)
    return params


def _unquote(value: bytes) -> bytes:
    return unquote_to_bytes(value.replace(b"+", b" "))


def _raw(params: Mapping[str, bytes | str], name: str) -> bytes | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace")
    return bytes(value)


def _ascii(params: Mapping[str, bytes | str], name: str, *, required: bool = False) -> str:
    """A plain ASCII parameter (IDs, numbers, codes), surrounding whitespace removed."""
    raw = _raw(params, name)
    if raw is None or not raw.strip():
        if required:
            raise CallbackError(f"missing parameter {name}")
        return ""
    try:
        value = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise CallbackError(f"parameter {name} must be ASCII") from None
    if not value.isprintable():
        raise CallbackError(f"parameter {name} holds control characters")
    return value


def _phone(params: Mapping[str, bytes | str], name: str) -> str:
    value = _ascii(params, name, required=True)
    if not _PHONE_RE.fullmatch(value):
        raise CallbackError(f"parameter {name} is not a phone number: {value[:25]!r}")
    return value


def _identifier(params: Mapping[str, bytes | str], name: str, *, required: bool) -> str:
    value = _ascii(params, name, required=required)
    if len(value) > _MAX_ID or " " in value:
        raise CallbackError(f"parameter {name} is not a message ID")
    return value


# --------------------------------------------------------------------------- status (§6)


def decode_status(params: Mapping[str, bytes]) -> StatusCallback:
    """A status callback. Required: apiMsgId, status (3 digits), timestamp (Unix seconds)."""
    status = _ascii(params, "status", required=True)
    if not _STATUS_RE.fullmatch(status):
        raise CallbackError(f"status must be 3 digits, not {status[:10]!r}")
    return StatusCallback(
        api_id=_ascii(params, "api_id"),
        apimsgid=_identifier(params, "apiMsgId", required=True),
        climsgid=_identifier(params, "cliMsgId", required=False) or None,
        to=_ascii(params, "to"),
        sender=_ascii(params, "from"),
        timestamp=_unix_time(_ascii(params, "timestamp", required=True)),
        status=status,
        charge=_charge(_ascii(params, "charge")),
    )


def _unix_time(value: str) -> datetime:
    if not _UNIX_RE.fullmatch(value):
        raise CallbackError(f"timestamp must be Unix seconds, not {value[:25]!r}")
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError):
        raise CallbackError(f"timestamp {value[:25]!r} is out of range") from None


def _charge(value: str) -> float | None:
    if not value:
        return None
    try:
        charge = float(value)
    except ValueError:
        raise CallbackError(f"charge must be a number, not {value[:20]!r}") from None
    if not math.isfinite(charge) or charge < 0:
        raise CallbackError(f"charge {value[:20]!r} is not a valid amount")
    return charge


# --------------------------------------------------------------------------- inbound (§7)


def decode_mo(params: Mapping[str, bytes]) -> MoCallback:
    """An inbound SMS (one part of it when `concatenation` is set). Required: moMsgId, from,
    timestamp (GMT+2 'YYYY-MM-DD HH:MM:SS') and text (may be empty); charset defaults to
    ISO-8859-1."""
    charset = _ascii(params, "charset")
    raw_text = _raw(params, "text")
    if raw_text is None:
        raise CallbackError("missing parameter text")
    network = _ascii(params, "network")
    return MoCallback(
        api_id=_ascii(params, "api_id"),
        momsgid=_identifier(params, "moMsgId", required=True),
        sender=_phone(params, "from"),
        to=_ascii(params, "to"),
        timestamp=_mo_time(_ascii(params, "timestamp", required=True)),
        text=decode_text(raw_text, charset),
        charset=_canonical_charset(charset),
        concatenation=parse_udh(_ascii(params, "udh")),
        network=network or None,
    )


def _canonical_charset(charset: str) -> str:
    if not charset:
        return LATIN1  # §7: the default when the gateway leaves it out
    canonical = _CHARSETS.get(charset.lower())
    if canonical is None:
        raise CallbackError(f"unsupported charset {charset[:30]!r}")
    return canonical


def decode_text(raw: bytes, charset: str) -> str:
    """MO text bytes -> str per the callback's charset parameter (empty means ISO-8859-1)."""
    canonical = _canonical_charset(charset)
    if canonical == LATIN1:
        return raw.decode("latin-1")  # every byte is a character: cannot fail
    if canonical == UTF8:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackError("text is not valid UTF-8") from None
    if len(raw) % 2:
        raise CallbackError(f"UTF-16BE text has an odd number of bytes ({len(raw)})")
    codec = "utf-16-be"
    if charset.lower() in _BOM_ALIASES and raw[:2] in (b"\xfe\xff", b"\xff\xfe"):
        codec = "utf-16-be" if raw[:2] == b"\xfe\xff" else "utf-16-le"
        raw = raw[2:]
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        raise CallbackError("text is not valid UTF-16BE (broken surrogate pair)") from None


def encode_mo_text(text: str, charset: str) -> bytes:
    """The inverse of the MO decoding, for the sandbox: the bytes to percent-encode as `text`.
    Raises ValueError for text the charset cannot carry (e.g. 'Ω' in ISO-8859-1) and
    CallbackError (a ValueError) for an unknown charset."""
    canonical = _canonical_charset(charset)
    codec = {LATIN1: "latin-1", UTF16BE: "utf-16-be", UTF8: "utf-8"}[canonical]
    return text.encode(codec)


def format_mo_timestamp(at: float) -> str:
    """The inverse of the MO timestamp decoding, for the sandbox: Unix seconds as the gateway
    writes them, 'YYYY-MM-DD HH:MM:SS' in GMT+2."""
    return datetime.fromtimestamp(at, MO_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")


def _mo_time(value: str) -> datetime:
    match = _MO_TIME_RE.fullmatch(value)
    if match is None:
        raise CallbackError(f"timestamp must be 'YYYY-MM-DD HH:MM:SS', not {value[:25]!r}")
    try:
        local = datetime(*(int(part) for part in match.groups()), tzinfo=MO_TIMEZONE)
    except ValueError:
        raise CallbackError(f"timestamp {value!r} is not a real date and time") from None
    return local.astimezone(UTC)


# --------------------------------------------------------------------------- UDH


def parse_udh(hex_udh: str) -> Concatenation | None:
    """The concatenation element of a user data header given as hex, or None without one.

    The header is `UDHL` then information elements `IEI IEL data`: IEI 00 is `ref total seq`
    (8-bit reference), IEI 08 `ref_hi ref_lo total seq` (16-bit). Other elements (ports,
    `050103...`) are skipped. Per GSM 03.40 a repeated element's last occurrence counts.
    Malformed hex or lengths, and a concatenation element with a total of 0 or a sequence
    outside 1..total, raise CallbackError.
    """
    hex_udh = hex_udh.strip()
    if not hex_udh:
        return None
    if not _HEX_RE.fullmatch(hex_udh):
        raise CallbackError("udh must be an even number of hex digits")
    data = bytes.fromhex(hex_udh)
    if data[0] != len(data) - 1:
        raise CallbackError(f"udh length byte says {data[0]}, but {len(data) - 1} bytes follow")
    found: Concatenation | None = None
    position = 1
    while position < len(data):
        if position + 2 > len(data):
            raise CallbackError("udh ends inside an element header")
        iei, length = data[position], data[position + 1]
        body = data[position + 2 : position + 2 + length]
        if len(body) != length:
            raise CallbackError(f"udh element {iei:02X} is cut short")
        if iei in (0x00, 0x08):
            found = _concatenation(iei, body)
        position += 2 + length
    return found


def concatenation_udh(reference: int, total: int, sequence: int) -> str:
    """The inverse of `parse_udh`, for the sandbox: the hex header of part `sequence` of
    `total` with an 8-bit reference (`05 00 03 ref total seq`)."""
    return f"050003{reference:02X}{total:02X}{sequence:02X}"


def _concatenation(iei: int, body: bytes) -> Concatenation:
    expected = 3 if iei == 0x00 else 4
    if len(body) != expected:
        raise CallbackError(f"udh concatenation element {iei:02X} must hold {expected} bytes")
    reference = body[0] if iei == 0x00 else int.from_bytes(body[:2], "big")
    total, sequence = body[-2], body[-1]
    if total == 0 or not 1 <= sequence <= total:
        raise CallbackError(f"udh says part {sequence} of {total}")
    return Concatenation(reference=reference, total=total, sequence=sequence)
