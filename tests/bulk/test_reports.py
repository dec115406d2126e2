"""Inside the running app: a bulk run started from Slack's side is driven by the app's own
bulk worker, its rows' delivery reports (sandbox callbacks over HTTP into the app) move the
run's tallies, the run's card is told (never one message per row), and a reply from a bulk
recipient opens a conversation like any reply."""

from __future__ import annotations

import sqlite3

import pytest

from bot.testing.app import INBOUND, SMS_CHANNEL, AppOptions, RunningApp
from bot.testing.signing import CHANNEL, USER
from bot.testing.waiting import wait_for
from bot.usecases import bulk

ROWS = 20


@pytest.fixture
def app_options() -> AppOptions:
    return INBOUND


def _numbers() -> tuple[str, ...]:
    # 27825550101: delivery fails (007); 27825550103 texts back "Got it: ..."
    return ("27825550101", "27825550103", *(f"+2782100{i:04d}" for i in range(ROWS - 2)))


def _bulk_items(app: RunningApp) -> int:
    with sqlite3.connect(app.settings.db_path) as conn:
        return conn.execute("SELECT count(*) FROM outbox WHERE kind = 'bulk_progress'").fetchone()[
            0
        ]


def test_reports_move_the_tallies_and_replies_open_conversations(app: RunningApp) -> None:
    services = app.services
    plan = bulk.prepare(
        services, bulk.BulkSource(numbers=_numbers()), "Hello there", starter=USER, channel=CHANNEL
    )
    bulk.start(services, plan.plan_id, user=USER)

    def done() -> bulk.BulkProgress | None:
        progress = bulk.progress(services, plan.plan_id)
        return progress if progress.state == "done" else None

    assert wait_for(done, what="the bulk worker to send every row").sent == ROWS
    assert len(app.sandbox.messages()) == ROWS
    app.advance(5)  # the sandbox reports 003 then 004 (or 007), and the phone's reply comes

    def settled() -> bulk.BulkProgress | None:
        progress = bulk.progress(services, plan.plan_id)
        return progress if progress.delivered + progress.failed == ROWS else None

    progress = wait_for(settled, what="every delivery report to be applied")
    assert (progress.delivered, progress.failed) == (ROWS - 1, 1)
    app.wait_idle()
    assert _bulk_items(app) >= 1  # the run's card is told (its handler is the Slack side's)
    [card] = app.fake.posts(CHANNEL)  # the run's one progress card, never a message per row
    assert "Bulk SMS" in card["text"]
    [reply] = wait_for(lambda: app.fake.posts(SMS_CHANNEL), what="the reply's conversation")
    assert "Got it: Hello there" in str(reply)
