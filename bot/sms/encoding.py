"""Text encoding for SMS: GSM 03.38 or UCS-2, and SMS parts (clickatell-http.md §5).

Without `unicode=1` the legacy gateway reads `text` as ISO-8859-1 bytes and delivers it in the
GSM 03.38 7-bit alphabet. A character is therefore sent plain only when it survives both steps:
it is in GSM 03.38 (basic or extension table) *and* in Latin-1. `€` and the Greek capitals are
GSM but not Latin-1, and `á` is Latin-1 but not GSM; either would arrive as something else, so
any such character sends the whole text as UCS-2 (`unicode=1`, UTF-16BE code units as hex).

Lengths are counted in the unit the phone network counts: septets for GSM (extension characters
take two: an escape plus the character) and UTF-16 code units for UCS-2 (characters outside the
BMP take two: a surrogate pair). A single SMS holds 160 septets or 70 units; a concatenated part
holds 153 or 67, because the concatenation header takes the rest. Neither an escape pair nor a
surrogate pair may be cut between parts, so a part can end up one short of its limit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from bot.sms.refusals import Refused

Encoding = Literal["gsm7", "ucs2"]


class TextTooLong(Refused):
    """The text needs more SMS parts than the configured limit (SMS_MAX_PARTS) allows."""

    def __init__(self, length: int, parts: int, max_parts: int, encoding: Encoding):
        self.length, self.parts, self.max_parts, self.encoding = length, parts, max_parts, encoding
        unit = "GSM characters" if encoding == "gsm7" else "UCS-2 characters"
        super().__init__(
            f"The text is {length} {unit} and needs {parts} parts; the limit is {max_parts} "
            f"part{'s' if max_parts != 1 else ''}. Shorten it or raise SMS_MAX_PARTS."
        )


@dataclass(frozen=True)
class EncodedText:
    """Text encoded and measured: `text` is Latin-1 bytes for gsm7 or the UTF-16BE hex string
    for ucs2 (the two forms SMS gateways take), `unicode` whether it is UCS-2, `length` in GSM
    septets or UCS-2 units, `parts` the number of SMS parts."""

    encoding: Encoding
    text: bytes | str
    unicode: bool
    length: int
    parts: int


# GSM 03.38 basic character set, in code order 0x00-0x7F (3GPP TS 23.038 §6.2.1). 0x1B is the
# escape to the extension table, not a character; it is written here as a placeholder that is
# removed below so the table keeps its 128 positions and stays checkable against the standard.
_ESC = "\x1b"
GSM_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" + _ESC + "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# GSM 03.38 extension table (3GPP TS 23.038 §6.2.1.1): character -> code after the escape.
GSM_EXTENSION_TABLE: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

GSM_BASIC: frozenset[str] = frozenset(GSM_BASIC_TABLE) - {_ESC}
GSM_EXTENSION: frozenset[str] = frozenset(GSM_EXTENSION_TABLE)


def _latin1(char: str) -> bool:
    return ord(char) <= 0xFF


# Characters that may be sent without unicode=1: GSM and Latin-1 both (see module docstring).
PLAIN_CHARACTERS: frozenset[str] = frozenset(c for c in GSM_BASIC | GSM_EXTENSION if _latin1(c))


@dataclass(frozen=True)
class PartLimits:
    """Capacity of one SMS in an encoding's unit: alone, and as a part of a concatenated one."""

    single: int
    multi: int


LIMITS: dict[Encoding, PartLimits] = {
    "gsm7": PartLimits(single=160, multi=153),
    "ucs2": PartLimits(single=70, multi=67),
}

_HEX_UNITS = re.compile(rb"(?:[0-9A-Fa-f]{4})*")


def _character_class(characters: frozenset[str], negate: bool = False) -> re.Pattern[str]:
    escaped = "".join(re.escape(c) for c in sorted(characters))
    return re.compile(f"[{'^' if negate else ''}{escaped}]")


# The scans below run in the regex engine: a message is checked in a few microseconds instead
# of one Python step per character (this sits on every send, in the client and the sandbox).
_NOT_PLAIN = _character_class(PLAIN_CHARACTERS, negate=True)
# Characters that take two units: a GSM extension character (escape + code) and, in UCS-2, a
# character outside the Basic Multilingual Plane (a surrogate pair).
_DOUBLE_UNIT: dict[Encoding, re.Pattern[str]] = {
    "gsm7": _character_class(GSM_EXTENSION),
    "ucs2": re.compile("[\U00010000-\U0010ffff]"),
}


def choose_encoding(text: str) -> Encoding:
    """gsm7 when every character arrives unchanged through Latin-1 and GSM 03.38, else ucs2."""
    return "gsm7" if _NOT_PLAIN.search(text) is None else "ucs2"


def _cost(char: str, encoding: Encoding) -> int:
    """Units one character takes: 2 for a GSM extension character or a non-BMP character."""
    if encoding == "gsm7":
        return 2 if char in GSM_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _doubles(text: str, encoding: Encoding) -> int:
    """How many characters of `text` take two units."""
    return len(_DOUBLE_UNIT[encoding].findall(text))


def text_length(text: str, encoding: Encoding) -> int:
    """Length in septets (gsm7) or UTF-16 code units (ucs2)."""
    return len(text) + _doubles(text, encoding)


def _split(text: str, encoding: Encoding) -> list[str]:
    """Cut greedily into parts. Python strings iterate whole characters, so an escape pair or a
    surrogate pair is a single step here and can never be cut in two."""
    limits = LIMITS[encoding]
    if not text:
        return []
    doubles = _doubles(text, encoding)
    if len(text) + doubles <= limits.single:
        return [text]
    if not doubles:  # one unit per character: the greedy cut is every `multi` characters
        return [text[i : i + limits.multi] for i in range(0, len(text), limits.multi)]
    parts: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(text):
        cost = _cost(char, encoding)
        if used + cost > limits.multi:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts


def split_parts(text: str) -> list[str]:
    """The text cut into the SMS parts the network will carry (empty text has no parts)."""
    return _split(text, choose_encoding(text))


def measure(text: str) -> tuple[Encoding, int, int]:
    """(encoding, length in septets or UCS-2 units, number of parts), without any limit check."""
    encoding = choose_encoding(text)
    doubles = _doubles(text, encoding)
    length, limits = len(text) + doubles, LIMITS[encoding]
    if not text or length <= limits.single:
        return encoding, length, 1 if text else 0
    if not doubles:  # the cut is every `multi` characters (see _split)
        return encoding, length, math.ceil(length / limits.multi)
    return encoding, length, len(_split(text, encoding))


def _ucs2_hex(text: str) -> str:
    try:
        data = text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        # Only a lone surrogate (e.g. from undecodable command-line bytes) gets here.
        bad = text[exc.start]
        raise Refused(
            f"The message contains an invalid character (U+{ord(bad):04X}); "
            "retype the text and send it again."
        ) from None
    return data.hex().upper()


def encode_text(text: str, max_parts: int | None = None) -> EncodedText:
    """Encode text for sending, choosing the encoding.

    Refuses an empty (or whitespace-only) text, which the gateway would reject with 107, and a
    text needing more than `max_parts` parts, which it would reject with 113 — both before any
    call, so the user learns why straight away.
    """
    if not text.strip():
        raise Refused("The message is empty: type some text to send.")
    if max_parts is not None and max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, not {max_parts}")
    encoding, length, parts = measure(text)
    if max_parts is not None and parts > max_parts:
        raise TextTooLong(length, parts, max_parts, encoding)
    if encoding == "gsm7":
        return EncodedText("gsm7", text.encode("latin-1"), False, length, parts)
    return EncodedText("ucs2", _ucs2_hex(text), True, length, parts)


def decode_sendmsg_text(raw: bytes, unicode: bool) -> str:
    """What the gateway reads from a `text` parameter (the sandbox's side of `encode_text`).

    Plain text is Latin-1 bytes, so every byte decodes. Unicode text must be whole UTF-16BE code
    units in hex with no lone surrogates; anything else raises ValueError, for which the real
    gateway answers `ERR: 116, Invalid Unicode data`.
    """
    if not unicode:
        return raw.decode("latin-1")
    if len(raw) % 4:
        raise ValueError(f"UCS-2 text must be 4 hex digits per unit; got {len(raw)} digits")
    if not _HEX_UNITS.fullmatch(raw):
        raise ValueError("UCS-2 text must contain only hex digits")
    try:
        return bytes.fromhex(raw.decode("ascii")).decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"UCS-2 text has a broken surrogate pair at unit {exc.start // 2}"
        ) from None
