"""The real app for the inbound tests: `bot.serve.Runtime` on 127.0.0.1 (port 0) with the in-process
sandbox as gateway (its status and MO callbacks pointed at the app's endpoints, with the generated
basic credentials), the bot's WebClient pointed at a `FakeSlack`, a temporary database, and the
inbound waits shortened (`FAST`). The sandbox runs on a `FakeClock`: it moves only when a test
calls `advance()`, so every delivery report and phone reply happens exactly when the test says.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from bot.inbound import Options
from bot.inbound.outbox import Timing
from bot.serve import Runtime
from bot.services import build_web_client
from bot.testing.clocks import ManualClock
from bot.testing.signing import SlackRequest, event_callback, slash_command
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for
from tests.support.slack_app import BOT_TOKEN, CHANNEL, SECRET, harness_settings, post_signed

__all__ = ["BOT_TOKEN", "CHANNEL", "FAST", "SECRET", "SMS_CHANNEL", "USER", "InboundHarness"]

SMS_CHANNEL = "C0SMS"
USER = "U0ALICE"

FAST = Options(
    timing=Timing(post_interval=0.0, card_interval=0.0, backoff=0.01, max_backoff=0.05, idle=0.02),
    balance_interval=3600.0,
)


class InboundHarness:
    def __init__(
        self,
        fake: FakeSlack,
        db_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        options: Options = FAST,
    ):
        self.fake = fake
        self.settings = harness_settings(fake, db_dir, SMS_CHANNEL, env)
        self.clock = ManualClock.from_wall_clock()
        slack = build_web_client(self.settings, sleep=lambda _s: None, backoff=0.0)
        self.runtime = Runtime(
            self.settings,
            services_options={"slack": slack, "sandbox_options": {"clock": self.clock}},
            inbound_options=options,
        )
        self.services = self.runtime.services
        self.storage = self.services.storage
        self.sandbox = self.services.sandbox
        self.inbound = self.services.inbound
        self.http = requests.Session()
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return self.runtime.url

    @property
    def callback_auth(self) -> tuple[str, str]:
        return self.services.settings.callback_user, self.services.settings.callback_password

    def stop(self) -> None:
        self.http.close()
        self.runtime.stop()

    # ---- the sandbox's clock

    def advance(self, seconds: float) -> None:
        """Move the sandbox's time; its due reports and replies are sent (synchronously)."""
        self.sandbox.advance(seconds)

    # ---- Slack traffic

    def post(self, request: SlackRequest) -> requests.Response:
        return post_signed(self.http, self.url, request)

    def send(self, text: str, *, user: str = USER, channel: str = CHANNEL) -> dict[str, Any]:
        """Type `/sms send ...` and wait for its card; returns the card's postMessage params."""
        before = len(self.fake.posts(channel))
        trigger = f"trigger{next(self._ids)}"
        request = slash_command(
            text,
            user_id=user,
            channel_id=channel,
            trigger_id=trigger,
            response_url=self.fake.response_url(trigger),
        )
        assert self.post(request).status_code == 200
        posts = wait_for(
            lambda: self.fake.posts(channel)[before:] or None, what=f"the card of /sms {text}"
        )
        return posts[0]

    def card_ts(self, channel: str = CHANNEL) -> str:
        """The ts of the newest card in a channel (the fake numbers messages in order)."""
        return max(ts for (ch, ts) in self.fake.messages if ch == channel)

    def reply_in_thread(
        self,
        text: str,
        thread_ts: str,
        *,
        user: str = USER,
        channel: str = CHANNEL,
        ts: str | None = None,
        event_id: str | None = None,
        **extra: Any,
    ) -> tuple[requests.Response, str]:
        ts = ts or f"1800000000.{next(self._ids):06d}"
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "channel_type": "channel",
            **extra,
        }
        request = event_callback(event, event_id=event_id or f"Ev{next(self._ids):06d}")
        return self.post(request), ts

    def event(self, event: dict[str, Any]) -> requests.Response:
        return self.post(event_callback(event, event_id=f"Ev{next(self._ids):06d}"))

    # ---- what Slack shows

    def card_text(self, channel: str, ts: str) -> str:
        return json.dumps(self.fake.message(channel, ts), ensure_ascii=False)

    def wait_idle(self) -> None:
        """Every stored callback processed and every outbox item sent."""

        def idle() -> bool:
            return not self.storage.fetch_unprocessed(limit=1) and (
                self.storage.pending_outbox() == 0
            )

        wait_for(idle, what="the inbox and outbox to drain")
