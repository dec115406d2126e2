"""The phone's side: what happens to a message after the gateway accepts it (product.md §7).

Any valid number receives its message: 003 (delivered to gateway) at once, 004 (received) about a
second later. The magic numbers below behave as the product specification says, in both API
generations, so every flow can be tried without an account. Plans are plain data (offsets in
seconds, legacy status codes: the Platform mode translates them) so the scheduler can run them on
any clock and the state file can hold them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers

from bot.gateway.clickatell_http.callbacks import concatenation_udh
from bot.sms.encoding import split_parts

from .text import mo_charset

NUMBER_STAYS_AT_GATEWAY = "27825550100"  # 003 and never received
NUMBER_DELIVERY_FAILS = "27825550101"  # 003, then 007
NUMBER_UNROUTABLE = "27825550102"  # sendmsg: ERR 114; coverage: not supported
NUMBER_ECHOES = "27825550103"  # received, then replies "Got it: " + first 40 characters
NUMBER_REPLIES_UNICODE = "27825550104"  # received, then a three-part Unicode reply, out of order
NUMBER_OPTS_OUT = "27825550105"  # received, then replies "STOP"
NUMBER_OPTED_OUT_AT_GATEWAY = "27825550106"  # refused: opted out (legacy 122, One API 26)
NUMBER_NEVER_REPORTS = "27825550107"  # accepted, then nothing: no status ever arrives
MAGIC_NUMBERS = frozenset(
    {
        NUMBER_STAYS_AT_GATEWAY,
        NUMBER_DELIVERY_FAILS,
        NUMBER_UNROUTABLE,
        NUMBER_ECHOES,
        NUMBER_REPLIES_UNICODE,
        NUMBER_OPTS_OUT,
        NUMBER_OPTED_OUT_AT_GATEWAY,
        NUMBER_NEVER_REPORTS,
    }
)

# Where phones reply when the message's sender is not a number they can answer (no `from`, or an
# alphanumeric sender ID): the sandbox account's two-way number.
SANDBOX_TWO_WAY_NUMBER = "27825550199"

RECEIPT_DELAY = 1.0  # seconds from 003 to 004 (or 007)
REPLY_DELAY = 1.0  # seconds from 004 to the phone's reply
ECHO_PREFIX = "Got it: "
ECHO_LENGTH = 40
OPT_OUT_TEXT = "STOP"
UNICODE_REPLY_TEXT = (
    "Спасибо за сообщение! Это длинный ответ из песочницы Clickatell, отправленный тремя "
    "частями в кодировке UCS-2. Части приходят не по порядку, а бот должен собрать их вместе. "
    "До свидания! 📱✅"
)
UNICODE_REPLY_ORDER = (3, 1, 2)  # sequence numbers in the order the parts are sent


@dataclass(frozen=True)
class ReplyPart:
    text: str
    udh: str  # hex `050003<ref><total><seq>`; empty for a single-part reply


@dataclass(frozen=True)
class Reply:
    offset: float  # seconds after the message is handed on
    charset: str  # ISO-8859-1 or UTF-16BE, for the whole reply
    parts: tuple[ReplyPart, ...]  # in the order they are sent


@dataclass(frozen=True)
class Plan:
    statuses: tuple[tuple[float, str], ...]  # (seconds after hand-on, status)
    reply: Reply | None


@functools.lru_cache(maxsize=65536)
def is_valid_number(number: str) -> bool:
    """Digits only, international, no `+` or `00`, and a possible number for its country.

    Built from the country code directly rather than with `phonenumbers.parse`, which costs
    several times more; a 300-recipient sendmsg checks 300 numbers while holding the lock.
    """
    if not (number.isascii() and number.isdigit()) or number.startswith("0"):
        return False
    for length in (1, 2, 3):
        country_code = int(number[:length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return False
    national = number[length:]
    if not national:
        return False
    zeros = len(national) - len(national.lstrip("0"))
    parsed = phonenumbers.PhoneNumber(
        country_code=country_code,
        national_number=int(national),
        italian_leading_zero=zeros > 0 or None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )
    return phonenumbers.is_possible_number(parsed)


def is_routable(number: str) -> bool:
    return number != NUMBER_UNROUTABLE


def has_opted_out(number: str) -> bool:
    """The recipient opted out with the gateway: every send to it is refused."""
    return number == NUMBER_OPTED_OUT_AT_GATEWAY


def _concatenated(
    text: str, reference: int, order: tuple[int, ...] | None = None, *, whole: bool = False
) -> Reply:
    """The phone's reply in parts with concatenation headers (legacy MO callbacks), or `whole`
    as one callback (the Portal delivers long replies reassembled)."""
    pieces = [text] if whole else split_parts(text)
    total = len(pieces)
    parts = [
        ReplyPart(piece, concatenation_udh(reference, total, seq) if total > 1 else "")
        for seq, piece in enumerate(pieces, start=1)
    ]
    if order is not None and sorted(order) == list(range(1, total + 1)):
        parts = [parts[seq - 1] for seq in order]
    return Reply(RECEIPT_DELAY + REPLY_DELAY, mo_charset(text), tuple(parts))


def echo_text(text: str) -> str:
    return ECHO_PREFIX + text[:ECHO_LENGTH]


def plan_for(
    number: str, text: str, validity_minutes: int | None, reference: int, *, whole: bool = False
) -> Plan:
    """What the network and the phone do with an accepted message. `reference` is the 8-bit
    concatenation reference for a multi-part reply; `whole` sends a long reply as one callback
    (Platform mode)."""
    received = ((0.0, "003"), (RECEIPT_DELAY, "004"))
    if number == NUMBER_NEVER_REPORTS:
        return Plan((), None)
    if number == NUMBER_STAYS_AT_GATEWAY:
        # Never received; with a validity period it expires instead (§4 `validity`).
        expiry = ((validity_minutes * 60.0, "010"),) if validity_minutes else ()
        return Plan(((0.0, "003"), *expiry), None)
    if number == NUMBER_DELIVERY_FAILS:
        return Plan(((0.0, "003"), (RECEIPT_DELAY, "007")), None)
    if number == NUMBER_ECHOES:
        return Plan(received, _concatenated(echo_text(text), reference, whole=whole))
    if number == NUMBER_REPLIES_UNICODE:
        reply = _concatenated(UNICODE_REPLY_TEXT, reference, UNICODE_REPLY_ORDER, whole=whole)
        return Plan(received, reply)
    if number == NUMBER_OPTS_OUT:
        return Plan(received, _concatenated(OPT_OUT_TEXT, reference, whole=whole))
    return Plan(received, None)
