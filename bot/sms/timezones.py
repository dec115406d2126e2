"""A phone number's time zones, from its country code and prefix (`phonenumbers.timezone`).

Quiet hours are kept in the recipient's own time; `phonenumbers` maps a number to the zones its
prefix is used in (one for most countries; several for a country such as the US when the area
code does not tell). A number it cannot place gets UTC, so quiet hours still mean something.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

UNKNOWN_ZONE = "Etc/Unknown"


@lru_cache(maxsize=16384)
def zones_for(msisdn: str) -> tuple[ZoneInfo, ...]:
    """The time zones of a normalised number (international digits, no +); UTC when unknown."""
    try:
        number = phonenumbers.parse("+" + msisdn)
        names = number_zones.time_zones_for_number(number)
    except phonenumbers.NumberParseException:
        names = ()
    zones = []
    for name in names:
        if name == UNKNOWN_ZONE:
            continue
        try:
            zones.append(_zone(name))
        except ZoneInfoNotFoundError:
            continue
    return tuple(zones) or (_zone("UTC"),)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
