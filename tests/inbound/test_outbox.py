"""The paced, durable Slack sender against a fake Slack Web API over loopback, on a fake clock."""

from __future__ import annotations

import threading
from pathlib import Path

from slack_sdk import WebClient

from bot.domain.outbox import OutboxKind
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for
from tests.inbound.rig import Rig

POST, UPDATE = OutboxKind.POST, OutboxKind.UPDATE


def enqueue(rig: Rig, channel: str, text: str, order: str | None = None, **payload) -> int:
    return rig.storage.outbox.enqueue(channel, POST, {"text": text, **payload}, order_key=order)


def texts(fake: FakeSlack, channel: str | None = None) -> list[str]:
    return [p["text"] for p in fake.posts(channel)]


def stored_texts(fake: FakeSlack, channel: str) -> list[str]:
    """What the channel shows (successful posts only), in order."""
    return [m["text"] for (ch, _), m in sorted(fake.messages.items()) if ch == channel]


def test_one_post_per_second_per_channel_without_blocking_others(rig: Rig) -> None:
    for n in range(3):
        enqueue(rig, "C1", f"c1-{n}")
    enqueue(rig, "C2", "c2-0")
    pause = rig.drain()
    assert texts(rig.fake) == ["c1-0", "c2-0"]  # C1 is paced, C2 went on
    assert 0 < pause <= 1.0
    rig.drain()
    assert len(texts(rig.fake)) == 2  # nothing new within the second
    rig.clock.advance(1.0)
    rig.drain()
    assert texts(rig.fake, "C1") == ["c1-0", "c1-1"]
    rig.clock.advance(1.0)
    rig.drain()
    assert texts(rig.fake, "C1") == ["c1-0", "c1-1", "c1-2"]


def test_429_waits_for_retry_after_and_pauses_only_that_channel(rig: Rig) -> None:
    rig.fake.fail("chat.postMessage", status=429, retry_after=7)
    enqueue(rig, "C1", "limited")
    rig.drain()
    enqueue(rig, "C2", "elsewhere")
    enqueue(rig, "C1", "queued behind")
    rig.clock.advance(1.0)
    rig.drain()
    assert stored_texts(rig.fake, "C2") == ["elsewhere"]
    assert stored_texts(rig.fake, "C1") == []
    rig.clock.advance(5.0)  # 6 s after the 429
    rig.drain()
    assert stored_texts(rig.fake, "C1") == []
    rig.clock.advance(1.1)
    rig.drain()
    rig.clock.advance(1.0)
    rig.drain()
    assert stored_texts(rig.fake, "C1") == ["limited", "queued behind"]
    item = rig.storage.outbox.get(1)
    assert item.state == "done" and item.attempts == 0  # a rate limit is not a failure


def test_5xx_is_retried_with_backoff_then_delivered_once(rig: Rig) -> None:
    rig.fake.fail("chat.postMessage", status=503, times=2)
    enqueue(rig, "C1", "eventually")
    rig.drain()
    rig.clock.advance(1.0)  # first backoff: 1 s
    rig.drain()
    assert stored_texts(rig.fake, "C1") == []
    rig.clock.advance(1.0)  # second backoff is 2 s: not yet
    rig.drain()
    assert stored_texts(rig.fake, "C1") == []
    rig.clock.advance(1.0)
    rig.drain()
    assert stored_texts(rig.fake, "C1") == ["eventually"]
    assert len(rig.fake.calls_to("chat.postMessage")) == 3
    assert rig.storage.outbox.count() == 0


def test_slack_unreachable_then_back(rig: Rig) -> None:
    fake_client = rig.outbox.slack
    rig.outbox.slack = WebClient(token="xoxb-rig", base_url="http://127.0.0.1:9/api/", timeout=1)
    enqueue(rig, "C1", "while down")
    rig.drain()
    assert rig.storage.outbox.get(1).attempts == 1
    rig.outbox.slack = fake_client
    rig.clock.advance(2.0)
    rig.drain()
    assert stored_texts(rig.fake, "C1") == ["while down"]


def test_order_is_kept_within_an_order_key(rig: Rig) -> None:
    rig.fake.fail("chat.postMessage", status=503)
    enqueue(rig, "C1", "first", order="sms:1")
    enqueue(rig, "C2", "second", order="sms:1")  # another channel, same conversation order
    enqueue(rig, "C3", "unrelated")
    rig.drain()
    assert stored_texts(rig.fake, "C2") == [] and stored_texts(rig.fake, "C3") == ["unrelated"]
    rig.clock.advance(1.0)
    rig.drain()
    assert stored_texts(rig.fake, "C1") == ["first"]
    rig.drain()
    assert stored_texts(rig.fake, "C2") == ["second"]


def test_reply_to_a_root_that_failed_for_good_is_posted_at_top_level(rig: Rig) -> None:
    rig.fake.fail("chat.postMessage", error="invalid_blocks")
    root = enqueue(rig, "C1", "root", order="sms:2")
    enqueue(rig, "C1", "reply", order="sms:2", thread_root_item=root)
    rig.settle()
    assert rig.storage.outbox.get(root).state == "failed"
    (reply,) = rig.fake.posts()[1:]
    assert reply["text"] == "reply" and "thread_ts" not in reply


def test_a_post_whose_answer_was_lost_is_not_posted_twice(tmp_path: Path, rig: Rig) -> None:
    """Slack accepts the post but the answer never arrives (timeout): the next attempt finds
    the message by its metadata instead of posting again."""
    rig.outbox.slack = WebClient(token="xoxb-rig", base_url=rig.fake.api_url, timeout=0.3)
    rig.fake.hold("chat.postMessage")
    enqueue(rig, "C1", "exactly once")
    rig.drain()  # times out while Slack holds its answer
    rig.fake.release()
    assert rig.storage.outbox.count() == 1
    rig.clock.advance(2.0)
    rig.drain()
    assert rig.storage.outbox.count() == 0
    assert len(rig.fake.calls_to("chat.postMessage")) == 1
    assert stored_texts(rig.fake, "C1") == ["exactly once"]
    (ts,) = [ts for (ch, ts) in rig.fake.messages if ch == "C1"]
    assert rig.storage.outbox.result(1) == ts


def test_without_history_access_a_lost_answer_means_posting_again(rig: Rig) -> None:
    """The documented residual risk: the check cannot run, so the post is repeated (at least
    once rather than lost)."""
    rig.outbox.slack = WebClient(token="xoxb-rig", base_url=rig.fake.api_url, timeout=0.3)
    rig.fake.hold("chat.postMessage")
    rig.fake.fail("conversations.history", error="missing_scope")
    enqueue(rig, "C1", "twice")
    rig.drain()
    rig.fake.release()
    rig.clock.advance(2.0)
    rig.drain()
    assert stored_texts(rig.fake, "C1") == ["twice", "twice"]


def test_permanent_error_gives_up_and_the_queue_goes_on(rig: Rig) -> None:
    rig.fake.fail("chat.postMessage", error="invalid_blocks")
    enqueue(rig, "C404", "nowhere", order="sms:3")
    enqueue(rig, "C1", "next", order="sms:3")
    rig.settle()
    assert rig.storage.outbox.get(1).state == "failed"
    assert stored_texts(rig.fake, "C1") == ["next"]


def test_claims_of_a_dead_process_are_released_on_start(rig: Rig) -> None:
    enqueue(rig, "C1", "claimed then crashed")
    (_claimed,) = rig.storage.outbox.fetch_due(now=rig.clock.utc())  # a drainer took it, then died
    assert rig.storage.outbox.fetch_due(now=rig.clock.utc()) == []
    assert rig.storage.outbox.release_leases() == 1
    rig.drain()
    assert stored_texts(rig.fake, "C1") == ["claimed then crashed"]


def test_background_worker_is_woken_by_new_work(rig: Rig) -> None:
    rig.inbound.outbox_worker.start()
    try:
        done = threading.Event()
        enqueue(rig, "C1", "now")
        rig.inbound.outbox_worker.wake()
        wait_for(lambda: stored_texts(rig.fake, "C1") == ["now"], what="the post")
        done.set()
    finally:
        rig.inbound.outbox_worker.stop()
    assert rig.inbound.outbox_worker.alive() is False


def test_card_pacing_holds_within_the_interval(rig: Rig) -> None:
    for n in range(3):
        rig.storage.outbox.enqueue(
            f"C{n}", UPDATE, {"ts": "1.0", "text": "a"}, coalesce_key=f"card:{n}"
        )
        rig.drain()
    rig.clock.advance(1.5)
    rig.storage.outbox.enqueue("C0", UPDATE, {"ts": "1.0", "text": "b"}, coalesce_key="card:0")
    rig.drain()
    assert len(rig.fake.calls_to("chat.update")) == 3  # card 0 waits out its 3 s
    rig.clock.advance(1.5)
    rig.drain()
    assert len(rig.fake.calls_to("chat.update")) == 4


def test_remembered_cards_are_capped(rig: Rig, monkeypatch) -> None:
    monkeypatch.setattr("bot.inbound.CARD_CACHE_SIZE", 3)
    sends = [rig.card(f"2782123456{n}") for n in range(5)]
    for send in sends:
        rig.inbound.refresh_card(send.id)
    assert len(rig.inbound._cards) == 3
    rig.inbound.refresh_card(sends[0].id)  # forgotten: read from storage again, still updated
    assert rig.storage.outbox.count() == 5


def test_a_channel_that_refuses_posts_makes_them_wait_never_fail(rig: Rig) -> None:
    """not_in_channel, is_archived, channel_not_found: someone can fix the channel, so the
    posts wait (with backoff) and go out, in order, once it works again."""
    for error in ("not_in_channel", "is_archived", "channel_not_found"):
        rig.fake.close_channel("C1", error)
        enqueue(rig, "C1", f"while {error}", order="sms:9")
        rig.drain()
        rig.clock.advance(400.0)  # past the longest backoff: tried again, refused again
        rig.drain()
        assert rig.storage.outbox.get(1).state == "pending"
        assert rig.outbox.health.report()["channels_not_postable"] == {"C1": error}
    rig.fake.open_channel("C1")
    rig.clock.advance(400.0)
    rig.settle()
    assert stored_texts(rig.fake, "C1") == [
        "while not_in_channel",
        "while is_archived",
        "while channel_not_found",
    ]
    assert "channels_not_postable" not in rig.outbox.health.report()


def test_slack_unreachable_is_told_apart_from_healthy(rig: Rig) -> None:
    assert rig.outbox.health.report() == {"slack": "ok"}
    rig.fake.fail("chat.postMessage", status=503, times=2)
    enqueue(rig, "C1", "later")
    rig.drain()
    assert rig.outbox.health.report()["slack"].startswith("unreachable")
    rig.clock.advance(10.0)
    rig.settle()
    assert stored_texts(rig.fake, "C1") == ["later"]
    assert rig.outbox.health.report() == {"slack": "ok"}
