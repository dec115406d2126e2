"""Two `serve` replicas on one PostgreSQL database keep every promise one process keeps.

Real processes (`python -m bot serve`), a real PostgreSQL (the throwaway cluster), the fake
Slack. Callbacks and slash commands are spread over both replicas and repeated on the other one,
as a load balancer and a retrying gateway (or Slack) would: every effect still happens once.
One replica killed with SIGKILL mid-burst: the other finishes everything it acknowledged, with
no restart. Slack's pace (one write a second per channel, one update per 3 s per card) holds
across both, read from when the fake Slack received each write.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.testing.slack import FakeSlack
from bot.testing.state import AppState
from bot.testing.waiting import wait_for
from tests.replicas.support import (
    Callback,
    Replicas,
    SlackWrites,
    deliver,
    mo_callback,
    prepare_cards,
    replies_shown,
    status_callback,
)

pytestmark = pytest.mark.slow

# Slack's pace as the product keeps it, less what scheduling on a busy machine may shave off the
# gap between two calls the database spaced a full interval apart.
POST_GAP, CARD_GAP = 0.9, 2.8
DRAIN = 90.0  # seconds: far more than the work needs at Slack's pace


@pytest.fixture
def replicas(slack: FakeSlack, tmp_path: Path, postgres_url: str) -> Iterator[Replicas]:
    started = Replicas(slack, tmp_path, postgres_url)
    yield started
    started.close()


def both_ways(pair: Replicas, callbacks: list[Callback]) -> list[tuple[int | None, ...]]:
    """Each callback to one replica and then again to the other (a gateway retry landing
    elsewhere), alternating which goes first, eight at a time."""

    def twice(numbered: tuple[int, Callback]) -> tuple[int | None, ...]:
        n, callback = numbered
        first, second = pair.apps[n % 2], pair.apps[(n + 1) % 2]
        return deliver(first.url, callback), deliver(second.url, callback)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(twice, enumerate(callbacks)))


def test_every_effect_happens_once_and_slacks_pace_holds_across_replicas(
    replicas: Replicas, slack: FakeSlack
) -> None:
    phones = prepare_cards(replicas.url, slack, channels=3, cards=6, per_card=2)
    writes = SlackWrites(slack)
    callbacks = []
    for phone in phones:
        callbacks += [status_callback(phone, "003"), status_callback(phone, "004")]
        callbacks.append(mo_callback(phone, phone.reply))
    answers = both_ways(replicas, callbacks)
    assert {code for pair in answers for code in pair} == {200}

    # Slash commands, each delivered to both replicas with one trigger: one send each.
    # The first number's phone (the sandbox's echo) answers: an MO from the sending replica's
    # gateway, which must reach the card's thread once too.
    numbers = ["+27825550103", "+27825550200", "+27825550201"]
    for n, number in enumerate(numbers):
        for replica in (n % 2, (n + 1) % 2):
            replicas.command(replica, f"send {number} command {n}", trigger=f"cmd{n}.1")

    wait_for(lambda: replicas.backlog() == (0, 0), timeout=DRAIN, what="both queues to empty")
    assert replies_shown(slack) == Counter(phone.reply for phone in phones)
    for phone in phones:
        (posted,) = [
            m
            for (channel, _), m in slack.messages.items()
            if channel == phone.channel and phone.reply in str(m.get("blocks"))
        ]
        assert posted.get("thread_ts") == phone.card_ts
        card = json.dumps(slack.message(phone.channel, phone.card_ts), ensure_ascii=False)
        assert "Received by recipient" in card  # the final status, shown on the card
    posts = [json.dumps(p, ensure_ascii=False) for p in slack.posts()]
    echoes = [post for post in posts if "Got it: command 0" in post]
    for n in range(len(numbers)):
        cards = [post for post in posts if f"command {n}" in post and post not in echoes]
        assert len(cards) == 1, f"command {n}: {cards}"
    assert len(echoes) == 1
    with AppState.opened(replicas.url) as state:
        sent = Counter(entry.msisdn for entry in state.recipients())
    assert all(sent[number.lstrip("+")] == 1 for number in numbers), sent

    for channel in {phone.channel for phone in phones}:
        assert len(writes.by_channel[channel]) >= 6  # 4 replies and the cards' updates
        gap = SlackWrites.closest(writes.by_channel[channel])
        assert gap is not None and gap >= POST_GAP, (channel, gap)
    prepared = {(phone.channel, phone.card_ts) for phone in phones}
    assert prepared <= set(writes.updates)  # every prepared card was updated
    for card, times in writes.updates.items():
        gap = SlackWrites.closest(times)
        assert gap is None or gap >= CARD_GAP, (card, gap)


def test_a_replica_killed_mid_burst_leaves_its_work_to_the_other(
    replicas: Replicas, slack: FakeSlack
) -> None:
    phones = prepare_cards(replicas.url, slack, channels=6, cards=12, per_card=3)
    callbacks = [mo_callback(phone, phone.reply) for phone in phones]
    callbacks += [status_callback(phone, "004") for phone in phones]
    victim, survivor = replicas.apps
    killed_after = len(callbacks) // 3

    def to_either(numbered: tuple[int, Callback]) -> int | None:
        n, callback = numbered
        if n % 2 == 0 and victim.process.poll() is None:
            answer = deliver(victim.url, callback)
            if answer == 200:
                return answer
        return deliver(survivor.url, callback)  # the gateway's retry lands on the survivor

    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(to_either, enumerate(callbacks[:killed_after])))
        victim.kill()  # SIGKILL with its inbox turn, outbox claims and pace slots held
        rest = list(pool.map(to_either, enumerate(callbacks[killed_after:], killed_after)))
    assert set(first + rest) == {200}

    wait_for(lambda: replicas.backlog() == (0, 0), timeout=DRAIN, what="the survivor to finish")
    assert replies_shown(slack) == Counter(phone.reply for phone in phones)
    for phone in phones:
        card = json.dumps(slack.message(phone.channel, phone.card_ts), ensure_ascii=False)
        assert "Received by recipient" in card


def test_an_opt_out_on_one_replica_is_enforced_by_the_other_at_once(
    replicas: Replicas, slack: FakeSlack
) -> None:
    (phone,) = prepare_cards(replicas.url, slack, channels=1, cards=1, per_card=1)
    assert deliver(replicas.apps[0].url, mo_callback(phone, "STOP")) == 200

    def opted_out() -> bool:
        with AppState.opened(replicas.url) as state:
            return state.storage.opt_outs.is_opted_out(phone.msisdn)

    wait_for(opted_out, timeout=30, what="the opt-out to be recorded")
    name = replicas.command(1, f"send +{phone.msisdn} are you there?", trigger="after.stop")
    (answer,) = wait_for(
        lambda: [c.params for c in slack.calls_to("response_url") if c.path.endswith(name)],
        what="the other replica's answer",
    )
    assert "opted out" in answer["text"]
    with AppState.opened(replicas.url) as state:
        assert [e.msisdn for e in state.recipients()] == [phone.msisdn]  # only the card's
