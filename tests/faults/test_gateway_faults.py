"""The gateway misbehaves in the middle of a big send made through the real Slack command path:
`/sms send` to 300 recipients (one sendmsg POST) and to 600 (two POSTs, the fault on the second),
while the gateway times out, drops the connection, answers 901 or says the session expired.
The faults come from a proxy in front of the sandbox (tests/faults/gateway.py), before or after
the sandbox has taken the send.

Every phone gets exactly one SMS (counted per number in what the sandbox recorded); the card
accounts for every recipient once the gateway has answered (on its way, or refused: 114 for
27825550102), with nothing left "sending" or "outcome unknown"; and after a timed-out send the
delivery reports still reach every line of the card: received, failed (27825550101: 007) and
still on its way (27825550100 stays at 003).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from bot.container import SANDBOX_API_ID, SANDBOX_LOGIN
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.gateway import ClickatellHttpGateway
from bot.testing.app import FAST, RunningApp
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for
from tests.faults.gateway import Fault, FaultyGateway

FAILS = "27825550101"  # sandbox: delivery fails (007)
STAYS = "27825550100"  # sandbox: stays at 003
UNROUTABLE = "27825550102"  # sandbox: sendmsg refuses it (114)
# Card updates at most every half second (production: 3 s): re-rendering a 300-line card after
# every report would only slow the test down.
PACED = dataclasses.replace(FAST, timing=dataclasses.replace(FAST.timing, card_interval=0.5))
TIMEOUT = 0.3  # the client's gateway timeout (real seconds: the proxy holds the answer past it)


def recipients(count: int, *, unroutable: bool) -> list[str]:
    """`count` numbers: FAILS and UNROUTABLE (if asked) in the first 300, STAYS last."""
    special = [FAILS, UNROUTABLE] if unroutable else [FAILS]
    plain = [f"2782100{index:04d}" for index in range(count - len(special) - 1)]
    return [*plain[:100], *special, *plain[100:], STAYS]


@pytest.fixture
def faulty(make_app: Callable[..., RunningApp]) -> Iterator[Callable[[Fault, int], tuple]]:
    """The app whose gateway client talks to the sandbox through a FaultyGateway."""
    proxies: list[FaultyGateway] = []

    def build(fault: Fault, nth: int) -> tuple[RunningApp, FaultyGateway, list[float]]:
        app = make_app(sandbox_options={"balance": 10_000.0}, inbound=PACED)
        proxy = FaultyGateway(app.sandbox.url, fault, nth=nth)
        proxies.append(proxy)
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:  # the client's waits, injected: no real sleeping
            sleeps.append(seconds)
            proxy.release()  # the client gave up on the held answer

        client = ClickatellClient(
            proxy.url, SANDBOX_API_ID, SANDBOX_LOGIN, SANDBOX_LOGIN, timeout=TIMEOUT, sleep=sleep
        )
        app.services.gateway.close()
        # services.close() closes it
        app.services.gateway = ClickatellHttpGateway(client, account=SANDBOX_API_ID)
        return app, proxy, sleeps

    yield build
    for proxy in proxies:
        proxy.release()
        proxy.close()


def tally(text: str) -> dict[str, int]:
    """The card's tally line: state words -> count."""
    line = re.search(r"\*Status:\*([^\"]*)", text)
    assert line, text
    return {
        words: int(count)
        for count, words in re.findall(r"(\d+) ([a-z ]+?)(?= ·|$|\\n)", line.group(1))
    }


CASES = [(fault, 300, 1) for fault in Fault] + [
    (Fault.TIMEOUT, 600, 2),
    (Fault.SESSION_EXPIRED, 600, 2),
]


def send_through(app: RunningApp, numbers: list[str]) -> str:
    """`/sms send` to every number; waits until each recipient has the gateway's answer."""
    app.send("send " + ",".join(numbers) + " Fire drill at 3pm")

    def answered() -> bool:
        send = app.storage.sends.get(1)
        return all(r.apimsgid or r.status or r.error_code for r in send.recipients)

    wait_for(answered, what="the gateway's answer for every recipient")
    return app.card_ts()


def card_tally(app: RunningApp, ts: str, expected: dict[str, int]) -> str:
    """Wait until the card's tally is `expected`; the card's JSON."""
    wait_for(
        lambda: tally(app.card_text(CHANNEL, ts)) == expected, what=f"the card to show {expected}"
    )
    return app.card_text(CHANNEL, ts)


@pytest.mark.parametrize(
    ("fault", "count", "nth"),
    CASES,
    ids=[f"{fault.name.lower()}-{count}-sendmsg{nth}" for fault, count, nth in CASES],
)
def test_each_phone_gets_one_sms_and_the_card_shows_each_outcome(
    faulty: Callable[[Fault, int], tuple], fault: Fault, count: int, nth: int
) -> None:
    app, proxy, sleeps = faulty(fault, nth)
    # A refusal inside a chunk whose answer was lost cannot be known (querymsg by climsgid
    # confirms the chunk, not each number), so the unroutable number rides in a sound chunk.
    unroutable = not (proxy.takes_the_send and nth == 1)
    numbers = recipients(count, unroutable=unroutable)
    ts = send_through(app, numbers)

    per_phone = Counter(m.to for m in app.sandbox.messages())
    delivered = [n for n in numbers if n != UNROUTABLE]
    assert per_phone == Counter(delivered)  # every phone exactly once, nobody else
    chunks = count // 300
    assert len(proxy.calls("sendmsg")) == chunks + (0 if proxy.takes_the_send else 1)
    if fault is Fault.SESSION_EXPIRED:
        assert len(proxy.calls("auth")) == 2  # logged in again once, then resent
    else:
        assert len(proxy.calls("querymsg")) == 1  # checked by climsgid before any resend
        assert sleeps  # waited (injected) before checking

    expected = {"on the way": count - 1, "failed": 1} if unroutable else {"on the way": count}
    card = card_tally(app, ts, expected)  # nothing left "sending" or "outcome unknown"
    if unroutable:
        assert "+27 82 555 0102" in card and "code 114" in card
    assert len(list(app.fake.channel_messages(CHANNEL))) == 1  # one card, updated in place


def test_reports_after_a_timed_out_send_reach_every_recipient(
    faulty: Callable[[Fault, int], tuple],
) -> None:
    """The hardest case for the card: the answer with the message IDs was lost, so every report
    is matched by climsgid and number; the card then shows each final outcome."""
    app, proxy, _ = faulty(Fault.TIMEOUT, 1)
    numbers = recipients(300, unroutable=False)
    ts = send_through(app, numbers)
    assert len(proxy.calls("querymsg")) == 1  # the answer was lost: no message IDs known
    app.advance(0)  # 003 for all
    app.advance(1.0)  # 004, and 007 for FAILS
    card = card_tally(app, ts, {"received": 298, "on the way": 1, "failed": 1})
    assert "+27 82 555 0101" in card
    assert Counter(m.to for m in app.sandbox.messages()) == Counter(numbers)
    assert len(list(app.fake.channel_messages(CHANNEL))) == 1
