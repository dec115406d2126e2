"""Reading the fields of a Portal callback: text in its charset, times, IDs and numbers.

A callback's values come either from JSON (strings and numbers) or from a query string (bytes).
Both go through the same readers here, so a status posted as JSON and the same status sent by
GET decode to the same report.

Charsets (clickatell-platform.md §5): `UTF-8` (or none) is the text itself; `ISO-8859-1` and
`UTF-16BE` are the text's bytes percent-encoded, form style (`+` is a space), even inside a JSON
string. `%XX` becomes the byte straight away and the bytes are decoded once: decoding them as
UTF-8 first would turn `%00t%00e%00n%00%ED%00a` into `tenýa` instead of `tenía`. Text that does
not decode is kept as far as it goes, with a note; a callback is never refused for its text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import unquote_to_bytes

from bot.gateway.base import CallbackError

UNDECODABLE_NOTE = " […the rest could not be decoded]"
_MAX_ID = 64
_SECONDS_BELOW = 10**11  # an epoch number below this is seconds, from here on milliseconds
_PHONE = re.compile(r"\+?[0-9() .-]*[0-9][0-9() .-]*")

# charset (lower-cased, without separators) -> Python codec; anything else is read as UTF-8.
_CODECS = {
    "iso88591": "latin-1",
    "latin1": "latin-1",
    "utf16be": "utf-16-be",
    "utf16": "utf-16-be",
    "ucs2": "utf-16-be",
    "ucs2be": "utf-16-be",
}

Value = str | int | float | bytes | None
Fields = Mapping[str, object]


def percent_bytes(text: str | bytes) -> bytes:
    """Form-style percent-decoding straight to bytes: `+` is a space, `%XX` a byte, and any
    other character stands for its own UTF-8 bytes."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return unquote_to_bytes(raw.replace(b"+", b" "))


def codec_of(charset: str | None) -> str | None:
    """The Python codec for a charset that is percent-encoded on the wire; None for UTF-8."""
    if not charset:
        return None
    return _CODECS.get(re.sub(r"[^a-z0-9]", "", charset.lower()))


def decode_text(value: object, charset: str | None, *, from_query: bool) -> str:
    """A callback's `content`/`text`. From JSON the percent-encoded charsets are still encoded;
    from a query string the query's own decoding already gave the bytes."""
    codec = codec_of(charset)
    if isinstance(value, bytes):
        raw = value if from_query else percent_bytes(value)
        return _decode(raw, codec or "utf-8")
    text = "" if value is None else str(value)
    if codec is None:
        return text
    return _decode(percent_bytes(text), codec)


def _decode(raw: bytes, codec: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as error:
        # Keep what decodes up to the first broken character (an odd byte, a lone surrogate).
        start = error.start - error.start % 2 if codec == "utf-16-be" else error.start
        return raw[:start].decode(codec, errors="replace") + UNDECODABLE_NOTE


def text(fields: Fields, name: str) -> str:
    """A plain field as text ('' when absent); bytes from a query string are UTF-8."""
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CallbackError(f"field {name} must be text or a number")
    return str(value).strip()


def identifier(fields: Fields, *names: str, required: bool = True) -> str:
    """The first of `names` that is present: a message ID, printable, no spaces, bounded."""
    for name in names:
        value = text(fields, name)
        if value:
            if len(value) > _MAX_ID or not value.isprintable() or " " in value:
                raise CallbackError(f"field {name} is not a message ID")
            return value
    if required:
        raise CallbackError(f"missing field {names[0]}")
    return ""


def phone(fields: Fields, *names: str, required: bool = True) -> str:
    for name in names:
        value = text(fields, name)
        if value:
            if not _PHONE.fullmatch(value):
                raise CallbackError(f"field {name} is not a phone number: {value[:25]!r}")
            return value
    if required:
        raise CallbackError(f"missing field {names[0]}")
    return ""


def number(fields: Fields, name: str) -> int | None:
    """An integer field (JSON number or digits); None when absent."""
    value = fields.get(name)
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bool):
        raise CallbackError(f"field {name} must be a number")
    if isinstance(value, int):
        return value
    raw = text(fields, name)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise CallbackError(f"field {name} must be a whole number, not {raw[:20]!r}")
    return int(raw)


def timestamp(fields: Fields, name: str = "timestamp") -> datetime:
    """Epoch milliseconds; also seconds (below 10¹¹) and ISO 8601 (§5 Decision). Aware UTC."""
    value = fields.get(name)
    if value is None or value == "" or value == b"":
        raise CallbackError(f"missing field {name}")
    raw = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if raw is None:
        written = text(fields, name)
        if re.fullmatch(r"[0-9]{1,16}(?:\.[0-9]{1,9})?", written):
            raw = float(written)
        else:
            return _iso(written, name)
    seconds = raw if raw < _SECONDS_BELOW else raw / 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise CallbackError(f"field {name} is out of range") from None


def _iso(written: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(written.replace("Z", "+00:00"))
    except ValueError:
        raise CallbackError(f"field {name} is not a time: {written[:30]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # a time zone pushes it before year 1 or past 9999
        raise CallbackError(f"field {name} is out of range") from None


def epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
