"""`--at WHEN`: the moment a person means, read in their own time zone (product.md §5).

WHEN is one of
* a delay: `+30m`, `+2h`, `+1d`, or several units in that order (`+1h30m`, `+1d2h`, `+90m`);
* a clock time `HH:MM`: its next occurrence in the person's time zone (their Slack profile's
  `tz`; the machine's zone on the command line), UTC when the zone is not known;
* an ISO 8601 time: with `Z` or an offset it is that moment; without one it is a wall-clock time
  in the person's zone (refused when the zone is not known, since it could be any moment).

The result is an aware UTC datetime in the future and at most 7 days ahead (the gateway's limit).
Pure: the caller passes the zone, so the grammar never asks Slack or the system itself.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_SCHEDULE = timedelta(days=7)

_DELAY = re.compile(r"\+(?:(\d{1,2})d)?(?:(\d{1,3})h)?(?:(\d{1,5})m)?", re.IGNORECASE)
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
FORMS = "+30m, +2h, +1h30m, +1d, HH:MM (your time zone) or an ISO time such as 2025-01-31T09:00Z"


def parse_when(raw: str, now: datetime, zone: tzinfo | None = None) -> datetime:
    """`raw` as an aware UTC datetime after `now` and at most 7 days ahead; ValueError (with
    what to write instead) otherwise. `zone` is the person's time zone (None: unknown)."""
    now = now.astimezone(UTC)
    text = raw.strip()
    if (match := _DELAY.fullmatch(text)) and any(match.groups()):
        days, hours, minutes = (int(group or 0) for group in match.groups())
        at = now + timedelta(days=days, hours=hours, minutes=minutes)
    elif match := _CLOCK.fullmatch(text):
        at = _next_clock_time(int(match.group(1)), int(match.group(2)), now, zone or UTC)
    else:
        at = _iso(text, zone)
    if at <= now:
        raise ValueError(f"--at {raw!r} is in the past; give a future time")
    if at - now > MAX_SCHEDULE:
        raise ValueError(f"--at {raw!r} is more than 7 days ahead; the gateway allows at most 7")
    return at


def zone_matters(raw: str) -> bool:
    """Whether reading `raw` needs the person's time zone (a clock time or an ISO time without
    an offset), so a caller can skip looking it up for a delay."""
    text = raw.strip()
    return bool(text) and not text.startswith("+") and ":" in text


def _next_clock_time(hour: int, minute: int, now: datetime, zone: tzinfo) -> datetime:
    """The next `hour:minute` on the wall clock of `zone` after `now` (today or tomorrow)."""
    local = now.astimezone(zone)
    for day in (local.date(), local.date() + timedelta(days=1)):
        at = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if at > now:
            return at
    return at  # unreachable: tomorrow's is always later


def _iso(text: str, zone: tzinfo | None) -> datetime:
    try:
        at = datetime.fromisoformat(text)
        if at.tzinfo is None and zone is not None:
            at = at.replace(tzinfo=zone)
        if at.tzinfo is not None:
            at = at.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"--at {text!r} is not a time: use {FORMS}") from None
    if at.tzinfo is None:
        raise ValueError(f"--at {text!r} has no time zone: add Z (UTC) or an offset like +02:00")
    return at


def zone_named(name: str | None) -> tzinfo | None:
    """The IANA zone `name` (Slack's `tz`, e.g. "Africa/Johannesburg"); None if unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_zone(environ: dict[str, str] | None = None) -> tzinfo:
    """The machine's time zone for the command line: `TZ` when it names a zone, else the zone
    /etc/localtime links to, else the current fixed offset (right until the next DST change)."""
    env = os.environ if environ is None else environ
    named = zone_named((env.get("TZ") or "").removeprefix(":"))
    if named is not None:
        return named
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        named = zone_named(target.split("zoneinfo/", 1)[1])
        if named is not None:
            return named
    return datetime.now().astimezone().tzinfo or UTC
