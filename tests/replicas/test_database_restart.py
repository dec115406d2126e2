"""Two replicas ride out a PostgreSQL restart as one process rides out a locked SQLite file:
callbacks are answered 503 while the server is away (the gateway retries them), /healthz says
503, nothing acknowledged is lost, and both resume by themselves once it is back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import requests

from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for
from tests.replicas.support import (
    Callback,
    Replicas,
    deliver,
    mo_callback,
    prepare_cards,
    replies_shown,
)
from tests.support.postgres import ThrowawayCluster

pytestmark = pytest.mark.slow


@pytest.fixture
def replicas(slack: FakeSlack, tmp_path: Path, postgres_url: str) -> Iterator[Replicas]:
    started = Replicas(slack, tmp_path, postgres_url)
    yield started
    started.close()


def health(url: str) -> int:
    return requests.get(f"{url}/healthz", timeout=10).status_code


def acknowledged(url: str, callback: Callback) -> bool:
    return deliver(url, callback) == 200


def test_both_replicas_answer_503_while_the_server_is_away_and_lose_nothing(
    replicas: Replicas, slack: FakeSlack, postgres_cluster: ThrowawayCluster
) -> None:
    phones = prepare_cards(replicas.url, slack, channels=2, cards=4, per_card=2)
    before, during = phones[:4], phones[4:]
    for n, phone in enumerate(before):
        assert deliver(replicas.apps[n % 2].url, mo_callback(phone, phone.reply)) == 200
    postgres_cluster.stop()
    try:
        for n, phone in enumerate(during):
            assert deliver(replicas.apps[n % 2].url, mo_callback(phone, phone.reply)) == 503
        for app in replicas.apps:
            wait_for(lambda app=app: health(app.url) == 503, timeout=15, what="/healthz 503")
    finally:
        postgres_cluster.start()
    for app in replicas.apps:
        wait_for(lambda app=app: health(app.url) == 200, timeout=30, what="/healthz 200 again")
    for n, phone in enumerate(during):  # the gateway's retries: until one is acknowledged
        url, callback = replicas.apps[(n + 1) % 2].url, mo_callback(phone, phone.reply)
        wait_for(partial(acknowledged, url, callback), timeout=15, what="a retry stored")
    wait_for(lambda: replicas.backlog() == (0, 0), timeout=60, what="both queues to empty")
    assert replies_shown(slack) == Counter(phone.reply for phone in phones)
