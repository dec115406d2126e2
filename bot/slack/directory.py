"""Names of people and channels, looked up with the Web API and remembered for a while.

A thread reply `ask <@U0ALICE>` should reach the phone as "ask Alice Example": the relay needs the
person's name, and `users.info` is a rate-limited call. Names change rarely, so each is kept for
`ttl` seconds in a bounded map (a long-running process must not grow with every ID it sees). A
failed lookup counts as unknown: the text then keeps Slack's own label or the ID, never lost.

The same `users.info` answer gives the person's time zone (`tz`), so `--at 14:00` can mean 14:00
where they are: one call per person serves both.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.slack.references import SlackNames

log = logging.getLogger(__name__)

NAME_TTL = 3600.0
MAX_NAMES = 2048


@dataclass(frozen=True)
class _Person:
    name: str | None
    time_zone: str | None  # IANA name, e.g. "Africa/Johannesburg"


class SlackDirectory:
    def __init__(
        self,
        client: WebClient,
        *,
        ttl: float = NAME_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_names: int = MAX_NAMES,
    ) -> None:
        self._client = client
        self._ttl, self._clock, self._max = ttl, clock, max_names
        self._known: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def names(self) -> SlackNames:
        return SlackNames(user=self.user_name, channel=self.channel_name)

    def user_name(self, user_id: str) -> str | None:
        """The name people see (display name, else real name), or None."""
        person = self._cached(f"user:{user_id}", lambda: self._user(user_id))
        return person.name if isinstance(person, _Person) else None

    def time_zone(self, user_id: str) -> str | None:
        """The person's time zone from their Slack profile (`tz`), or None."""
        person = self._cached(f"user:{user_id}", lambda: self._user(user_id))
        return person.time_zone if isinstance(person, _Person) else None

    def channel_name(self, channel_id: str) -> str | None:
        name = self._cached(f"channel:{channel_id}", lambda: self._channel(channel_id))
        return name if isinstance(name, str) else None

    def _user(self, user_id: str) -> _Person:
        user = self._client.users_info(user=user_id).get("user") or {}
        profile = user.get("profile") or {}
        zone = user.get("tz")
        zone = zone if isinstance(zone, str) and zone else None
        for name in (profile.get("display_name"), profile.get("real_name"), user.get("name")):
            if isinstance(name, str) and name.strip():
                return _Person(name.strip(), zone)
        return _Person(None, zone)

    def _channel(self, channel_id: str) -> str | None:
        channel = self._client.conversations_info(channel=channel_id).get("channel") or {}
        name = channel.get("name")
        return name if isinstance(name, str) and name else None

    def _cached(self, key: str, look_up: Callable[[], object]) -> object:
        now = self._clock()
        with self._lock:
            found = self._known.get(key)
            if found is not None and now - found[0] < self._ttl:
                return found[1]
        try:
            name = look_up()
        except (SlackClientError, OSError) as error:
            log.info("could not look up %s: %s", key, error)
            return None  # not remembered: the next reply asks again
        with self._lock:
            self._known[key] = (now, name)
            self._known.move_to_end(key)
            while len(self._known) > self._max:
                self._known.popitem(last=False)
        return name
