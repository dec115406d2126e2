"""A deterministic rig for the inbound pieces: the real `Inbound` (processor, router, outbox,
relay) on a real database, the shared `FakeSlack` and the in-memory `MemoryGateway`, with ONE
manual clock for storage and workers and no background threads: a test stores callbacks, then
calls `process()` and `drain()` itself. (Not the app: `bot.testing.app` starts that.)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bot.config import settings_from
from bot.domain.records import NewRecipient, Send
from bot.inbound import Inbound, InboundDeps, Options
from bot.inbound.outbox import Timing
from bot.storage import open_storage
from bot.testing.callbacks import form, mo_params, status_params
from bot.testing.clocks import ManualClock
from bot.testing.gateway import MemoryGateway
from bot.testing.slack import FakeSlack
from bot.testing.state import send_with_card

SMS_CHANNEL = "C0SMS"
CHANNEL = "C0GENERAL"
START = 1_750_000_000.0


class Rig:
    def __init__(
        self,
        tmp_path: Path,
        fake: FakeSlack,
        timing: Timing | None = None,
        location: str | None = None,
    ):
        """`location`: the database (default: a SQLite file in `tmp_path`); two rigs on one
        database stand for two replicas."""
        self.clock = ManualClock(START)
        self.fake = fake
        where = location or str(tmp_path / "rig.sqlite3")
        self.storage = open_storage(where, clock=self.clock.seconds)
        self.gateway = MemoryGateway()
        settings = settings_from(
            {
                "SLACK_BOT_TOKEN": "xoxb-rig",
                "SLACK_API_URL": fake.api_url,
                "SMS_CHANNEL": SMS_CHANNEL,
            }
        )
        slack = WebClient(token="xoxb-rig", base_url=fake.api_url)
        self.services = InboundDeps(
            settings=settings,
            storage=self.storage,
            gateway=self.gateway,  # type: ignore[arg-type]  # what the relay and watcher use
            slack=slack,
            clock=self.clock.utc,
            gateway_api_id="sandbox",
            sandboxed=True,
        )
        timing = timing or Timing(post_interval=1.0, card_interval=3.0, backoff=1.0)
        self.inbound = Inbound(self.services, Options(timing=timing, low_balance=10.0, start=False))
        self.outbox = self.inbound.outbox
        self.processor = self.inbound.processor
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.inbound.relay.stop()
        self.storage.close()

    # ---- state

    def card(self, *numbers: str, channel: str = CHANNEL) -> Send:
        """A send with a posted card (as /sms send leaves it), each recipient accepted."""
        return send_with_card(
            self.storage, self.inbound.outbox.slack, channel, self._accepted(numbers)
        )

    def uncarded(self, *numbers: str, channel: str = CHANNEL, thread_ts: str | None = None) -> Send:
        """A send whose card is not posted (yet): each recipient accepted by the gateway. With
        `thread_ts`, a person's reply in that thread relayed as SMS (attach its message)."""
        return self.storage.sends.record(
            slack_user="U0ALICE",
            channel=channel,
            text="Hello",
            encoding="gsm7",
            parts=1,
            recipients=self._accepted(numbers),
            thread_ts=thread_ts,
        )

    def _accepted(self, numbers: Sequence[str]) -> list[NewRecipient]:
        return [
            NewRecipient(msisdn=n, climsgid=f"c{i}", apimsgid=f"api-{n}-{next(self._ids)}")
            for i, n in enumerate(numbers)
        ]

    # ---- callbacks (stored as the endpoint stores them)

    def status(self, apimsgid: str, code: str, *, to: str = "27821234567") -> bool:
        params = status_params(apimsgid, code, to=to, timestamp=self.clock.now)
        return self.storage.inbox.store("status", f"{apimsgid}:{code}", form(params))

    def mo(self, sender: str, text: str | bytes, **kw: Any) -> bool:
        momsgid = kw.pop("momsgid", None) or f"mo{next(self._ids)}"
        params = mo_params(momsgid, sender, text, at=self.clock.utc(), **kw)
        return self.storage.inbox.store("mo", momsgid, form(params))

    # ---- running

    def process(self) -> None:
        while self.processor.run_once().processed:
            pass
        self.processor.flush_stale_parts()

    def drain(self) -> float:
        return self.outbox.step()

    def settle(self, rounds: int = 50) -> None:
        """Process, then drain while moving the clock to whenever the outbox is due next."""
        self.process()
        for _ in range(rounds):
            pause = self.drain()
            if self.storage.outbox.count() == 0:
                return
            self.clock.advance(max(pause, 0.05))
        raise AssertionError("the outbox did not drain")
