"""Publishing the Home tab, and keeping it current while people look at it.

`HomeBoard.publish(user)` renders the person's Home (bot/usecases/home.py, bot/blocks/home.py) and
sends it with `views.publish`. A Home is published when it is opened (`app_home_opened`), and
again when what it shows changes: `changed()` is called whenever the app queues Slack work (a
card update, an inbound SMS, an opt-out note), and the board's worker republishes the Home of
everyone who opened it in the last day, at most once per `debounce` seconds however many changes
came in between.

Several replicas: who looked is remembered by the replica that served the opening (in memory),
and a change may happen on any replica. So a replica with changes also records, once per
debounce, when it last changed something in a storage slot every replica reads
(`Storage.slots` key `home.changed`, held at that moment: `hold` only ever moves it later, so it
is the latest change of any replica). Each replica's worker looks at it once per debounce and
republishes its own viewers' Homes when it moved since it last looked. Residual: a person whose
Home was opened on a replica that has since stopped is current again the next time they open it.
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
CHANGED = "home.changed"  # slot: the latest moment any replica changed what Homes show


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
        self._seen_change = clock()  # the latest change of any replica known here
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
        """Something a Home shows may have changed (here: other replicas are told too); the
        worker republishes soon."""
        with self._lock:
            if self._dirty_since is None:
                self._dirty_since = self._monotonic()

    # ---- the worker

    def step(self) -> float:
        """LoopWorker step: once the debounce has passed since a change here, tell the other
        replicas and republish every recent viewer's Home; republish them too when another
        replica changed something. Returns how long to sleep."""
        elsewhere = self._changed_elsewhere()
        with self._lock:
            wait = self._debounce
            if self._dirty_since is not None:
                wait = self._dirty_since + self._debounce - self._monotonic()
            here = self._dirty_since is not None and wait <= 0
        if here:
            self._announce_change()
            with self._lock:
                self._dirty_since = None
        if here or elsewhere:
            with self._lock:
                viewers = self._recent_viewers()
            for user in viewers:
                self.publish(user)
            return self._debounce
        return max(0.0, min(wait, self._debounce))

    def _announce_change(self) -> None:
        """Record, for every replica, that Homes changed now (the slot only moves later)."""
        now = self._clock()
        self.storage.slots.hold(CHANGED, now)
        self._seen_change = max(self._seen_change, now)

    def _changed_elsewhere(self) -> bool:
        """True when some replica changed what Homes show since this one last looked."""
        latest = self.storage.slots.busy(CHANGED, self._seen_change).get(CHANGED)
        if latest is None:
            return False
        self._seen_change = latest
        return True

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
        # Threads' roots and bulk cards: each linked by its permalink (chat.getPermalink).
        messages = [(line.thread.channel, line.thread.thread_ts) for line in snapshot.threads]
        messages += [(r.channel, r.card_ts) for r in snapshot.bulk_runs if r.channel and r.card_ts]
        links = {key: link for key in messages if (link := self._permalink(key))}
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
