"""Duplicate and out-of-order callbacks, and the parts of a multi-part reply that never complete.

The app runs with its workers stopped (`Options(start=False)`) and an injected clock: callbacks
arrive over HTTP at the real endpoints and are stored, then the test runs the inbox processor and
the Slack outbox itself, so each step happens exactly when it says.

- Every status callback of a 10-recipient card arrives twice, in a seeded random order, four at
  a time, with a late 003 after each final status: each is stored once (the rest are answered
  "OK (duplicate)"), and the card shows each recipient's furthest status.
- An inbound SMS delivered twice is posted once.
- A three-part reply whose second part never comes is posted, marked incomplete, only once the
  part wait (10 minutes of the injected clock) is over; the missing part arriving later is posted
  on its own, also marked incomplete: every part acknowledged reaches Slack exactly once.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bot.domain.records import NewRecipient
from bot.gateway.clickatell_http.codes import describe_status
from bot.sms.numbers import display_number
from bot.storage import open_storage
from bot.testing.app import FAST, SMS_CHANNEL, RunningApp
from bot.testing.callbacks import FORM, form, mo_params, status_params
from bot.testing.clocks import ManualClock
from bot.testing.signing import CHANNEL
from bot.testing.state import send_with_card

SEED = 6
MANUAL = dataclasses.replace(FAST, start=False)
PART_WAIT = 600.0  # seconds (the production default)
PHONE = "27821110042"


def deliver(app: RunningApp, kind: str, params: dict) -> requests.Response:
    return requests.post(
        f"{app.url}/clickatell/{kind}",
        data=form(params),
        headers=FORM,
        auth=app.callback_auth,
        timeout=10,
    )


def manual_app(
    make_app: Callable[..., RunningApp], **options: Any
) -> tuple[RunningApp, ManualClock]:
    """The app with its workers stopped; its workers and storage on one injected clock."""
    clock = ManualClock.from_wall_clock()
    app = make_app(
        inbound=dataclasses.replace(MANUAL, **options),
        clock=clock.utc,
        storage_factory=lambda path: open_storage(path, clock=clock.seconds),
    )
    return app, clock


def settle(app: RunningApp) -> None:
    """Process every stored callback, then send everything the outbox has due."""
    processor, outbox = app.inbound.processor, app.inbound.outbox
    while processor.run_once().processed:
        pass
    outbox.step()
    assert app.storage.outbox.count() == 0


def posts_with(app: RunningApp, words: str) -> list[dict]:
    return [
        m
        for (_, _), m in sorted(app.fake.messages.items())
        if words in json.dumps(m.get("blocks"), ensure_ascii=False)
    ]


def test_duplicate_and_out_of_order_reports_show_each_furthest_status(
    make_app: Callable[..., RunningApp],
) -> None:
    app, _ = manual_app(make_app)
    rng = random.Random(SEED)
    numbers = [f"278220000{index:02d}" for index in range(10)]
    recipients = [
        NewRecipient(msisdn=n, climsgid=f"order{i}", apimsgid=f"{i:032x}")
        for i, n in enumerate(numbers)
    ]
    card = send_with_card(app.storage, app.inbound.outbox.slack, CHANNEL, recipients)
    # Each recipient's reports: on its way, then (for most) one final status; the furthest is
    # what the card must show, whatever order they come in.
    finals = [rng.choice(["004", "007", "010", None]) for _ in numbers]
    reports = []
    for recipient, final in zip(recipients, finals, strict=True):
        codes = ["008", "003"] + ([final, "003"] if final else [])  # a late 003 after the final
        reports += [status_params(recipient.apimsgid, c, to=recipient.msisdn) for c in codes]
    stream = reports + [dict(r) for r in reports]  # the gateway retries every one once
    rng.shuffle(stream)
    sms = mo_params("mo-twice", PHONE, "Delivered twice")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda p: deliver(app, "status", p), stream))
    answers += [deliver(app, "mo", sms), deliver(app, "mo", sms)]
    assert {a.status_code for a in answers} == {200}
    unique = {(p["apiMsgId"], p["status"]) for p in stream}
    texts = Counter(a.text for a in answers)
    assert texts == {"OK\n": len(unique) + 1, "OK (duplicate)\n": len(answers) - len(unique) - 1}
    assert len(app.storage.inbox.unprocessed(limit=1000)) == len(unique) + 1

    settle(app)
    lines = _card_lines(app, card.card_ts)
    for recipient, final in zip(recipients, finals, strict=True):
        line = lines[display_number(recipient.msisdn)]
        assert describe_status(final or "003") in line, (recipient.msisdn, final, line)
    assert len(posts_with(app, "Delivered twice")) == 1


def _card_lines(app: RunningApp, ts: str) -> dict[str, str]:
    """The card's recipient lines ("✅ +27 82 … — Received by recipient · id"), by number."""
    blocks = app.fake.message(CHANNEL, ts)["blocks"]
    text = "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")
    return {m.group(1): m.group(0) for m in re.finditer(r"(\+[\d ]+\d) — .*", text)}


def test_parts_that_never_complete_are_posted_incomplete_after_the_wait(
    make_app: Callable[..., RunningApp],
) -> None:
    app, clock = manual_app(make_app, part_wait_seconds=PART_WAIT)
    processor = app.inbound.processor

    def part(momsgid: str, sequence: int, text: str) -> requests.Response:
        udh = f"0500034203{sequence:02X}"  # reference 0x42, 3 parts
        return deliver(app, "mo", mo_params(momsgid, PHONE, text, udh=udh))

    assert part("p1", 1, "one ").text == "OK\n"
    assert part("p3", 3, "three").text == "OK\n"
    assert part("p3", 3, "three").text == "OK (duplicate)\n"
    settle(app)
    clock.advance(PART_WAIT - 60)
    assert processor.flush_stale_parts() == 0
    settle(app)
    assert list(app.fake.channel_messages(SMS_CHANNEL)) == []  # still waiting for part 2

    clock.advance(61)
    assert processor.flush_stale_parts() == 1
    settle(app)
    (first,) = app.fake.channel_messages(SMS_CHANNEL)
    shown = json.dumps(first["blocks"], ensure_ascii=False)
    assert "one […]three" in shown and "Incomplete" in shown and "part 2 of 3" in shown

    assert part("p2", 2, "two").text == "OK\n"  # the lost part, long after
    settle(app)
    clock.advance(PART_WAIT + 1)
    assert processor.flush_stale_parts() == 1
    settle(app)
    late = [m for m in app.fake.channel_messages(SMS_CHANNEL) if m["ts"] != first["ts"]]
    assert len(late) == 1 and late[0].get("thread_ts") == first["ts"]  # in its conversation
    shown = json.dumps(late[0]["blocks"], ensure_ascii=False)
    assert "[…]two[…]" in shown and "Incomplete" in shown
    for words in ("one ", "three", "two"):  # each acknowledged part shown exactly once
        assert len(posts_with(app, words)) == 1, words
