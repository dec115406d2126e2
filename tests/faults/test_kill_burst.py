"""SIGKILL at seeded random points of a burst of 1,000 callbacks, against a real
`python -m bot serve` (`ServedApp`), restarted each time.

The database is prepared first with 40 cards of 5 recipients each (posted in 40 channels of the
fake Slack). The burst, in a seeded random order, sent 8 at a time as the gateway would: for
every recipient a 003 and one final status, each delivered twice (800 status callbacks), and one
reply from every recipient's phone (200 MO callbacks). The server is killed when three seeded
numbers of callbacks (between 100 and 900) have been acknowledged, with others in flight, and
once more after the burst, when a seeded number of replies has reached Slack and the rest are
going out; a callback that got no answer (or a 503) is sent again, as the gateway retries.

"Reaches Slack exactly once" means: every reply is posted exactly once, in its card's thread;
every card ends up showing each recipient's final status (statuses are shown on the card, not
posted one by one).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from slack_sdk import WebClient

from bot.domain.records import NewRecipient
from bot.gateway.clickatell_http.codes import describe_status
from bot.sms.numbers import display_number
from bot.testing.app import AppOptions, database_path
from bot.testing.callbacks import FORM, form, mo_params, status_params
from bot.testing.process import ServedApp
from bot.testing.slack import FakeSlack
from bot.testing.state import AppState, send_with_card
from bot.testing.waiting import wait_for

pytestmark = pytest.mark.slow

SEED = 20240601
CARDS, PER_CARD = 40, 5
KILLS_DURING_BURST = 3
SENDERS = 8
AUTH = ("clickatell", "kill-burst-password")
OPTIONS = AppOptions(
    sms_channel="C0SMS",
    env={"CLICKATELL_CALLBACK_USER": AUTH[0], "CLICKATELL_CALLBACK_PASSWORD": AUTH[1]},
)
FINALS = ("004", "007", "010")


@dataclass(frozen=True)
class Callback:
    kind: str  # "status" or "mo"
    key: str  # what makes it unique (the same key twice is the gateway's retry)
    body: bytes


@dataclass(frozen=True)
class Phone:
    msisdn: str
    apimsgid: str
    channel: str
    card_ts: str
    final: str  # the status its card must end up showing
    reply: str  # the text its phone sends back


def prepare(db: Path, slack: FakeSlack, rng: random.Random) -> list[Phone]:
    """40 cards of 5 recipients, as `/sms send` leaves them; each recipient's final status."""
    phones = []
    client = WebClient(token="xoxb-kill-burst", base_url=slack.api_url)
    with AppState.opened(db) as state:
        for card in range(CARDS):
            channel = f"C0CARD{card:03d}"
            numbers = [f"2782{card:03d}{index:04d}" for index in range(PER_CARD)]
            recipients = [
                NewRecipient(msisdn=n, climsgid=f"burst{card}x{i}", apimsgid=f"{card:016x}{i:016x}")
                for i, n in enumerate(numbers)
            ]
            send = send_with_card(state.storage, client, channel, recipients)
            phones += [
                Phone(
                    r.msisdn, r.apimsgid, channel, send.card_ts, rng.choice(FINALS), f"R{r.msisdn}"
                )
                for r in recipients
            ]
    return phones


def burst(phones: list[Phone], rng: random.Random) -> list[Callback]:
    """1,000 callbacks in a seeded random order."""
    callbacks = []
    for phone in phones:
        for code in ("003", phone.final):
            params = status_params(phone.apimsgid, code, api_id="sandbox", to=phone.msisdn)
            callbacks += [Callback("status", f"{phone.apimsgid}:{code}", form(params))] * 2
        params = mo_params(f"mo{phone.msisdn}", phone.msisdn, phone.reply, api_id="sandbox")
        callbacks.append(Callback("mo", phone.msisdn, form(params)))
    rng.shuffle(callbacks)
    return callbacks


@dataclass
class Figures:
    acknowledged: int = 0  # 200 answers (the first for each delivery attempt that got one)
    unanswered: int = 0  # attempts that got no answer: the server was killed under them
    refused: int = 0  # 503 answers (retried)
    answers: Counter[str] = field(default_factory=Counter)


class Burst:
    """Sends callbacks like the gateway (retrying until a 200), kills the server at the given
    acknowledgement counts and starts it again."""

    def __init__(self, slack_api_url: str, directory: Path, kill_at: list[int]):
        self.slack_api_url, self.directory = slack_api_url, directory
        self.kill_at = list(kill_at)
        self.figures = Figures()
        self.servers: list[ServedApp] = []
        self._cond = threading.Condition()
        self._http = threading.local()
        self.restart()

    @property
    def server(self) -> ServedApp:
        return self.servers[-1]

    def restart(self) -> None:
        """SIGKILL the current server (if any) and start a new one on the same database."""
        with self._cond:
            if self.servers:
                self.server.kill()
            self.servers.append(ServedApp(self.slack_api_url, self.directory, OPTIONS))
            self._cond.notify_all()

    def deliver(self, callback: Callback) -> None:
        while True:
            with self._cond:
                server, generation = self.server, len(self.servers)
            answer = self._post(server.url, callback)
            with self._cond:
                if answer is None:
                    self.figures.unanswered += 1
                    # Killed under us: wait for the next server (the gateway retries later).
                    self._cond.wait_for(lambda g=generation: len(self.servers) > g, timeout=30)
                    continue
                if answer.status_code == 503:
                    self.figures.refused += 1
                    continue
                assert answer.status_code == 200, answer.text
                self.figures.acknowledged += 1
                self.figures.answers[answer.text.strip()] += 1
                due = self.kill_at and self.figures.acknowledged >= self.kill_at[0]
                if due:
                    self.kill_at.pop(0)
                    self.restart()
                return

    def _post(self, url: str, callback: Callback) -> requests.Response | None:
        session = getattr(self._http, "session", None) or requests.Session()
        self._http.session = session
        try:
            return session.post(
                f"{url}/clickatell/{callback.kind}",
                data=callback.body,
                headers=FORM,
                auth=AUTH,
                timeout=10,
            )
        except requests.RequestException:  # refused, reset, or cut off mid-answer
            session.close()
            self._http.session = None
            return None

    def close(self) -> None:
        for server in self.servers:
            server.kill()


@pytest.fixture
def sender(slack: FakeSlack, tmp_path: Path) -> Iterator[Callable]:
    bursts: list[Burst] = []

    def start(kill_at: list[int]) -> Burst:
        bursts.append(Burst(slack.api_url, tmp_path, kill_at))
        return bursts[-1]

    yield start
    for started in bursts:
        started.close()


def outstanding(db: Path) -> tuple[int, int]:
    """(callbacks not processed, Slack work not done), read from the database itself."""
    with AppState.opened(db) as state:
        return state.backlog()


def replies_shown(slack: FakeSlack) -> Counter[str]:
    """How often each phone's reply text appears in Slack (any channel)."""
    found: Counter[str] = Counter()
    for message in list(slack.messages.values()):
        found.update(re.findall(r"R27\d{9}", str(message.get("blocks"))))
    return found


def card_lines(slack: FakeSlack, channel: str, ts: str) -> dict[str, str]:
    blocks = slack.message(channel, ts).get("blocks") or []
    text = "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")
    return {m.group(1): m.group(0) for m in re.finditer(r"(\+[\d ]+\d) — .*", text)}


def test_every_acknowledged_callback_reaches_slack_once_across_kills(
    slack: FakeSlack, tmp_path: Path, sender: Callable
) -> None:
    rng = random.Random(SEED)
    db = database_path(tmp_path)
    phones = prepare(db, slack, rng)
    callbacks = burst(phones, rng)
    assert len(callbacks) == 1000
    kill_at = sorted(rng.sample(range(100, 900), KILLS_DURING_BURST))
    posts_before_last_kill = rng.randrange(20, 120)

    run = sender(kill_at)
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(run.deliver, callbacks))
    assert run.kill_at == []  # every planned kill happened during the burst
    # Once more while the replies are going out to Slack.
    wait_for(
        lambda: sum(replies_shown(slack).values()) >= posts_before_last_kill,
        timeout=30,
        what=f"{posts_before_last_kill} replies in Slack",
    )
    run.restart()
    wait_for(lambda: outstanding(db) == (0, 0), timeout=40, what="the inbox and outbox to empty")

    figures = run.figures
    unique = {(c.kind, c.key) for c in callbacks}
    assert figures.acknowledged == len(callbacks)  # each attempt retried until its 200
    assert figures.answers["OK"] >= len(unique) - figures.unanswered  # stored once each...
    assert figures.answers["OK"] <= len(unique)  # ...never twice
    shown = replies_shown(slack)
    assert shown == Counter(phone.reply for phone in phones)  # every reply exactly once
    for phone in phones:
        (posted,) = [
            m
            for (ch, _), m in slack.messages.items()
            if ch == phone.channel and phone.reply in str(m.get("blocks"))
        ]
        assert posted.get("thread_ts") == phone.card_ts
        line = card_lines(slack, phone.channel, phone.card_ts)[display_number(phone.msisdn)]
        assert describe_status(phone.final) in line, (phone, line)
    print(
        f"\nkill burst: {len(run.servers) - 1} kills (after {kill_at} acknowledgements and "
        f"{posts_before_last_kill} posts), {figures.unanswered} unanswered attempts, "
        f"{figures.refused} 503s, answers {dict(figures.answers)}"
    )
