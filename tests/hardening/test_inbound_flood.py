"""A flood of new SMS conversations into SMS_CHANNEL queues behind Slack's pace (one message a
second per channel): once the channel's waiting posts pass the threshold, ONE summary is posted
there ahead of the queue ("N new SMS are waiting …; the newest …"), and /healthz names the
backlog without failing (issue 16, case 13). The real app over loopback with Slack's real pace
(one post a second), the callbacks as the gateway posts them."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from bot.inbound.outbox import Timing
from tests.hardening.support import (
    FAST,
    FORM,
    SMS_CHANNEL,
    HistorySlack,
    InboundHarness,
    form,
    mo_params,
    wait_for,
)

THRESHOLD = 10
FLOOD = 40
PACED = dataclasses.replace(
    FAST,
    timing=Timing(post_interval=1.0, card_interval=3.0, backoff=0.01, max_backoff=0.05, idle=0.05),
    backlog_threshold=THRESHOLD,
    low_balance=0.0,
)


@pytest.fixture
def paced(slack: HistorySlack, tmp_path: Path) -> Iterator[InboundHarness]:
    (tmp_path / "paced").mkdir()
    app = InboundHarness(slack, tmp_path / "paced", options=PACED)
    try:
        yield app
    finally:
        app.stop()


def _deliver(app: InboundHarness, index: int) -> int:
    body = form(mo_params(f"mo-flood-{index}", f"2782777{index:04d}", f"flood message {index}"))
    answer = requests.post(
        app.url + "/clickatell/mo", data=body, headers=FORM, auth=app.callback_auth, timeout=10
    )
    return answer.status_code


def _summaries(slack: HistorySlack) -> list[str]:
    texts = [json.dumps(m, ensure_ascii=False) for m in slack.posts(SMS_CHANNEL)]
    return [t for t in texts if "new SMS are waiting" in t]


def test_a_flood_of_new_conversations_gets_one_summary_and_shows_in_healthz(
    paced: InboundHarness, slack: HistorySlack
) -> None:
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda i: _deliver(paced, i), range(FLOOD))) == {200}
    (summary,) = wait_for(lambda: _summaries(slack), timeout=15, what="the backlog summary")
    assert "new SMS are waiting to be shown here" in summary
    assert "The newest: SMS from" in summary and "flood message" in summary
    health = requests.get(paced.url + "/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json()["backlog"][SMS_CHANNEL] >= THRESHOLD
    # More posts go out, the backlog is still there: no second summary.
    shown = len(slack.posts(SMS_CHANNEL))
    wait_for(lambda: len(slack.posts(SMS_CHANNEL)) >= shown + 3, timeout=15, what="more posts")
    assert len(_summaries(slack)) == 1
