"""A long-running process must not keep something for every send, callback or phone it ever
saw: the inbound side's in-memory state stops growing once its caches are full (issue 6).

Deterministic: the rig's fake clock, no worker threads. The caches are made tiny so that they
fill in a few dozen sends; then more of the same traffic must leave every container the inbound
side holds (dicts, lists, sets, deques, at any depth) no larger than it was."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from bot.domain.records import Send
from tests.inbound.rig import CHANNEL, Rig

CAP = 4
CHANNELS = (CHANNEL, "C0OTHER")
SENDS_PER_ROUND = 12


def containers(root: Any) -> Iterator[tuple[str, int]]:
    """(path, len) of every container reachable from `root` through the app's own objects."""
    seen: set[int] = set()
    todo: list[tuple[str, Any]] = [("inbound", root)]
    while todo:
        path, value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict | list | set | frozenset | deque | tuple):
            if not isinstance(value, tuple):
                yield path, len(value)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            todo += [(f"{path}[{key!r}]", item) for key, item in items]
        elif type(value).__module__.startswith("bot.") and hasattr(value, "__dict__"):
            todo += [(f"{path}.{name}", item) for name, item in vars(value).items()]


def sizes(rig: Rig) -> dict[str, int]:
    return dict(containers(rig.inbound))


def relayed_reply(rig: Rig, card: Send, phone: str) -> Send:
    """A person's reply in the card's thread, recorded as the relay records it (sent as SMS)."""
    send = rig.uncarded(phone, channel=card.card_channel, thread_ts=card.card_ts)
    rig.storage.sends.attach_card(send.id, card.card_channel, f"{card.card_ts}1")
    return send


def one_round(rig: Rig, round_number: int) -> None:
    """Cards in two channels with two reports per recipient, an SMS from each phone into its
    card's thread, a reply relayed to it with its reports, and a report for an unknown message."""
    for n in range(SENDS_PER_ROUND):
        phone = f"2782{round_number:03d}{n:04d}"
        card = rig.card(phone, channel=CHANNELS[n % 2])
        reply = relayed_reply(rig, card, phone)
        for code in ("003", "004"):
            rig.status(card.recipients[0].apimsgid, code, to=phone)
            rig.status(reply.recipients[0].apimsgid, code, to=phone)
        rig.status(f"unknown-{round_number}-{n}", "004", to=phone)
        rig.mo(phone, f"reply {round_number}-{n}")
        rig.settle()
        rig.clock.advance(20)  # past the retries of the unknown report


def test_more_traffic_leaves_every_in_memory_container_no_larger(rig: Rig, monkeypatch) -> None:
    monkeypatch.setattr("bot.inbound.CARD_CACHE_SIZE", CAP)
    for round_number in range(3):  # fill every cache
        one_round(rig, round_number)
    before = sizes(rig)
    assert before["inbound._cards"] == CAP  # the walk does see the caches
    for round_number in range(3, 6):
        one_round(rig, round_number)
    after = sizes(rig)
    grown = {path: (before.get(path, 0), n) for path, n in after.items() if n > before.get(path, 0)}
    assert grown == {}, f"grew with more traffic (before, after): {grown}"
    sends = 6 * SENDS_PER_ROUND  # the work was done:
    assert len(rig.fake.calls_to("chat.update")) == sends
    assert len(rig.fake.calls_to("reactions.add")) >= sends  # each relayed reply's status
