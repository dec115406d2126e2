"""The gateway's reading of a message body: decoding per the `unicode` flag and counting parts.

The encoder (`bot.sms.encoding`) chooses the encoding from the text; the gateway instead
obeys the flag it is given. The two agree whenever a client encodes like ours, and the helpers
here cover the cases where they do not: plain text holding Latin-1 characters GSM lacks (the
network substitutes them, one septet each), and GSM-only text sent with `unicode=1` (counted in
UCS-2 units).
"""

from __future__ import annotations

import math

from bot.sms.encoding import LIMITS, PLAIN_CHARACTERS, decode_sendmsg_text, measure, text_length

from .wire import WireError

# GSM's own question mark stands in for a character the network cannot carry.
_SUBSTITUTE = "?"

# Most parts the sandbox concatenates, whatever `concat` says: the highest value accepted by
# Clickatell accounts we know of. Anything longer fails with 113 like an over-`concat` text.
MAX_PARTS_CEILING = 35


def decode(raw: bytes, unicode: bool) -> str:
    """The text a `text` (or template/field) value carries; 116 for broken UCS-2 hex."""
    try:
        return decode_sendmsg_text(raw, unicode)
    except ValueError:
        raise WireError("116") from None


def as_delivered(text: str) -> str:
    """Plain text as the phone shows it: characters outside GSM 03.38 arrive as `?`."""
    return "".join(c if c in PLAIN_CHARACTERS else _SUBSTITUTE for c in text)


def count_parts(text: str, unicode: bool) -> int:
    """SMS parts the text takes when sent with the given flag."""
    if not unicode:
        return measure(as_delivered(text))[2]
    encoding, _, parts = measure(text)
    if encoding == "ucs2":
        return parts
    # GSM-only text has no surrogate pairs, so UCS-2 parts are a plain division.
    units, limits = text_length(text, "ucs2"), LIMITS["ucs2"]
    return 1 if units <= limits.single else math.ceil(units / limits.multi)


def binary_parts(udh: bytes, data: bytes) -> int:
    """Parts of a raw 8-bit message: 140 bytes (header included) in one SMS, else 134 data
    bytes per concatenated part (the concatenation header takes six)."""
    if len(udh) + len(data) <= 140:
        return 1
    return math.ceil(len(data) / 134)


def check_parts(parts: int, concat: int) -> None:
    """113 when the text needs more parts than `concat` allows or than the sandbox ever joins."""
    if parts > concat or parts > MAX_PARTS_CEILING:
        raise WireError("113")


def mo_charset(text: str) -> str:
    """The charset a phone's reply travels in: ISO-8859-1 when GSM carries it, else UTF-16BE."""
    return "ISO-8859-1" if measure(text)[0] == "gsm7" else "UTF-16BE"
