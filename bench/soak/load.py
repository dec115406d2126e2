"""The soak's load: signed `/sms send` commands and thread replies (`Commander`), and external
Clickatell callbacks with basic auth (`CallbackStream`), each at a steady pace in its own thread,
each request's latency and answer recorded per kind (`Stream`).
"""

from __future__ import annotations

import itertools
import random
import secrets
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import requests

from bench.bench_ack import percentile
from bench.soak.cards import CardIndex
from bench.soak.plan import (
    API_ID,
    CALLBACK_USER,
    USER,
    Command,
    ExternalMo,
    Options,
    Secrets,
    plain_number,
    plan_command,
    plan_mo,
)
from bot.gateway.clickatell_http.sandbox import SandboxServer, SentMessage
from bot.testing.callbacks import FORM, form, status_params
from bot.testing.signing import event_callback, slash_command
from bot.testing.slack import FakeSlack

REPLY_AFTER = 5.0  # a card this old (seconds) may get a person's reply in its thread


@dataclass(frozen=True)
class Sent:
    command: Command
    status: int
    latency: float


@dataclass(frozen=True)
class ThreadReply:
    number: int
    command: Command
    channel: str
    thread_ts: str
    ts: str
    text: str
    status: int
    latency: float


@dataclass
class Stream:
    """Latencies and answers of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def record(self, started: float, response: requests.Response | None, error: str = "") -> None:
        self.latencies.append(time.perf_counter() - started)
        if response is None:
            self.failures[error] += 1
        elif response.status_code != 200:
            self.failures[f"HTTP {response.status_code}"] += 1

    def summary(self) -> str:
        if not self.latencies:
            return "none"
        ms = [value * 1000 for value in self.latencies]
        return (
            f"p50 {percentile(ms, 0.50):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms"
        )


def paced(window: tuple[float, float], rate: float, stop: threading.Event) -> Iterator[int]:
    """0, 1, 2, ... each at start + i / rate (perf_counter) within window = (start, until);
    stops early on `stop`. A late tick is not made up for with a burst: the schedule slips."""
    start, until = window
    index = 0
    while not stop.is_set():
        due = start + index / rate
        if due >= until:
            return
        delay = due - time.perf_counter()
        if delay > 0 and stop.wait(delay):
            return
        yield index
        index += 1


class Rotation:
    """The replicas' URLs in turn, as a round-robin load balancer hands requests out."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._urls = list(urls)
        self._turns = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return self._urls[next(self._turns) % len(self._urls)]


class Commander(threading.Thread):
    """Signed `/sms send` commands at a steady rate, and now and then a thread reply."""

    def __init__(
        self,
        app_urls: Sequence[str],
        fake: FakeSlack,
        cards: CardIndex,
        options: Options,
        keys: Secrets,
        window: tuple[float, float],
        stop: threading.Event,
    ):
        super().__init__(name="commander", daemon=True)
        self.urls, self.fake, self.cards = Rotation(app_urls), fake, cards
        self.options, self.keys, self.window, self.stop = options, keys, window, stop
        self.sent: list[Sent] = []
        self.replies: list[ThreadReply] = []
        self.commands, self.events = Stream(), Stream()
        self._candidates: deque[tuple[Command, float]] = deque()
        self._http = requests.Session()

    def run(self) -> None:
        run_id = secrets.token_hex(3)
        try:
            for index in paced(self.window, self.options.rate, self.stop):
                command = plan_command(index, self.options)
                self._send(command, run_id)
                if index % 10 == 7:
                    self._reply_in_a_thread(len(self.replies))
        finally:
            self._http.close()

    def _post(self, body: bytes, headers: dict[str, str], stream: Stream) -> int:
        started = time.perf_counter()
        try:
            response = self._http.post(
                f"{self.urls.next()}/slack/events", data=body, headers=headers, timeout=30
            )
        except requests.RequestException as error:
            stream.record(started, None, type(error).__name__)
            return 0
        stream.record(started, response)
        return response.status_code

    def _send(self, command: Command, run_id: str) -> None:
        request = slash_command(
            command.slash_text,
            user_id=USER,
            channel_id=command.channel,
            trigger_id=f"{command.index}.{run_id}",
            response_url=self.fake.response_url(f"soak-{command.index}"),
        )
        started = time.perf_counter()
        status = self._post(request.body, request.headers(self.keys.signing), self.commands)
        self.sent.append(Sent(command, status, time.perf_counter() - started))
        if status == 200 and command.kind in ("plain", "unicode"):
            self._candidates.append((command, time.monotonic()))

    def _reply_in_a_thread(self, number: int) -> None:
        """A person answers in the thread of a single-recipient card a few seconds old: the
        app texts the reply to that card's phone and marks it with reactions."""
        while self._candidates and time.monotonic() - self._candidates[0][1] >= REPLY_AFTER:
            command, _ = self._candidates.popleft()
            card = self.cards.card(command.index)
            if card is None:
                continue  # no card yet: the checks report that command anyway
            channel, card_ts = card
            text = f"reply-{number:05d} thanks, see you at five"
            message = self.fake.post_user_message(channel, USER, text, thread_ts=card_ts)
            event = {
                "type": "message",
                "channel": channel,
                "user": USER,
                "text": text,
                "ts": message["ts"],
                "thread_ts": card_ts,
                "channel_type": "channel",
            }
            request = event_callback(event, event_id=f"EvSoak{number:06d}")
            started = time.perf_counter()
            status = self._post(request.body, request.headers(self.keys.signing), self.events)
            latency = time.perf_counter() - started
            self.replies.append(
                ThreadReply(number, command, channel, card_ts, message["ts"], text, status, latency)
            )
            return


class CallbackStream(threading.Thread):
    """External callbacks with basic auth at a steady rate: copies of real delivery reports
    (the same status again, or an older one after a newer), reports for unknown messages, and
    SMS from phones the app never texted."""

    def __init__(
        self,
        app_urls: Sequence[str],
        sandbox: SandboxServer,
        options: Options,
        keys: Secrets,
        window: tuple[float, float],
        stop: threading.Event,
    ):
        super().__init__(name="callbacks", daemon=True)
        self.urls, self.sandbox, self.options = Rotation(app_urls), sandbox, options
        self.window, self.stop = window, stop
        self.auth = (CALLBACK_USER, keys.callback_password)
        self.statuses, self.mos = Stream(), Stream()
        self.sent_mos: list[ExternalMo] = []
        self.kinds: Counter[str] = Counter()
        self._rng = random.Random(options.seed)
        self._known: list[SentMessage] = []
        self._known_at = 0.0
        self._http = requests.Session()

    def run(self) -> None:
        every = self.options.mo_every
        try:
            for index in paced(self.window, self.options.callbacks, self.stop):
                if every and index % every == 0:
                    self._mo(index // every)
                else:
                    self._status()
        finally:
            self._http.close()

    def _post(self, path: str, params: Mapping[str, str | bytes], stream: Stream) -> None:
        started = time.perf_counter()
        try:
            response = self._http.post(
                self.urls.next() + path, data=form(params), headers=FORM, auth=self.auth, timeout=30
            )
        except requests.RequestException as error:
            stream.record(started, None, type(error).__name__)
            return
        stream.record(started, response)

    def _mo(self, number: int) -> None:
        mo, calls = plan_mo(number)
        self.sent_mos.append(mo)
        for params in calls:
            self._post("/clickatell/mo", params, self.mos)

    def _status(self) -> None:
        message = self._pick()
        if message is None or self._rng.random() < 0.05:
            # A report for a message nobody sent: retried by the app a few times, then dropped.
            kind, unknown = "unknown", f"soakunknown{secrets.token_hex(8)}"
            params = status_params(unknown, "004", api_id=API_ID, to=plain_number(0, 0))
        else:
            older = message.status in ("004", "007") and self._rng.random() < 0.5
            status, kind = ("003", "older") if older else (message.status, "duplicate")
            params = status_params(
                message.apimsgid,
                status,
                api_id=API_ID,
                to=message.to,
                climsgid=message.climsgid or "",
            )
        self.kinds[kind] += 1
        self._post("/clickatell/status", params, self.statuses)

    def _pick(self) -> SentMessage | None:
        """A message the gateway accepted at least 3 s ago (its reports are out)."""
        now = time.time()
        if now - self._known_at > 2.0:
            self._known = [m for m in self.sandbox.messages() if now - m.created >= 3.0]
            self._known_at = now
        return self._rng.choice(self._known) if self._known else None
