"""The parameters of `sendmsg` and `startbatch` (protocol reference §4), checked before any call.

Everything a person or a caller can get wrong (an unknown parameter, a value out of range, a
scheduled time in the past or over 7 days ahead, a bad sender ID) is a `Refused` naming the
problem, so it costs no round trip and no `ERR: 101`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.gateway.clickatell_http.wire import Pairs
from bot.sms.encoding import EncodedText
from bot.sms.identifiers import validate_sender
from bot.sms.refusals import Refused

MAX_SCHEDULE = timedelta(days=7)

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_MSG_TYPE = re.compile(r"[A-Z0-9_]{1,32}")


@dataclass(frozen=True)
class _Param:
    check: Callable[[str], bool]
    rule: str


def _int_in(low: int, high: int) -> Callable[[str], bool]:
    # isascii: str.isdigit() also accepts digits of other scripts, which the gateway does not.
    return lambda value: value.isascii() and value.isdigit() and low <= int(value) <= high


# §4 parameters passed through **params (to, text, from, climsgid, scheduled_time, deliv_time,
# unicode and concat have their own arguments or are set by the client).
SEND_PARAMS: dict[str, _Param] = {
    "mo": _Param(_int_in(0, 1), "0 or 1"),
    "callback": _Param(_int_in(0, 7), "0 to 7"),
    "deliv_ack": _Param(_int_in(0, 1), "0 or 1"),
    "max_credits": _Param(
        lambda v: v in {"0.8", "1", "1.5", "2", "2.5", "3"}, "0.8, 1, 1.5, 2, 2.5 or 3"
    ),
    "req_feat": _Param(_int_in(0, 65535), "a feature bit mask (0 to 65535)"),
    "queue": _Param(_int_in(1, 3), "1, 2 or 3"),
    "escalate": _Param(_int_in(0, 1), "0 or 1"),
    "validity": _Param(_int_in(1, 1440), "minutes from 1 to 1440"),
    "msg_type": _Param(lambda v: bool(_MSG_TYPE.fullmatch(v)), "a type such as SMS_TEXT"),
    "udh": _Param(lambda v: bool(_HEX.fullmatch(v)), "hex bytes"),
    "data": _Param(lambda v: bool(_HEX.fullmatch(v)), "hex bytes"),
    "binary": _Param(lambda v: bool(_HEX.fullmatch(v)), "hex bytes"),
}


def _param_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def validate_params(params: Mapping[str, object]) -> Pairs:
    """The optional §4 parameters as wire pairs; Refused names the first bad one."""
    pairs: Pairs = []
    for name, value in params.items():
        spec = SEND_PARAMS.get(name)
        if spec is None:
            known = ", ".join(SEND_PARAMS)
            raise Refused(f"Unknown sendmsg parameter {name!r}; known: {known}.")
        if value is None:
            continue
        text = _param_text(value)
        if not spec.check(text):
            raise Refused(f"Parameter {name}={text!r} is invalid: it must be {spec.rule}.")
        pairs.append((name, text))
    return pairs


@dataclass(frozen=True)
class SendDefaults:
    """What every send carries unless the call says otherwise: the callback level (7: every
    status change) and the account's sender ID (with `mo=1`, so replies come back)."""

    callback: int
    sender: str | None


@dataclass(frozen=True)
class Timing:
    """When to deliver: at `scheduled_time` or after `deliv_time` minutes (never both); `now`
    is the wall clock in Unix seconds."""

    scheduled_time: datetime | int | None
    deliv_time: int | None
    now: Callable[[], float]


def send_pairs(
    encoded: EncodedText,
    sender: str | None,
    timing: Timing,
    params: Mapping[str, object],
    defaults: SendDefaults,
) -> Pairs:
    """The text, its encoding and parts, the sender, the timing and the extra parameters
    (checked in that order, so the first problem named is the same as ever)."""
    extra = validate_params(params)
    given = {name for name, _ in extra}
    pairs: Pairs = [
        ("text", encoded.text),
        ("unicode", "1" if encoded.unicode else "0"),
        ("concat", str(encoded.parts)),
    ]
    if "callback" not in given:
        pairs.append(("callback", str(defaults.callback)))
    sender = sender or defaults.sender
    if sender:
        pairs.append(("from", validate_sender(sender)))
        if "mo" not in given:
            pairs.append(("mo", "1"))
    return pairs + timing_pairs(timing) + extra


def timing_pairs(timing: Timing) -> Pairs:
    """`scheduled_time` (a future moment, at most 7 days ahead) or `deliv_time` (a delay in
    minutes), never both; the clock is read only when a time is given."""
    scheduled_time, deliv_time = timing.scheduled_time, timing.deliv_time
    if scheduled_time is not None and deliv_time is not None:
        raise Refused("Give either a scheduled time or a delivery delay, not both.")
    if deliv_time is not None:
        minutes = _param_text(deliv_time)
        if not _int_in(1, 10080)(minutes):
            raise Refused(f"Delivery delay {deliv_time} must be 1 to 10080 minutes (7 days).")
        return [("deliv_time", str(int(minutes)))]
    if scheduled_time is None:
        return []
    seconds = _unix_seconds(scheduled_time)
    current = timing.now()
    if seconds <= current:
        raise Refused("The scheduled time is in the past; give a future time.")
    if seconds - current > MAX_SCHEDULE.total_seconds():
        raise Refused("The scheduled time is more than 7 days ahead; the gateway allows 7.")
    return [("scheduled_time", str(seconds))]


def _unix_seconds(moment: datetime | int) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise Refused("The scheduled time needs a time zone (use UTC).")
        return int(moment.timestamp())
    if isinstance(moment, int) and not isinstance(moment, bool):
        return moment
    raise Refused("The scheduled time must be a datetime or Unix seconds.")
