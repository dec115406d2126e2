"""Quiet hours (product.md §2 SMS_QUIET_HOURS): no bulk or scheduled SMS while it is that time
where the recipient is.

`HH:MM-HH:MM` in the recipient's own time zone; a window may wrap midnight (`21:00-08:00`). A
message due inside the window is held until the window ends there. A number whose country spans
several time zones (and whose prefix does not narrow it down) is treated carefully: it is quiet
when it is quiet in any of its zones, and held until the window has ended in all of them.

Plain rules on plain values: the caller finds the zones (bot.sms.timezones).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo

_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


class BadQuietHours(ValueError):
    pass


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """`21:00-08:00` -> QuietHours; BadQuietHours saying what is wrong."""
        match = _WINDOW.fullmatch(text)
        if match is None:
            raise BadQuietHours("must be a window such as 21:00-08:00 (HH:MM-HH:MM)")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise BadQuietHours("must use times from 00:00 to 23:59, such as 21:00-08:00")
        if (h1, m1) == (h2, m2):
            raise BadQuietHours("must have different start and end times, such as 21:00-08:00")
        return cls(time(h1, m1), time(h2, m2))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def _quiet_at(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end  # wraps midnight

    def ends_after(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """When the window that `moment` falls in ends in `zone` (UTC); None when not quiet."""
        local = moment.astimezone(zone)
        if not self._quiet_at(local.time().replace(tzinfo=None)):
            return None
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end.astimezone(UTC)

    def held_until(self, moment: datetime, zones: Sequence[tzinfo]) -> datetime | None:
        """When a message due at `moment` to a number in `zones` may go (None: now)."""
        held = None
        for _ in range(len(zones) + 1):  # another zone's window may begin as one's ends
            ends = [end for zone in zones if (end := self.ends_after(moment, zone)) is not None]
            if not ends:
                return held
            held = moment = max(ends)
        return held
