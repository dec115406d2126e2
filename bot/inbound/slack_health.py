"""What is known of Slack from here: whether it answers, and which channels refuse our posts.

The outbox reports every Slack answer: a network error or a 5xx makes Slack *unreachable* until
a call succeeds again; a post refused with `not_in_channel`, `is_archived` or
`channel_not_found` marks the channel *closed* (stored, so every replica's /healthz sees it and a
restart remembers it) until a post there succeeds. Start-up asks conversations.info about
SMS_CHANNEL and logs one line saying what to do when it cannot be posted in. Neither state fails
the health probe: posts wait in the outbox, nothing is lost (product.md §3, §6).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.errors import error_code
from bot.storage import Storage, StorageError

log = logging.getLogger(__name__)

CHANNEL_CLOSED = frozenset({"not_in_channel", "is_archived", "channel_not_found"})
_CLOSED_KEY = "slack.closed_channels"

WHAT_TO_DO = {
    "not_in_channel": "the bot is not a member: invite it with /invite @sms-bot in that channel",
    "is_archived": "the channel is archived: unarchive it, or set SMS_CHANNEL to another channel",
    "channel_not_found": (
        "the bot cannot see the channel: check SMS_CHANNEL, and invite the bot if it is private"
    ),
}


def channel_advice(channel: str, error: str) -> str:
    what = WHAT_TO_DO.get(error, error)
    return (
        f"Slack channel {channel} cannot be posted in ({error}): {what}. Its messages (inbound "
        "SMS too) wait in the database (see /sms log) and are posted when it works again."
    )


class SlackHealth:
    def __init__(self, storage: Storage, clock: Callable[[], datetime]) -> None:
        self.storage = storage
        self.clock = clock
        self._lock = threading.Lock()
        self._unreachable: str | None = None  # why, while Slack does not answer
        # Channels known closed (saves a read per post); starts from what was stored.
        self._closed_here: set[str] = set(self._closed_channels())

    # ---- what the outbox learns

    def answered(self) -> None:
        with self._lock:
            was, self._unreachable = self._unreachable, None
        if was is not None:
            log.info("Slack answers again")

    def unreachable(self, reason: str) -> None:
        with self._lock:
            was, self._unreachable = self._unreachable, reason
        if was is None:
            log.warning("Slack is unreachable (%s); posts wait in the outbox", reason)

    def closed(self, channel: str, error: str) -> None:
        """A post in `channel` was refused with one of CHANNEL_CLOSED."""
        with self._lock:
            known = channel in self._closed_here
            self._closed_here.add(channel)
        closed = self._closed_channels()
        if known and closed.get(channel, {}).get("error") == error:
            return
        closed[channel] = {"error": error, "since": self.clock().isoformat()}
        self._save(closed)
        log.warning(channel_advice(channel, error))

    def posted(self, channel: str) -> None:
        """A post in `channel` succeeded: it is open (cheap unless it was closed)."""
        with self._lock:
            if channel not in self._closed_here:
                return
            self._closed_here.discard(channel)
        closed = self._closed_channels()
        if closed.pop(channel, None) is not None:
            self._save(closed)
            log.info("posting in %s works again; waiting messages follow", channel)

    # ---- start-up

    def check_channel(self, slack: WebClient, channel: str) -> None:
        """Ask Slack whether `channel` can be posted in; one log line when it cannot."""
        if not channel:
            return
        try:
            info = slack.conversations_info(channel=channel).get("channel") or {}
        except SlackApiError as error:
            code = error_code(error)
            if code in CHANNEL_CLOSED:
                self.closed(channel, code)
            else:
                log.warning("SMS_CHANNEL %s could not be checked: %s", channel, code)
            return
        except (SlackClientError, OSError) as error:
            self.unreachable(str(error))
            return
        self.answered()
        if info.get("is_archived"):
            self.closed(channel, "is_archived")
        elif info.get("is_private") and info.get("is_member") is False:
            self.closed(channel, "not_in_channel")
        else:  # a public channel needs no membership: chat:write.public posts there
            self.posted(channel)

    # ---- /healthz

    def report(self, read_storage: bool = True) -> dict[str, object]:
        """For /healthz. `read_storage` False (the database is not answering): from what this
        process knows, so the probe never waits on the database."""
        with self._lock:
            unreachable = self._unreachable
            known = set(self._closed_here)
        details: dict[str, object] = {
            "slack": "ok" if unreachable is None else f"unreachable ({unreachable})"
        }
        if not read_storage:
            if known:
                details["channels_not_postable"] = {c: "not postable" for c in sorted(known)}
            return details
        closed = self._closed_channels()
        if closed:
            details["channels_not_postable"] = {c: v["error"] for c, v in closed.items()}
        return details

    def _closed_channels(self) -> dict[str, dict[str, str]]:
        try:
            raw = self.storage.values.get(_CLOSED_KEY)
        except StorageError:
            return {}
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, closed: dict[str, dict[str, str]]) -> None:
        try:
            if closed:
                self.storage.values.set(_CLOSED_KEY, json.dumps(closed))
            else:
                self.storage.values.delete(_CLOSED_KEY)
        except StorageError as error:
            log.warning("could not record the channel's state: %s", error)
