"""Publishing the Home tab, and keeping it current while people look at it.

`HomeBoard.publish(user)` renders the person's Home (bot/usecases/home.py, bot/blocks/home.py) and
sends it with `views.publish`. A Home is published when it is opened (`app_home_opened`), and
again when what it shows changes: `changed()` is called whenever the app queues Slack work (a
card update, an inbound SMS, an opt-out note), and the board's worker republishes the Home of
everyone who opened it in the last day, at most once per `debounce` seconds however many changes
came in between. Who looked is remembered in this process only: after a restart, or on another
replica, a Home is current again the next time it is opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks.home import home_view
from bot.config import Settings
from bot.gateway.base import Gateway
from bot.slack.errors import error_code
from bot.storage import Storage
from bot.usecases.home import home_snapshot

log = logging.getLogger(__name__)

DEBOUNCE = 5.0  # seconds between two refreshes of every open Home
VIEWER_TTL = 86_400.0  # a Home opened longer ago than this is not refreshed any more
MAX_VIEWERS = 200
MAX_LINKS = 2000  # permalinks remembered (a message's address never changes)
NO_LINK = ""  # Slack said it has none (message_not_found): the built link is used instead
DEFAULT_WORKSPACE_URL = "https://slack.com/"


class HomeBoard:
    """Implements `HomePorts` for the use case: settings, storage, gateway, sandboxed."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        gateway: Gateway,
        slack: WebClient,
        *,
        sandboxed: bool,
        clock: Callable[[], datetime],
        debounce: float = DEBOUNCE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.storage, self.gateway = settings, storage, gateway
        self.sandboxed = sandboxed
        self._slack, self._clock = slack, clock
        self._debounce, self._monotonic = debounce, monotonic
        self._viewers: OrderedDict[str, float] = OrderedDict()  # user -> when they last looked
        self._dirty_since: float | None = None
        self._lock = threading.Lock()
        self._workspace_url: str | None = None
        self._links: OrderedDict[tuple[str, str], str] = OrderedDict()  # (channel, ts) -> link

    # ---- what happens

    def opened(self, user: str) -> None:
        """The person opened their Home tab: show it now and keep it current for a while."""
        with self._lock:
            self._viewers[user] = self._monotonic()
            self._viewers.move_to_end(user)
            while len(self._viewers) > MAX_VIEWERS:
                self._viewers.popitem(last=False)
        self.publish(user)

    def changed(self) -> None:
        """Something a Home shows may have changed; the worker republishes soon."""
        with self._lock:
            if self._dirty_since is None and self._viewers:
                self._dirty_since = self._monotonic()

    # ---- the worker

    def step(self) -> float:
        """LoopWorker step: republish every recent viewer's Home once the debounce has passed;
        returns how long to sleep."""
        with self._lock:
            if self._dirty_since is None:
                return self._debounce
            wait = self._dirty_since + self._debounce - self._monotonic()
            if wait > 0:
                return wait
            self._dirty_since = None
            viewers = self._recent_viewers()
        for user in viewers:
            self.publish(user)
        return self._debounce

    def _recent_viewers(self) -> list[str]:
        cutoff = self._monotonic() - VIEWER_TTL
        for user in [u for u, seen in self._viewers.items() if seen < cutoff]:
            del self._viewers[user]
        return list(self._viewers)

    # ---- publishing

    def publish(self, user: str) -> bool:
        """Render and publish `user`'s Home; False when Slack refused or could not be reached
        (logged: the next change or opening tries again)."""
        snapshot = home_snapshot(self, user, self._clock())
        links = {
            key: link
            for line in snapshot.threads
            if (link := self._permalink(key := (line.thread.channel, line.thread.thread_ts)))
        }
        view = home_view(snapshot, self._workspace(), links)
        try:
            self._slack.views_publish(user_id=user, view=view)
        except SlackApiError as error:
            log.warning("Home of %s not published: %s", user, error_code(error))
            return False
        except Exception as error:
            log.warning("Home of %s not published: %s", user, error)
            return False
        return True

    def _permalink(self, key: tuple[str, str]) -> str | None:
        """The thread root's address from `chat.getPermalink` (remembered: it never changes);
        None when Slack has none or cannot be asked now (the Home then builds one from the
        workspace address, and asks again next time unless Slack said there is none)."""
        with self._lock:
            if key in self._links:
                return self._links[key] or None
        try:
            link = self._slack.chat_getPermalink(channel=key[0], message_ts=key[1]).get("permalink")
        except SlackApiError as error:
            log.info("no permalink for %s/%s: %s", *key, error_code(error))
            link = NO_LINK
        except (SlackClientError, OSError) as error:
            log.info("permalink of %s/%s not asked now: %s", *key, error)
            return None
        link = link if isinstance(link, str) else NO_LINK
        with self._lock:
            self._links[key] = link
            while len(self._links) > MAX_LINKS:
                self._links.popitem(last=False)
        return link or None

    def _workspace(self) -> str:
        """The workspace's address (auth.test), asked once, for links to threads."""
        if self._workspace_url is None:
            try:
                url = self._slack.auth_test().get("url")
            except (SlackClientError, OSError) as error:
                log.info("workspace address unknown (%s); thread links use slack.com", error)
                return DEFAULT_WORKSPACE_URL
            self._workspace_url = url if isinstance(url, str) and url else DEFAULT_WORKSPACE_URL
        return self._workspace_url
