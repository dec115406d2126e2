"""Two outboxes on one database keep one Slack pace together: as two replicas would, each with
its own Storage (its own connections), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.blocks.base import Message
from bot.blocks.card import card_message
from bot.domain.outbox import OutboxKind
from bot.domain.records import NewRecipient, Send
from bot.inbound.backlog import BacklogNotice
from bot.inbound.outbox import SlackOutbox, Timing
from bot.listeners.common import EphemeralReplier
from bot.slack.cards import CardPublisher
from bot.slack.pace import SlackPace
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


# ---- Slack writes made outside the outbox (a command's card, a reply) keep the same pace


@pytest.fixture
def sleeps() -> list[float]:
    """What the direct writers slept for (their sleep moves the test's clock)."""
    return []


def pace_of(outbox: SlackOutbox, clock: ManualClock, sleeps: list[float]) -> SlackPace:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    return SlackPace(outbox.storage, clock.utc, sleep=sleep)


def card_publisher(outbox: SlackOutbox, clock: ManualClock, sleeps: list[float]) -> CardPublisher:
    return CardPublisher(outbox.storage, outbox.slack, pace_of(outbox, clock, sleeps))


def record_send(storage: Storage, channel: str = "C1") -> Send:
    recipient = NewRecipient(msisdn="27830000001", climsgid="pace-1")
    return storage.sends.record(
        slack_user="U1", channel=channel, text="hi", encoding="GSM", parts=1, recipients=[recipient]
    )


def test_a_card_waits_for_the_slot_another_replica_took(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack, sleeps: list[float]
) -> None:
    replicas[0].storage.outbox.enqueue("C1", OutboxKind.POST, {"text": "first"})
    replicas[0].step()
    send = record_send(replicas[1].storage)
    assert card_publisher(replicas[1], clock, sleeps).post(send.id) is None
    assert sleeps == [1.0]  # one second after the other replica's post
    assert len(slack.posts("C1")) == 2
    assert replicas[1].storage.sends.get(send.id).card_ts is not None  # type: ignore[union-attr]
    replicas[0].storage.outbox.enqueue("C1", OutboxKind.POST, {"text": "next"})
    replicas[0].step()
    assert len(slack.posts("C1")) == 2  # the card's slot holds for the outbox too
    clock.advance(1.0)
    replicas[0].step()
    assert [p["text"] for p in slack.posts("C1")][2] == "next"


def test_a_card_paced_past_the_bound_goes_to_the_outbox_and_is_posted_in_its_turn(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack, sleeps: list[float]
) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=10)
    replicas[0].storage.outbox.enqueue("C1", OutboxKind.POST, {"text": "limited"})
    replicas[0].step()  # Slack said 429: C1 held 10 s for every replica
    send = record_send(replicas[1].storage)
    assert card_publisher(replicas[1], clock, sleeps).post(send.id) is None
    assert sum(sleeps) <= 3.0  # never held past the bound
    assert len(slack.calls_to("chat.postMessage")) == 1  # only the refused one
    clock.advance(10.0)
    replicas[1].step()
    replicas[0].step()
    clock.advance(1.0)
    replicas[1].step()
    replicas[0].step()
    texts = [p["text"] for p in slack.posts("C1")]
    assert texts[:2] == ["limited", "limited"]  # refused, then retried after Retry-After
    assert len(texts) == 3 and "Sending" in str(slack.posts("C1")[2]["blocks"])  # the card, once
    card = replicas[1].storage.sends.get(send.id)
    assert card is not None and card.card_ts is not None


def test_a_429_on_a_card_holds_the_channel_for_the_other_replica(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack, sleeps: list[float]
) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=5)
    send = record_send(replicas[0].storage)
    assert card_publisher(replicas[0], clock, sleeps).post(send.id) is None  # queued
    replicas[1].storage.outbox.enqueue("C9", OutboxKind.POST, {"text": "elsewhere"})
    calls = len(slack.calls_to("chat.postMessage"))
    for _ in range(4):
        clock.advance(1.0)
        replicas[1].step()
    assert [c.params["channel"] for c in slack.calls_to("chat.postMessage")[calls:]] == ["C9"]
    clock.advance(1.1)
    replicas[1].step()
    replicas[1].step()
    assert len(slack.posts("C1")) == 2  # refused, then the card once Retry-After had passed


def test_a_direct_message_reply_waits_its_turn_but_never_past_the_bound(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack, sleeps: list[float]
) -> None:
    replicas[0].storage.outbox.enqueue("U1", OutboxKind.POST, {"text": "earlier DM"})
    replicas[0].step()
    reply = EphemeralReplier(replicas[1].slack, pace_of(replicas[1], clock, sleeps), "C1", "U1")
    slack.fail("chat.postEphemeral", error="not_in_channel")
    reply(Message(text="the answer"))
    assert sleeps == [1.0]  # the DM waited for the other replica's DM slot
    assert [p["text"] for p in slack.posts("U1")] == ["earlier DM", "the answer"]
    replicas[0].storage.slots.hold("slack.channel:U1", clock.utc() + timedelta(seconds=30))
    sleeps.clear()
    slack.fail("chat.postEphemeral", error="not_in_channel")
    reply(Message(text="held answer"))
    assert sleeps == [] and slack.posts("U1")[-1]["text"] == "held answer"
    slack.fail("chat.postEphemeral", status=429, retry_after=20)
    reply(Message(text="limited"))  # refused, then a DM: C1 is held for everyone
    held = replicas[0].storage.slots.busy("slack.channel:", clock.utc())
    assert held["slack.channel:C1"] >= clock.utc() + timedelta(seconds=19)


# ---- the backlog summary: once per backlog across replicas


def summaries(slack: FakeSlack) -> list[str]:
    return [p["text"] for p in slack.posts("C1") if "waiting to be shown" in p["text"]]


def test_a_backlog_is_summarised_once_across_replicas_and_again_after_it_drained(
    replicas: list[SlackOutbox], clock: ManualClock, slack: FakeSlack
) -> None:
    for outbox in replicas:
        outbox.backlog = BacklogNotice(outbox.storage, threshold=4)

    def flood(label: str) -> None:
        for n in range(6):
            replicas[n % 2].storage.outbox.enqueue("C1", OutboxKind.POST, {"text": f"{label}{n}"})

    flood("a")
    for _ in range(12):  # the backlog drains at one post a second, checked every 2 s by both
        drain_both(replicas)
        clock.advance(1.0)
    assert len(summaries(slack)) == 1
    assert len(slack.posts("C1")) == 7  # the summary and every post, each once
    clock.advance(15.0)  # nobody renewed the told mark: it lapsed
    flood("b")
    for _ in range(12):
        drain_both(replicas)
        clock.advance(1.0)
    assert len(summaries(slack)) == 2
