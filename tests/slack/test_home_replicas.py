"""The Home tab with two replicas on one PostgreSQL database (SQLite serves one process only): a
change made on one replica reaches the Home of someone whose opening the other replica served."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from bot.testing.app import FAST, RunningApp
from bot.testing.signing import app_home_opened
from bot.testing.waiting import wait_for

QUIET_PHONE = "27821234567"
HOME_OPTIONS = dataclasses.replace(FAST, home_debounce=0.05)


def test_a_change_on_one_replica_refreshes_a_home_opened_on_the_other(
    make_app: Callable[..., RunningApp], postgres_url: str
) -> None:
    looked_at, changed = (
        make_app(env={"SMS_BOT_DB": postgres_url}, inbound=HOME_OPTIONS) for _ in range(2)
    )
    assert (
        looked_at.post(app_home_opened(user_id="U0ALICE", event_id="EvHomeR1")).status_code == 200
    )
    wait_for(lambda: looked_at.fake.home_of("U0ALICE"), 10, "the Home published on opening")
    # Every effect of the send stays on the other replica: this one takes no inbox work.
    looked_at.inbound.processor_worker.stop()
    changed.send(f"send {QUIET_PHONE} news from the other replica")

    def shown() -> bool:
        return "news from the other replica" in json.dumps(looked_at.fake.home_of("U0ALICE"))

    wait_for(shown, 10, "the Home refreshed by the replica that served its opening")
