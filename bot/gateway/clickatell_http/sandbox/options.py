"""The `sendmsg` parameters besides `to` and `text` (protocol reference §4), checked the way the
gateway checks them, each bad value answered with the code a real server gives for it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from .params import Params
from .wire import WireError

MAX_DELAY_MINUTES = 10080  # deliv_time: at most 7 days
MAX_SCHEDULE_AHEAD = 7 * 24 * 3600.0
MAX_CREDITS_VALUES = frozenset({0.8, 1.0, 1.5, 2.0, 2.5, 3.0})
MESSAGE_TYPES = frozenset(
    {
        "SMS_TEXT",
        "SMS_FLASH",
        "SMS_NOKIA_OLOGO",
        "SMS_NOKIA_GLOGO",
        "SMS_NOKIA_PICTURE",
        "SMS_NOKIA_RINGTONE",
        "SMS_NOKIA_RTTL",
        "SMS_NOKIA_CLEAN",
        "SMS_NOKIA_VCARD",
        "SMS_NOKIA_VCAL",
    }
)

_NUMERIC_SENDER = re.compile(r"[0-9]{1,16}")
_ALPHA_SENDER = re.compile(r"[A-Za-z0-9 ]{1,11}")
_CLIMSGID = re.compile(r"[A-Za-z0-9]{1,32}")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


@dataclass(frozen=True)
class MessageOptions:
    sender: str | None
    callback: int  # 0-7, which statuses are reported
    concat: int  # most parts allowed (1 when absent)
    unicode: bool
    climsgid: str | None
    hand_on: float | None  # when a scheduled or delayed message goes out; None: now
    max_credits: float | None
    validity: int | None  # minutes
    udh: bytes
    data: bytes | None  # a raw 8-bit body instead of text


def _integer(
    params: Params, name: str, low: int, high: int | None, code: str = "101"
) -> int | None:
    value = params.filled(name)
    if value is None:
        return None
    # Length first: int() refuses (with ValueError) numbers of thousands of digits.
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        raise WireError(code)
    number = int(value)
    if number < low or (high is not None and number > high):
        raise WireError(code)
    return number


def _hex(params: Params, name: str, code: str) -> bytes | None:
    value = params.filled(name)
    if value is None:
        return None
    if not _HEX.fullmatch(value):
        raise WireError(code)
    return bytes.fromhex(value)


def _sender(params: Params) -> str | None:
    sender = params.filled("from")
    if sender is None:
        return None
    if _NUMERIC_SENDER.fullmatch(sender) or _ALPHA_SENDER.fullmatch(sender):
        return sender
    raise WireError("106")


def _climsgid(params: Params) -> str | None:
    climsgid = params.filled("climsgid")
    if climsgid is not None and not _CLIMSGID.fullmatch(climsgid):
        raise WireError("101")
    return climsgid


def _udh(params: Params) -> bytes:
    udh = _hex(params, "udh", "102") or b""
    # The first byte of a user data header is the length of the rest.
    if udh and udh[0] != len(udh) - 1:
        raise WireError("102")
    return udh


def _max_credits(params: Params) -> float | None:
    value = params.filled("max_credits")
    if value is None:
        return None
    try:
        credits = float(value)
    except ValueError:
        raise WireError("101") from None
    if credits not in MAX_CREDITS_VALUES:
        raise WireError("101")
    return credits


def parse_scheduled_time(value: str) -> float:
    """Unix seconds, or an ISO 8601 time with a zone (`2024-05-01T12:00:00Z`); 120 otherwise."""
    if value.isascii() and value.isdigit():
        return float(value) if len(value) <= 15 else math.inf
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WireError("120") from None
    if moment.tzinfo is None:
        raise WireError("120")
    return moment.timestamp()


def _hand_on(params: Params, now: float) -> float | None:
    """When a held message goes out. scheduled_time wins over deliv_time when both are given.
    A time in the past (before the current second) or over 7 days ahead is 120."""
    scheduled = params.filled("scheduled_time")
    if scheduled is not None:
        at = parse_scheduled_time(scheduled)
        if at < math.floor(now) or at > now + MAX_SCHEDULE_AHEAD:
            raise WireError("120")
        return at if at > now else None
    minutes = _integer(params, "deliv_time", 0, MAX_DELAY_MINUTES, code="120")
    return now + minutes * 60.0 if minutes else None


def _validate_flags(params: Params) -> None:
    """Parameters the sandbox only checks: the gateway refuses malformed ones with 101."""
    for name in ("mo", "deliv_ack", "escalate"):
        _integer(params, name, 0, 1)
    _integer(params, "queue", 1, 3)
    _integer(params, "req_feat", 0, None)
    msg_type = params.filled("msg_type")
    if msg_type is not None and msg_type not in MESSAGE_TYPES:
        raise WireError("112")


def read_options(params: Params, now: float) -> MessageOptions:
    _validate_flags(params)
    callback = _integer(params, "callback", 0, 7)
    concat = _integer(params, "concat", 1, None)
    unicode = _integer(params, "unicode", 0, 1)
    data = _hex(params, "data", "101")
    if data is None:
        data = _hex(params, "binary", "101")
    return MessageOptions(
        sender=_sender(params),
        callback=callback or 0,
        concat=concat or 1,
        unicode=bool(unicode),
        climsgid=_climsgid(params),
        hand_on=_hand_on(params, now),
        max_credits=_max_credits(params),
        validity=_integer(params, "validity", 1, 1440),
        udh=_udh(params),
        data=data,
    )
