"""Two outboxes on one database keep one Slack pace together: as two replicas would, each with
its own Storage (its own connections), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.blocks.card import card_message
from bot.domain.outbox import OutboxKind
from bot.inbound.outbox import SlackOutbox, Timing
from bot.storage import Storage, open_storage
from bot.testing.clocks import ManualClock
from bot.testing.slack import FakeSlack

TIMING = Timing(post_interval=1.0, card_interval=3.0, backoff=1.0)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "shared.sqlite3")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def replicas(location: str, clock: ManualClock, slack: FakeSlack) -> Iterator[list[SlackOutbox]]:
    stores: list[Storage] = [open_storage(location, clock=clock.seconds) for _ in range(2)]
    outboxes = [
        SlackOutbox(
            storage,
            WebClient(token="xoxb-pace", base_url=slack.api_url, retry_handlers=[]),
            clock=clock.utc,
            render_card=card_message,
            timing=TIMING,
        )
        for storage in stores
    ]
    yield outboxes
    for storage in stores:
        storage.close()


def drain_both(replicas: list[SlackOutbox]) -> None:
    for outbox in replicas:
        outbox.step()


def test_one_post_per_second_per_channel_across_replicas(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack
) -> None:
    for n in range(4):
        replicas[0].storage.outbox.enqueue("C1", OutboxKind.POST, {"text": f"p{n}"})
    drain_both(replicas)
    assert len(slack.posts("C1")) == 1  # the second replica found the channel paced
    clock.advance(0.5)
    drain_both(replicas)
    assert len(slack.posts("C1")) == 1
    for _ in range(3):
        clock.advance(0.5)
        drain_both(replicas)
        clock.advance(0.5)
        drain_both(replicas)
    assert [p["text"] for p in slack.posts("C1")] == ["p0", "p1", "p2", "p3"]


def test_a_429_seen_by_one_replica_holds_for_the_other(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack
) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=5)
    replicas[0].storage.outbox.enqueue("C1", OutboxKind.POST, {"text": "limited"})
    replicas[0].step()
    calls = len(slack.calls_to("chat.postMessage"))
    replicas[1].storage.outbox.enqueue("C1", OutboxKind.POST, {"text": "another"})
    for _ in range(4):
        clock.advance(1.0)
        replicas[1].step()
    assert len(slack.calls_to("chat.postMessage")) == calls  # replica 1 waited too
    clock.advance(1.1)
    replicas[1].step()
    assert len(slack.calls_to("chat.postMessage")) == calls + 1


def test_card_updates_at_most_one_per_interval_across_replicas(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack
) -> None:
    for n in range(6):
        outbox = replicas[n % 2]
        outbox.storage.outbox.enqueue(
            "C1", OutboxKind.UPDATE, {"ts": "1.0", "text": f"v{n}"}, coalesce_key="card:7"
        )
        drain_both(replicas)
        clock.advance(1.0)
    # 6 s: updates at 0 and 3 (each 3 s after the last), none in between.
    assert len(slack.calls_to("chat.update")) == 2
