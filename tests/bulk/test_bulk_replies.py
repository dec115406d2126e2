"""A reply to a bulk message opens its own conversation in SMS_CHANNEL (product.md §6): a bulk
row has no card of its own, yet it is newer than an older `/sms send` card to the same number,
so the reply must not land in that card's thread (nor tell that card's sender they were
answered). Over HTTP into the real app, one ManualClock for the sandbox, storage and services."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests

from bot.storage import open_storage
from bot.testing.app import INBOUND, SMS_CHANNEL, AppOptions, RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.clocks import ManualClock
from bot.testing.signing import CHANNEL, USER
from bot.testing.waiting import wait_for
from bot.usecases import bulk

PHONE = "27821234567"  # the sandbox delivers to it and never texts back by itself
DAY = 24 * 3600.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock.from_wall_clock()


@pytest.fixture
def app(make_app: Callable[..., RunningApp], clock: ManualClock) -> RunningApp:
    return make_app(
        sandbox_options={"clock": clock},
        storage_factory=lambda path: open_storage(str(path), clock=clock.seconds),
        clock=clock.utc,
    )


@pytest.fixture
def app_options() -> AppOptions:
    return INBOUND


def _bulk_sent(app: RunningApp, text: str) -> None:
    services = app.services
    plan = bulk.prepare(
        services, bulk.BulkSource(numbers=(PHONE,)), text, starter="UBULKER", channel=CHANNEL
    )
    bulk.start(services, plan.plan_id, user="UBULKER")
    wait_for(
        lambda: bulk.progress(services, plan.plan_id).state == "done",
        what="the bulk worker to send its row",
    )


def test_a_reply_to_a_bulk_message_opens_a_conversation_not_an_older_cards_thread(
    app: RunningApp, clock: ManualClock
) -> None:
    app.send(f"send {PHONE} Lunch on Friday?")
    card_ts = app.card_ts()
    wait_for(lambda: len(app.sandbox.messages()) == 1, what="the /sms send")
    clock.advance(DAY)
    _bulk_sent(app, "Our office is closed on Monday")
    app.wait_idle()

    params = mo_params("mo-after-bulk", PHONE, "Thanks for letting me know", at=clock.utc())
    post(requests.Session(), app.url + "/clickatell/mo", params, app.callback_auth)

    wait_for(lambda: app.storage.inbound.recent(PHONE), what="the reply routed")
    app.wait_idle()
    assert app.fake.thread(CHANNEL, card_ts) == []  # not in the older card's thread
    [opened] = [p for p in app.fake.posts(SMS_CHANNEL) if "New SMS conversation" in str(p)]
    shown = json.dumps(opened["blocks"], ensure_ascii=False)
    assert "Thanks for letting me know" in shown
    assert "bulk" in shown.lower() and "Our office is closed on Monday" in shown
    assert f"<@{USER}>" not in json.dumps(opened, ensure_ascii=False)
