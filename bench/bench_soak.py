"""A bounded soak of the whole app (issue 6, "Load and soak").

The real app runs as `python -m bot serve` in its own process (so its RSS is its own); the
sandbox gateway and the fake Slack Web API run in this process; everything is on 127.0.0.1:

- the sandbox is the app's gateway (CLICKATELL_BASE_URL, its own api_id and login; the app's
  calls are counted, `--session-ttl` below a second makes the session expire between most
  sends); its status and MO callbacks go to the app's /clickatell/status and /clickatell/mo with
  basic auth;
- the fake Slack (tests/support/fake_slack.py) is SLACK_API_URL;
- steady signed `/sms send` commands over several channels: plain, Unicode, several recipients
  (some delivery failures and messages that stay at the gateway), 12-recipient tally cards, and
  the echoing magic number 27825550103, whose replies come back as MO callbacks into the card's
  thread; now and then a person's reply in a card's thread (a signed message event), relayed to
  the phone as an SMS;
- beside them, a steady stream of external callbacks with basic auth: duplicates and older
  copies of real delivery reports, reports for unknown messages, and SMS from other phones (with
  Slack control sequences, in UTF-16BE, in two parts out of order, delivered twice).

Printed: throughput, p50/p99 acknowledgement latency of commands and callbacks, the app's RSS at
start, every minute and at the end with its slope over the second half of the load, and the
count of anything lost, duplicated or wrong, checked after a drain period against the sandbox's
own records, what the fake Slack shows, and the app's database. Exit status 1 if anything was
lost, duplicated or wrong. Everything is bounded: the load stops after `--minutes`, the drain
after `--drain` seconds.

    .venv/bin/python bench/bench_soak.py [--minutes 10] [--rate 1] [--callbacks 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ack import percentile  # noqa: E402
from bot.blocks.base import escape  # noqa: E402
from bot.clickatell.callbacks import concatenation_udh  # noqa: E402
from bot.clickatell.codes import describe_status, is_final  # noqa: E402
from bot.clickatell.numbers import display_number  # noqa: E402
from bot.clickatell.sandbox import (  # noqa: E402
    NUMBER_DELIVERY_FAILS,
    NUMBER_ECHOES,
    NUMBER_STAYS_AT_GATEWAY,
    SandboxServer,
    SentMessage,
)
from bot.testing.callbacks import FORM, form, mo_params, status_params  # noqa: E402
from bot.testing.sandbox import GatewayCalls  # noqa: E402
from bot.testing.signing import event_callback, slash_command  # noqa: E402
from bot.testing.slack import Activity, FakeSlack  # noqa: E402

API_ID = "soak"
GATEWAY_USER = "soak-user"
CALLBACK_USER = "clickatell"
USER = "U0SOAK"
SMS_CHANNEL = "C0SOAKSMS"
EXTERNAL_PHONES = tuple(f"2783900{k:04d}" for k in range(20))  # never sent to: MO-only phones
ECHO_SPACING = 8.0  # seconds between sends to the echoing number: its reply has one right thread
REPLY_AFTER = 5.0  # a card this old (seconds) may get a person's reply in its thread
RECEIVED, FAILED, QUEUED = "white_check_mark", "x", "outbox_tray"

CARD_HEADING = ":incoming_envelope: *SMS*"
COMMAND_TOKEN = re.compile(r"soak-(\d{6})")
ECHO_TOKEN = re.compile(r"Got it: soak-(\d{6})")
MO_TOKEN = re.compile(r"ext-(\d{6})")
CONTROL_SEQUENCES = ("<!channel>", "<@U0BOSS>", "<https://")


@dataclass(frozen=True)
class Options:
    minutes: float
    rate: float  # commands per second
    callbacks: float  # external callbacks per second
    mo_rate: float  # of which inbound SMS per second (all posted in SMS_CHANNEL: <= 1/s)
    channels: int
    drain: float
    sample: float
    session_ttl: float
    seed: int
    trace_memory: bool = False

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0

    @property
    def echo_every(self) -> int:
        """Every n-th command goes to the echoing number, at least ECHO_SPACING apart."""
        return max(10, math.ceil(ECHO_SPACING * self.rate))

    @property
    def mo_every(self) -> int:
        return max(1, round(self.callbacks / self.mo_rate)) if self.mo_rate > 0 else 0


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Command:
    """One `/sms send` of the soak; its text starts with a token unique to it."""

    index: int
    kind: str  # plain, unicode, multi, tally, echo
    channel: str
    to: tuple[str, ...]
    text: str

    @property
    def token(self) -> str:
        return f"soak-{self.index:06d}"

    @property
    def slash_text(self) -> str:
        return f"send {','.join(self.to)} {self.text}"


def _plain(index: int, slot: int) -> str:
    """A distinct ordinary number per command and recipient slot (delivered: 003, 004)."""
    return str(27_821_000_000 + index * 16 + slot)


def plan_command(index: int, options: Options) -> Command:
    channel = f"C0SOAK{index % options.channels:02d}"
    token = f"soak-{index:06d}"
    if index % options.echo_every == 0:
        return Command(index, "echo", channel, (NUMBER_ECHOES,), f"{token} echo please")
    if index % 50 == 25:
        plain = (_plain(index, slot) for slot in range(10))
        to = (*plain, NUMBER_DELIVERY_FAILS, NUMBER_STAYS_AT_GATEWAY)
        return Command(index, "tally", channel, to, f"{token} to twelve phones")
    if index % 5 == 2:
        odd = NUMBER_DELIVERY_FAILS if index % 2 else NUMBER_STAYS_AT_GATEWAY
        to = (_plain(index, 0), _plain(index, 1), odd, _plain(index, 2))
        return Command(index, "multi", channel, to, f"{token} to four phones [ok] ~ {{x}}")
    if index % 5 == 4:
        text = f"{token} Привет, мир ✅ € ünïcödé 📱"
        return Command(index, "unicode", channel, (_plain(index, 0),), text)
    text = f"{token} hello from the soak, message {index}"
    return Command(index, "plain", channel, (_plain(index, 0),), text)


@dataclass(frozen=True)
class ExternalMo:
    """An SMS from a phone that was never sent to, posted straight at /clickatell/mo."""

    number: int
    sender: str
    text: str
    first: bool  # the first SMS from this phone: it starts a conversation in SMS_CHANNEL
    control: bool  # carries Slack control sequences that must be shown literally

    @property
    def token(self) -> str:
        return f"ext-{self.number:06d}"


TWO_PARTS = (" first half of a long reply, ", "and here is the second half.")


def plan_mo(number: int) -> tuple[ExternalMo, list[dict[str, str | bytes]]]:
    """The SMS and the callbacks (one or more requests) that deliver it."""
    sender = EXTERNAL_PHONES[number % len(EXTERNAL_PHONES)]
    token, variant = f"ext-{number:06d}", number % 5
    first = number < len(EXTERNAL_PHONES)
    momsgid = f"soakmo{number:06d}"
    if variant == 1:
        text = f"{token} hi <!channel> & <@U0BOSS> <https://x.test|click>"
        mo = ExternalMo(number, sender, text, first, True)
        return mo, [_mo(momsgid, sender, text)]
    if variant == 2:
        text = f"{token} Здравствуйте ✅"
        mo = ExternalMo(number, sender, text, first, False)
        return mo, [_mo(momsgid, sender, text, charset="UTF-16BE")]
    if variant == 3:  # two parts, the second first
        parts = (token + TWO_PARTS[0], TWO_PARTS[1])
        mo = ExternalMo(number, sender, "".join(parts), first, False)
        udh = [concatenation_udh(number % 256, 2, seq) for seq in (1, 2)]
        calls = [
            _mo(f"{momsgid}p{seq}", sender, parts[seq - 1], udh=udh[seq - 1]) for seq in (2, 1)
        ]
        return mo, calls
    text = f"{token} hello from a phone"
    mo = ExternalMo(number, sender, text, first, False)
    call = _mo(momsgid, sender, text)
    return mo, [call, call] if variant == 4 else [call]  # variant 4: the gateway retries it


def _mo(momsgid: str, sender: str, text: str, **options: Any) -> dict[str, str | bytes]:
    return mo_params(momsgid, sender, text, api_id=API_ID, **options)


# --------------------------------------------------------------------------- the app process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Secrets:
    """Fresh secrets for the run; the app's log is searched for each of them at the end."""

    signing: str = field(default_factory=lambda: secrets.token_hex(16))
    gateway_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    callback_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def all(self) -> tuple[str, ...]:
        return (self.signing, self.gateway_password, self.callback_password)


class AppProcess:
    """`python -m bot serve` configured for a real gateway (the sandbox at `gateway_url`)."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        slack_url: str,
        gateway_url: str,
        keys: Secrets,
        trace_memory: bool = False,
    ):
        self.url = f"http://127.0.0.1:{port}"
        # --trace-memory: the same app under tracemalloc, answering snapshot requests (files).
        self.trace_dir = workdir / "tracemalloc" if trace_memory else None
        self.db_path = workdir / "soak.sqlite3"
        self.log_path = workdir / "app.log"
        # Only this configuration: nothing of the caller's own SLACK_/CLICKATELL_/SMS_ settings.
        ours = ("SLACK_", "CLICKATELL_", "SMS_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "SLACK_BOT_TOKEN": "xoxb-soak-token",
                "SLACK_SIGNING_SECRET": keys.signing,
                "SLACK_API_URL": slack_url,
                "SMS_CHANNEL": SMS_CHANNEL,
                "CLICKATELL_API_ID": API_ID,
                "CLICKATELL_USER": GATEWAY_USER,
                "CLICKATELL_PASSWORD": keys.gateway_password,
                "CLICKATELL_BASE_URL": gateway_url,
                "CLICKATELL_CALLBACK_USER": CALLBACK_USER,
                "CLICKATELL_CALLBACK_PASSWORD": keys.callback_password,
                "SMS_BOT_DB": str(self.db_path),
                "SMS_ALLOWED_USERS": "",
                "HOST": "127.0.0.1",
                "PORT": str(port),
            }
        )
        self.entry = "bot"
        if self.trace_dir is not None:
            self.trace_dir.mkdir()
            env["SOAK_TRACE_DIR"] = str(self.trace_dir)
            self.entry = "bench._traced_app"
        self._log = self.log_path.open("w")
        # The working directory is the temporary one, so no .env of the checkout is loaded.
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.entry, "serve"],
            cwd=workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited at start-up: {self.log_tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the app did not become healthy: {self.log_tail()}")

    def rss_kib(self) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def memory_snapshot(self, name: str, timeout: float = 300.0) -> tracemalloc.Snapshot:
        """Every live Python allocation of the app now (only with `trace_memory`)."""
        assert self.trace_dir is not None, "the app runs without tracemalloc"
        (self.trace_dir / f"{name}.request").touch()
        answer = self.trace_dir / f"{name}.tm"
        deadline = time.monotonic() + timeout
        while not answer.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the app wrote no memory snapshot: {self.log_tail()}")
            time.sleep(0.2)
        return tracemalloc.Snapshot.load(str(answer))

    def backlog(self) -> tuple[int, int]:
        """(callbacks not processed yet, Slack/gateway work still pending) from the database."""
        with read_only(self.db_path) as db:
            inbox = db.execute("SELECT count(*) FROM inbox WHERE processed_at IS NULL")
            outbox = db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'")
            return inbox.fetchone()[0], outbox.fetchone()[0]

    def stop(self) -> int:
        """SIGTERM (a clean stop, as a service manager does it); the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return int(self.process.returncode)

    def log_tail(self, lines: int = 15) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        yield db
    finally:
        db.close()


# --------------------------------------------------------------------------- what Slack shows


class CardIndex:
    """Watches the fake Slack for cards as they are posted (the commander replies in their
    threads); the final checks read the fake's messages themselves."""

    def __init__(self, fake: FakeSlack) -> None:
        self._cards: dict[int, tuple[str, str]] = {}
        self._lock = threading.Lock()
        fake.subscribe(self._observe)

    def _observe(self, activity: Activity) -> None:
        if activity.kind != "post" or not activity.ok or activity.message is None:
            return
        index = card_index(activity.message)
        if index is not None and activity.channel and activity.ts:
            with self._lock:
                self._cards.setdefault(index, (activity.channel, activity.ts))

    def card(self, index: int) -> tuple[str, str] | None:
        with self._lock:
            return self._cards.get(index)


def _block_text(block: Mapping[str, Any]) -> str:
    text = block.get("text")
    return str(text.get("text", "")) if isinstance(text, Mapping) else ""


def card_index(message: Mapping[str, Any]) -> int | None:
    """The command index of a send card (top level, heading, quoted text), else None."""
    blocks = message.get("blocks") or []
    if message.get("thread_ts") or len(blocks) < 4:
        return None
    if not _block_text(blocks[0]).startswith(CARD_HEADING):
        return None
    found = COMMAND_TOKEN.match(_block_text(blocks[1]).lstrip(">"))
    return int(found.group(1)) if found else None


# --------------------------------------------------------------------------- the load


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


class Commander(threading.Thread):
    """Signed `/sms send` commands at a steady rate, and now and then a thread reply."""

    def __init__(
        self,
        app_url: str,
        fake: FakeSlack,
        cards: CardIndex,
        options: Options,
        keys: Secrets,
        window: tuple[float, float],
        stop: threading.Event,
    ):
        super().__init__(name="commander", daemon=True)
        self.app_url, self.fake, self.cards = app_url, fake, cards
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
                f"{self.app_url}/slack/events", data=body, headers=headers, timeout=30
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
        app_url: str,
        sandbox: SandboxServer,
        options: Options,
        keys: Secrets,
        window: tuple[float, float],
        stop: threading.Event,
    ):
        super().__init__(name="callbacks", daemon=True)
        self.app_url, self.sandbox, self.options = app_url, sandbox, options
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
                self.app_url + path, data=form(params), headers=FORM, auth=self.auth, timeout=30
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
            params = status_params(unknown, "004", api_id=API_ID, to=_plain(0, 0))
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


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load started
    rss_kib: int
    inbox: int
    outbox: int


class Sampler(threading.Thread):
    """The app's RSS and backlog every `sample` seconds; a progress line every minute."""

    def __init__(self, app: AppProcess, started: float, interval: float, progress: Any):
        super().__init__(name="sampler", daemon=True)
        self.app, self.started, self.interval = app, started, interval
        self.progress = progress
        self.samples: list[Sample] = []
        self.stop = threading.Event()

    def take(self) -> Sample | None:
        rss = self.app.rss_kib()
        if rss is None:
            return None
        try:
            inbox, outbox = self.app.backlog()
        except sqlite3.Error:
            inbox = outbox = -1
        sample = Sample(time.perf_counter() - self.started, rss, inbox, outbox)
        self.samples.append(sample)
        return sample

    def run(self) -> None:
        next_line = 60.0  # the start was printed already
        while not self.stop.wait(self.interval):
            sample = self.take()
            if sample is not None and sample.at >= next_line:
                self.progress(sample)
                next_line += 60.0


class MemoryGrowth(threading.Thread):
    """`--trace-memory`: snapshots of the app's Python allocations when the second half of the
    load begins and when it ends; `sites()` names what grew in between, where it was allocated."""

    def __init__(self, app: AppProcess, half_way: float, stop: threading.Event) -> None:
        super().__init__(name="memory-growth", daemon=True)
        self.app, self.half_way, self.stop = app, half_way, stop
        self.first: tracemalloc.Snapshot | None = None

    def run(self) -> None:
        if not self.stop.wait(max(0.0, self.half_way - time.perf_counter())):
            self.first = self.app.memory_snapshot("half-way")

    def sites(self, top: int = 12) -> list[str]:
        self.join()
        if self.first is None:
            return ["  (the load ended before its second half: no memory snapshots)"]
        return growth_sites(self.first, self.app.memory_snapshot("end-of-load"), top)


def growth_sites(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int) -> list[str]:
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "traceback")
    total = sum(s.size_diff for s in stats) / 1024
    lines = [
        f"  Python allocations (tracemalloc) over the second half of the load: {total:+.0f} KiB "
        f"in {sum(s.count_diff for s in stats):+d} blocks; the {top} sites that grew most:"
    ]
    by_site: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])  # size, blocks
    for stat in stats:  # whole tracebacks, summed by what `where` shows
        site = by_site[where(stat.traceback)]
        site[0] += stat.size_diff
        site[1] += stat.count_diff
    for name, (size, blocks) in sorted(by_site.items(), key=lambda s: s[1][0], reverse=True)[:top]:
        lines.append(f"    {size / 1024:+7.1f} KiB {blocks:+6d} blocks  {name}")
    return lines


def where(traceback: tracemalloc.Traceback) -> str:
    """The allocating line and the app's nearest other line above it (who keeps it, usually)."""
    frames = list(traceback)  # oldest first

    def name(frame: tracemalloc.Frame) -> str:
        path = Path(frame.filename)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        return f"{shown}:{frame.lineno}"

    allocated = name(frames[-1])
    callers = [name(f) for f in frames[:-1] if Path(f.filename).is_relative_to(ROOT / "bot")]
    callers = [c for c in callers if c != allocated]
    return f"{allocated} (from {callers[-1]})" if callers else allocated


# --------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Tally:
    """One integrity check: how many were expected, and how many were lost, duplicated or
    wrong (in the wrong place or showing the wrong thing)."""

    name: str
    expected: int
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    examples: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong)

    def line(self) -> str:
        verdict = "ok" if self.clean else "PROBLEM"
        text = (
            f"  {self.name:<46} {self.expected:>6} expected: lost {self.lost}, "
            f"duplicated {self.duplicated}, wrong {self.wrong}  [{verdict}]"
        )
        if self.examples:
            text += "\n" + "\n".join(f"      e.g. {e}" for e in self.examples[:3])
        return text


@dataclass(frozen=True)
class Post:
    channel: str
    ts: str
    thread_ts: str | None
    blob: str  # the message as JSON (ensure_ascii=False), for searching

    @property
    def order(self) -> tuple[int, int]:
        seconds, _, fraction = self.ts.partition(".")
        return int(seconds), int(fraction or 0)


@dataclass
class Snapshot:
    """Everything the checks compare, taken at one moment."""

    sent: list[Sent]
    replies: list[ThreadReply]
    mos: list[ExternalMo]
    gateway: list[SentMessage]
    messages: dict[tuple[str, str], dict[str, Any]]
    reactions: dict[tuple[str, str], list[str]]

    def posts(self) -> Iterable[Post]:
        for (channel, ts), message in self.messages.items():
            if message.get("user"):  # a person's message (the thread replies we typed)
                continue
            blob = json.dumps(message, ensure_ascii=False)
            yield Post(channel, ts, message.get("thread_ts"), blob)


def _by_token(posts: Iterable[Post], pattern: re.Pattern[str]) -> dict[int, list[Post]]:
    found: dict[int, list[Post]] = defaultdict(list)
    for post in posts:
        for index in {int(m.group(1)) for m in pattern.finditer(post.blob)}:
            found[index].append(post)
    return found


def check_cards(snap: Snapshot, by_command: dict[int, list[SentMessage]]) -> list[Tally]:
    cards: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for key, message in snap.messages.items():
        index = card_index(message)
        if index is not None:
            cards[index].append(key)
    acked = [s.command for s in snap.sent if s.status == 200]
    lost = [c for c in acked if not cards.get(c.index)]
    doubled = [c for c in acked if len(cards.get(c.index, [])) > 1]
    wrong = []
    for command in acked:
        keys = cards.get(command.index, [])
        if len(keys) == 1:
            problem = card_problem(command, snap.messages[keys[0]], by_command[command.index])
            if problem:
                wrong.append(f"{command.token}: {problem}")
    return [
        Tally(
            "send cards (one per command)",
            len(acked),
            len(lost),
            len(doubled),
            0,
            tuple(f"{c.token} lost" for c in lost) + tuple(f"{c.token} twice" for c in doubled),
        ),
        Tally("card states matching the gateway's", len(acked), 0, 0, len(wrong), tuple(wrong)),
    ]


_STATE_WORDS = {"004": "received", "003": "on the way"}


def card_problem(command: Command, card: Mapping[str, Any], gateway: list[SentMessage]) -> str:
    """What the card shows that the gateway's records contradict; '' when it matches."""
    if card.get("channel") != command.channel:
        return f"in {card.get('channel')}, not {command.channel}"
    by_number = {m.to: m for m in gateway}
    recipients = _block_text(card["blocks"][3])
    if len(command.to) > 10:  # a tally: counts per state
        states = Counter(
            _STATE_WORDS.get(by_number[n].status, "failed") if n in by_number else "missing"
            for n in command.to
        )
        if states["missing"]:
            return f"{states['missing']} recipients have no gateway message"
        # The summary reads ":white_check_mark: 10 received · :x: 1 failed · ...".
        lacking = [f"{n} {word}" for word, n in states.items() if f": {n} {word}" not in recipients]
        return f"the tally lacks {lacking}: {recipients!r}" if lacking else ""
    lines = recipients.split("\n")
    for number in command.to:
        message = by_number.get(number)
        if message is None:
            return f"no gateway message for {number}"
        shown = [line for line in lines if display_number(number) in line]
        words = escape(describe_status(message.status))
        if len(shown) != 1 or words not in shown[0] or message.apimsgid not in shown[0]:
            return f"{number} shows {shown} but the gateway says {message.status}"
    return ""


def check_sms(snap: Snapshot, by_command: dict[int, list[SentMessage]]) -> list[Tally]:
    expected = lost = doubled = wrong = 0
    examples: list[str] = []
    for sent in snap.sent:
        if sent.status != 200:
            continue
        command = sent.command
        counts = Counter(m.to for m in by_command.get(command.index, []))
        expected += len(command.to)
        lost += sum(1 for n in command.to if counts[n] == 0)
        doubled += sum(counts[n] - 1 for n in command.to if counts[n] > 1)
        strays = [n for n in counts if n not in command.to]
        texts = [m for m in by_command.get(command.index, []) if m.text != command.text]
        wrong += len(strays) + len(texts)
        if strays or texts or sorted(counts.elements()) != sorted(command.to):
            examples.append(f"{command.token}: {dict(counts)}, texts as typed: {not texts}")
    per_chunk = Counter((m.climsgid, m.to) for m in snap.gateway)
    twice = sum(count - 1 for count in per_chunk.values() if count > 1)
    return [
        Tally(
            "SMS per command and phone (gateway's list)",
            expected,
            lost,
            doubled,
            wrong,
            tuple(examples),
        ),
        Tally("SMS per climsgid and phone", len(per_chunk), 0, twice, 0),
    ]


def check_echoes(snap: Snapshot) -> Tally:
    """Each echo command's phone reply: posted once, in the thread of that command's card."""
    echoes = [s.command for s in snap.sent if s.status == 200 and s.command.kind == "echo"]
    posts = _by_token(snap.posts(), ECHO_TOKEN)
    cards = {card_index(m): key for key, m in snap.messages.items()}
    lost = doubled = wrong = 0
    examples = []
    for command in echoes:
        found = posts.get(command.index, [])
        lost += not found
        doubled += max(0, len(found) - 1)
        card = cards.get(command.index)
        misplaced = [p for p in found if card is None or (p.channel, p.thread_ts) != card]
        wrong += len(misplaced)
        if misplaced:
            where = f"{misplaced[0].channel}/{misplaced[0].thread_ts}"
            examples.append(f"{command.token}: reply in {where}, card {card}")
    return Tally(
        "phone replies in their card's thread", len(echoes), lost, doubled, wrong, tuple(examples)
    )


def check_inbound(snap: Snapshot) -> Tally:
    """Each external SMS: posted once, literally, where its phone's conversation is, in order."""
    posts = _by_token(snap.posts(), MO_TOKEN)
    roots: dict[str, Post] = {}
    for mo in snap.mos:
        found = posts.get(mo.number, [])
        if mo.first and len(found) == 1:
            roots[mo.sender] = found[0]
    lost = doubled = wrong = 0
    examples: list[str] = []
    last: dict[str, tuple[int, int]] = {}
    for mo in snap.mos:
        found = posts.get(mo.number, [])
        lost += not found
        doubled += max(0, len(found) - 1)
        if len(found) != 1:
            continue
        problem = _mo_problem(mo, found[0], roots.get(mo.sender), last.get(mo.sender))
        last[mo.sender] = found[0].order
        if problem:
            wrong += 1
            examples.append(f"{mo.token}: {problem}")
    return Tally(
        "SMS from other phones (external MO)", len(snap.mos), lost, doubled, wrong, tuple(examples)
    )


def _mo_problem(
    mo: ExternalMo, post: Post, root: Post | None, previous: tuple[int, int] | None
) -> str:
    if post.channel != SMS_CHANNEL:
        return f"posted in {post.channel}"
    if mo.first and post.thread_ts:
        return "the first SMS of a phone is not a new conversation"
    if not mo.first and (root is None or post.thread_ts != root.ts):
        return f"in thread {post.thread_ts}, not the phone's conversation"
    if json.dumps(escape(mo.text), ensure_ascii=False)[1:-1] not in post.blob:
        return "text not shown literally"
    if mo.control and any(seq in post.blob for seq in CONTROL_SEQUENCES):
        return "a Slack control sequence is not escaped"
    if previous is not None and post.order <= previous:
        return "out of order in its conversation"
    return ""


def check_relays(snap: Snapshot) -> Tally:
    """Each thread reply: texted once to the card's phone; its reaction shows the outcome."""
    acked = [r for r in snap.replies if r.status == 200]
    texts = Counter((m.to, m.text) for m in snap.gateway)
    status = {(m.to, m.text): m.status for m in snap.gateway}
    lost = doubled = wrong = 0
    examples = []
    for reply in acked:
        key = (reply.command.to[0], reply.text)
        lost += texts[key] == 0
        doubled += max(0, texts[key] - 1)
        if texts[key]:
            wanted = (
                RECEIVED if status[key] == "004" else (FAILED if is_final(status[key]) else QUEUED)
            )
            shown = snap.reactions.get((reply.channel, reply.ts), [])
            if shown != [wanted]:
                wrong += 1
                examples.append(f"reply-{reply.number:05d}: reactions {shown}, want {wanted}")
    return Tally(
        "thread replies relayed to the phone", len(acked), lost, doubled, wrong, tuple(examples)
    )


def check_acks(snap: Snapshot, streams: Mapping[str, Stream]) -> Tally:
    """Requests not answered 200 (a command or callback the app did not take is lost)."""
    refused = sum(sum(s.failures.values()) for s in streams.values())
    total = sum(len(s.latencies) for s in streams.values())
    examples = tuple(f"{name}: {dict(s.failures)}" for name, s in streams.items() if s.failures)
    return Tally("requests answered 200", total, refused, 0, 0, examples)


def run_checks(snap: Snapshot, streams: Mapping[str, Stream]) -> list[Tally]:
    by_command: dict[int, list[SentMessage]] = defaultdict(list)
    for message in snap.gateway:
        found = COMMAND_TOKEN.match(message.text)
        if found:
            by_command[int(found.group(1))].append(message)
    return [
        check_acks(snap, streams),
        *check_cards(snap, by_command),
        *check_sms(snap, by_command),
        check_echoes(snap),
        check_inbound(snap),
        check_relays(snap),
    ]


@dataclass(frozen=True)
class Database:
    """The app's database after it stopped."""

    inbox: Counter[str]
    unprocessed: int
    pending: int
    failed: int
    outbox_done: int
    recipients: int  # recipients the gateway accepted (they have an apimsgid)
    status_mismatches: int
    unanswered: int

    @property
    def outbox_items(self) -> int:
        return self.outbox_done + self.pending + self.failed

    def tallies(self) -> list[Tally]:
        return [
            Tally("Slack/gateway work left pending (outbox)", self.outbox_items, self.pending),
            Tally("Slack/gateway work given up (outbox)", self.outbox_items, self.failed),
            Tally("callbacks left unprocessed (inbox)", sum(self.inbox.values()), self.unprocessed),
            Tally(
                "stored statuses equal to the gateway's",
                self.recipients,
                self.unanswered,
                0,
                self.status_mismatches,
            ),
        ]


def read_database(path: Path, gateway: list[SentMessage]) -> Database:
    truth = {m.apimsgid: m.status for m in gateway}
    with read_only(path) as db:
        inbox = Counter(
            dict(db.execute("SELECT kind, count(*) FROM inbox GROUP BY kind").fetchall())
        )
        unprocessed = db.execute(
            "SELECT count(*) FROM inbox WHERE processed_at IS NULL"
        ).fetchone()[0]
        states = Counter(
            dict(db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        )
        rows = db.execute("SELECT apimsgid, status, error_code FROM recipients").fetchall()
    mismatches = sum(1 for api, status, _ in rows if api and truth.get(api) != status)
    unanswered = sum(1 for api, _, error in rows if not api and not error)
    accepted = sum(1 for api, _, _ in rows if api)
    return Database(
        inbox,
        unprocessed,
        states["pending"],
        states["failed"],
        states["done"],
        accepted,
        mismatches,
        unanswered,
    )


# --------------------------------------------------------------------------- the run


def slope_kib_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time."""
    if len(samples) < 2:
        return 0.0
    xs = [s.at / 60.0 for s in samples]
    ys = [float(s.rss_kib) for s in samples]
    return statistics.linear_regression(xs, ys).slope


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def snapshot(
    commander: Commander, stream: CallbackStream, sandbox: SandboxServer, fake: FakeSlack
) -> Snapshot:
    # dict() copies a dict in one step under the interpreter lock: no "changed size" races.
    messages = {key: dict(m) for key, m in dict(fake.messages).items()}
    reactions = {key: list(r) for key, r in dict(fake.reactions).items()}
    return Snapshot(
        list(commander.sent),
        list(commander.replies),
        list(stream.sent_mos),
        sandbox.messages(),
        messages,
        reactions,
    )


def drain(app: AppProcess, sandbox: SandboxServer, check: Any, limit: float) -> float:
    """Wait until the gateway is quiet, the app's backlog is empty and every check passes (or
    `limit` seconds); returns how long it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        quiet = not sandbox.pending_events(horizon=5.0)
        try:
            idle = app.backlog() == (0, 0)
        except sqlite3.Error:
            idle = False
        if quiet and idle and all(t.clean for t in check()):
            break
        time.sleep(2.0)
    return time.perf_counter() - started


def progress(sample: Sample) -> None:
    load = os.getloadavg()[0]
    print(
        f"  {sample.at / 60:5.1f} min  RSS {mib(sample.rss_kib):>10}  backlog: inbox "
        f"{sample.inbox:4d}, outbox {sample.outbox:4d}  load {load:.1f}",
        flush=True,
    )


def run(options: Options) -> int:
    keys = Secrets()
    load_before = os.getloadavg()
    with FakeSlack() as fake, tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        port = free_port()
        sandbox = SandboxServer(
            callback_url=f"http://127.0.0.1:{port}/clickatell/status",
            mo_url=f"http://127.0.0.1:{port}/clickatell/mo",
            callback_user=CALLBACK_USER,
            callback_password=keys.callback_password,
            balance=1e9,
            api_id=API_ID,
            user=GATEWAY_USER,
            password=keys.gateway_password,
            session_ttl=options.session_ttl,
        )
        calls = GatewayCalls(sandbox)
        with sandbox:
            app = AppProcess(Path(tmp), port, fake.api_url, sandbox.url, keys, options.trace_memory)
            try:
                return soak(options, keys, app, sandbox, calls, fake, load_before)
            finally:
                app.stop()


def soak(
    options: Options,
    keys: Secrets,
    app: AppProcess,
    sandbox: SandboxServer,
    calls: GatewayCalls,
    fake: FakeSlack,
    load_before: tuple[float, float, float],
) -> int:
    print(
        f"soak: {options.minutes:g} min of load, then up to {options.drain:g} s of drain; "
        f"{options.rate:g} commands/s over {options.channels} channels; {options.callbacks:g} "
        f"external callbacks/s ({options.mo_rate:g} of them SMS); app pid {app.pid} "
        f"(python -m {app.entry} serve), sandbox and fake Slack in this process "
        f"(pid {os.getpid()}); "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} at start",
        flush=True,
    )
    cards, stop = CardIndex(fake), threading.Event()
    started = time.perf_counter()
    window = (started, started + options.seconds)
    commander = Commander(app.url, fake, cards, options, keys, window, stop)
    stream = CallbackStream(app.url, sandbox, options, keys, window, stop)
    sampler = Sampler(app, started, options.sample, progress)
    growth = MemoryGrowth(app, started + options.seconds / 2, stop)
    first = sampler.take()
    if first is not None:
        progress(first)
    for worker in (sampler, commander, stream):
        worker.start()
    if options.trace_memory:
        growth.start()
    commander.join(options.seconds + 120)
    stream.join(options.seconds + 120)
    stop.set()
    load_seconds = time.perf_counter() - started
    end_of_load = sampler.take()
    memory_sites = growth.sites() if options.trace_memory else []
    streams = {
        "commands": commander.commands,
        "thread replies": commander.events,
        "status callbacks": stream.statuses,
        "MO callbacks": stream.mos,
    }

    def check() -> list[Tally]:
        return run_checks(snapshot(commander, stream, sandbox, fake), streams)

    drained = drain(app, sandbox, check, options.drain)
    after_drain = sampler.take()
    deliveries = sandbox.deliveries()  # its last 10,000 callback attempts: all of a 10 min run
    sampler.stop.set()
    sampler.join(10)
    tallies = check()
    final = snapshot(commander, stream, sandbox, fake)
    exit_status = app.stop()
    database = read_database(app.db_path, final.gateway)
    tallies += database.tallies()
    log_text = app.log_path.read_text(errors="replace")
    leaked = [s for s in keys.all() if s in log_text]
    tallies.append(Tally("secrets in the app's log", len(keys.all()), 0, 0, len(leaked)))
    report(
        options,
        Results(
            commander,
            stream,
            streams,
            sampler.samples,
            first,
            end_of_load,
            after_drain,
            load_seconds,
            drained,
            database,
            final,
            log_text,
            exit_status,
            load_before,
            (len(deliveries), sum(1 for d in deliveries if d.ok)),
            calls.summary(),
            memory_sites,
        ),
        tallies,
    )
    clean = all(t.clean for t in tallies)
    if not (commander.sent and stream.sent_mos and commander.replies):
        clean = False  # checks over nothing prove nothing
        print("The load did not run: no commands, inbound SMS or thread replies were sent.")
    print("Result:", "nothing lost, duplicated or wrong" if clean else "PROBLEMS FOUND (see above)")
    return 0 if clean else 1


@dataclass(frozen=True)
class Results:
    commander: Commander
    stream: CallbackStream
    streams: Mapping[str, Stream]
    samples: list[Sample]
    first: Sample | None
    end_of_load: Sample | None
    after_drain: Sample | None
    load_seconds: float
    drained: float
    database: Database
    final: Snapshot
    log_text: str
    exit_status: int
    load_before: tuple[float, float, float]
    gateway_callbacks: tuple[int, int]  # the sandbox's callback attempts, those answered 2xx
    gateway_calls: str  # what the app asked the gateway
    memory_sites: list[str]  # --trace-memory: what grew over the second half of the load


def report(options: Options, r: Results, tallies: list[Tally]) -> None:
    seconds = r.load_seconds
    sent = len(r.commander.sent)
    external = len(r.stream.statuses.latencies) + len(r.stream.mos.latencies)
    received = sum(r.database.inbox.values())
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(r.stream.kinds.items()))
    mix = ", ".join(
        f"{n} {k}" for k, n in Counter(s.command.kind for s in r.commander.sent).items()
    )
    print(f"Throughput over {seconds:.0f} s of load:")
    print(
        f"  commands: {sent} /sms send ({sent / seconds:.2f}/s; "
        f"{mix}) + {len(r.commander.replies)} "
        f"thread replies"
    )
    print(
        f"  external callbacks: {external} ({external / seconds:.2f}/s): "
        f"{len(r.stream.statuses.latencies)} status ({kinds}), "
        f"{len(r.stream.mos.latencies)} MO requests for {len(r.stream.sent_mos)} SMS"
    )
    attempts, accepted = r.gateway_callbacks
    print(
        f"  gateway's own callbacks: {attempts} ({accepted} answered 2xx); all callback requests "
        f"{(external + attempts) / seconds:.2f}/s"
    )
    print(
        f"  callbacks stored by the app (gateway + external, distinct): {received} "
        f"({dict(r.database.inbox)}); gateway messages {len(r.final.gateway)}; Slack messages "
        f"{len(r.final.messages)}"
    )
    print(f"  the app's gateway calls: {r.gateway_calls}")
    print("Acknowledgement latency (request sent -> answer received):")
    for name, stream in r.streams.items():
        print(f"  {name:<17} {stream.summary()}")
    print("App memory (RSS):")
    print(
        f"  start {mib(r.first.rss_kib) if r.first else '?'}, end of load "
        f"{mib(r.end_of_load.rss_kib) if r.end_of_load else '?'}, after the drain "
        f"{mib(r.after_drain.rss_kib) if r.after_drain else '?'}"
    )
    load_samples = [s for s in r.samples if s.at <= seconds]
    half = [s for s in load_samples if s.at >= seconds / 2]
    slope = slope_kib_per_minute(half)
    mean = statistics.fmean(s.rss_kib for s in half) if half else 0.0
    print(
        f"  slope over the second half of the load ({len(half)} samples): {slope:+.0f} KiB/min "
        f"({slope / mean * 100 if mean else 0:+.2f} % of RSS per minute); whole load "
        f"{slope_kib_per_minute(load_samples):+.0f} KiB/min"
    )
    thirds = [
        [s for s in load_samples if k * seconds / 3 <= s.at <= (k + 1) * seconds / 3]
        for k in range(3)
    ]
    print(
        "  slope in each third of the load (levelling off shows as a falling slope): "
        + ", ".join(f"{slope_kib_per_minute(t):+.0f}" for t in thirds)
        + " KiB/min"
    )
    if options.trace_memory:
        print("  (under tracemalloc: RSS includes the tracing and its snapshots)")
    for line in r.memory_sites:
        print(line)
    print(f"Drain: {r.drained:.1f} s until everything was settled (limit {options.drain:g} s)")
    print("Lost / duplicated / wrong:")
    for tally in tallies:
        print(tally.line())
    notable = log_messages(r.log_text)
    tracebacks = r.log_text.count("Traceback")
    print(
        f"App log: {sum(notable.values())} warnings and errors, {tracebacks} tracebacks; exit "
        f"status {r.exit_status} after SIGTERM"
    )
    for line, count in notable.most_common(5):
        print(f"  {count} x {line[:150]}")
    after = os.getloadavg()
    print(
        f"Load average (1/5/15 min): {r.load_before[0]:.1f}/{r.load_before[1]:.1f}/"
        f"{r.load_before[2]:.1f} at start, {after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f} at end; "
        f"{os.cpu_count()} CPUs"
    )


def log_messages(text: str) -> Counter[str]:
    """Warning and error lines of the app's log ("<date> <time> LEVEL name: message"), without
    their time stamps, counted."""
    found: Counter[str] = Counter()
    for line in text.splitlines():
        words = line.split(" ", 2)
        if len(words) == 3 and words[2].startswith(("WARNING ", "ERROR ", "CRITICAL ")):
            found[words[2]] += 1
    return found


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the load")
    parser.add_argument("--rate", type=float, default=1.0, help="/sms send commands per second")
    parser.add_argument("--callbacks", type=float, default=10.0, help="external callbacks/s")
    parser.add_argument("--mo-rate", type=float, default=0.4, help="of which SMS per second")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--drain", type=float, default=180.0, help="most seconds to settle")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument(
        "--session-ttl",
        type=float,
        default=900.0,
        help="the gateway's idle session expiry (below 1 s: expired between most sends)",
    )
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="run the app under tracemalloc and print where its memory grew (slower, more RSS)",
    )
    args = parser.parse_args(argv)
    if not (0 < args.minutes <= 24 * 60 and 0 < args.rate <= 50 and 0 < args.callbacks <= 500):
        parser.error("--minutes must be in (0, 1440], --rate in (0, 50], --callbacks in (0, 500]")
    if not (0 <= args.mo_rate <= min(1.0, args.callbacks)) or not 1 <= args.channels <= 100:
        parser.error("--mo-rate must be in [0, 1] (one Slack channel) and --channels in [1, 100]")
    return Options(
        args.minutes,
        args.rate,
        args.callbacks,
        args.mo_rate,
        args.channels,
        args.drain,
        args.sample,
        args.session_ttl,
        args.seed,
        args.trace_memory,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    logging.basicConfig(level=logging.WARNING)
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
