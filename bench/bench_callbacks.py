"""Callback ingestion and Slack call economy (issue 4, "Benchmark"; issue 13, group commit).

1. Ingestion: 20,000 status callbacks (10 sends of 1,000 recipients, 003 then 004 each) from 16
   concurrent keep-alive clients, against the real callback endpoint (basic auth, raw-byte decode,
   durable inbox insert before the 200 — group-committed: concurrent callbacks share one commit;
   the inbox processor and the Slack outbox running beside it), and — in the same run, with the
   same WSGI server (waitress, the production HttpServer with its 16 threads) — against a WSGI app
   answering a bare 200 OK (it reads the body, stores nothing). Printed: acknowledgements per
   second, p50/p99/max latency, the ratio, and how long processing took to catch up.
   `--db sqlite` (the default): SQLite with synchronous=FULL. `--db postgresql`: a throwaway
   PostgreSQL cluster started for the run (tests/support/postgres.py) with fsync and
   synchronous_commit ON, so every acknowledged callback is as durable as on a real server;
   `--replicas 2` starts two `serve` processes on it and measures, in the same rounds, the load
   on one replica and the same load spread over both (clients alternate between them).
2. The Slack calls made for the reports of one 1,000-recipient send (2,000 callbacks spread over
   about 10 seconds, as a real batch reports): how many, and the shortest gap between two updates
   of its card (`--ingestion-only` skips it).

Goals (issue 13): SQLite at least 0.8 of the bare server's rate with p99 under 20 ms; PostgreSQL
(one replica) at least 0.5; two replicas at least 1.3 times one; at most one update per 3 s per
card. The app runs as `python -m bot serve` in its own process(es) (bot/testing's `ServedApp`, the
built-in sandbox as its gateway, the shared fake Slack in this process), the bare server in
another, the clients in four more (4 threads each), so no side steals another's interpreter lock.
Sends are seeded, and the backlog read, through a `Storage` of this process on the app's database.

    .venv/bin/python bench/bench_callbacks.py [--callbacks 20000] [--clients 16]
        [--db sqlite|postgresql] [--replicas 1|2] [--ingestion-only]
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.client
import itertools
import json
import logging
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.records import NewRecipient  # noqa: E402
from bot.serve import HttpServer  # noqa: E402
from bot.testing.app import AppOptions  # noqa: E402
from bot.testing.callbacks import form, status_params  # noqa: E402
from bot.testing.process import ServedApp  # noqa: E402
from bot.testing.slack import Activity, FakeSlack  # noqa: E402
from bot.testing.state import AppState, send_with_card  # noqa: E402

# PostgreSQL as the tests run it, but durable: a benchmark of durable acknowledgements must sync.
DURABLE_POSTGRES = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}

AUTH = ("clickatell", "bench-callback-password")
API_ID = "sandbox"  # the api_id of the app's built-in sandbox: its callbacks must carry it
CLIENT_PROCESSES = 4
CARD_CHANNEL = "C0BENCH"
# The app as `serve` runs it; the low-balance watcher off (nothing but callbacks reach it).
OPTIONS = AppOptions(
    sms_channel="C0SMS",
    env={
        "CLICKATELL_CALLBACK_USER": AUTH[0],
        "CLICKATELL_CALLBACK_PASSWORD": AUTH[1],
        "SMS_LOW_BALANCE": "0",
    },
)


# --------------------------------------------------------------------------- Slack's calls, timed


@dataclass
class SlackCall:
    at: float
    method: str
    params: dict[str, Any]


class SlackCalls:
    """Every call the fake Slack answers, with the moment it answered (card update gaps)."""

    def __init__(self, fake: FakeSlack) -> None:
        self.calls: list[SlackCall] = []
        fake.subscribe(self._observe)

    def _observe(self, activity: Activity) -> None:
        call = activity.call
        self.calls.append(SlackCall(time.monotonic(), call.method, call.params))


# --------------------------------------------------------------------------- the server process


def _bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream = environ.get("wsgi.input")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if stream is not None and length:
        stream.read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"OK\n"]


def _bare_main(conn: Any) -> None:
    # waitress notes every moment all 16 threads are busy: expected under this load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = HttpServer("127.0.0.1", 0)  # the production listener: waitress, 16 threads
    server.serve(_bare_app)
    conn.send(server.url)
    conn.recv()  # told to stop
    server.stop()
    conn.send("stopped")


class BareServer:
    """The production listener answering a bare 200 OK, in its own process."""

    def __init__(self) -> None:
        self.conn, child = mp.Pipe()
        self.process = mp.Process(target=_bare_main, args=(child,))
        self.process.start()
        self.url = self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.conn.recv()
        self.process.join(10)


class InboundApp:
    """The app (`python -m bot serve`, one process per replica) and this process's view of its
    database."""

    def __init__(self, apps: list[ServedApp], state: AppState, slack: WebClient) -> None:
        self.apps, self.state, self.slack = apps, state, slack
        self.urls = [app.url for app in apps]
        self.url = self.urls[0]

    def seed_send(self, recipients: int, tag: str, channel: str = CARD_CHANNEL) -> dict[str, Any]:
        """A recorded send with a posted card, like `/sms send` leaves it."""
        numbers = [f"2783{i:07d}" for i in range(recipients)]
        accepted = [
            NewRecipient(msisdn=n, climsgid=f"{tag}c", apimsgid=f"{tag}{i:026d}")
            for i, n in enumerate(numbers)
        ]
        send = send_with_card(
            self.state.storage, self.slack, channel, accepted, user="U0BENCH", text="Bench"
        )
        return {"ts": send.card_ts, "recipients": [(r.apimsgid, r.msisdn) for r in send.recipients]}


@contextmanager
def inbound_app(
    fake: FakeSlack, directory: Path, database: str | None = None, replicas: int = 1
) -> Iterator[InboundApp]:
    """`replicas` serve processes on one database: `database` (a PostgreSQL URL), or else a
    SQLite file in `directory` (one replica only: SQLite is one process's database)."""
    directory.mkdir()
    options = OPTIONS
    if database is not None:
        options = dataclasses.replace(OPTIONS, env={**OPTIONS.env, "SMS_BOT_DB": database})
    apps: list[ServedApp] = []
    try:
        for index in range(replicas):
            (directory / f"replica{index}").mkdir()
            apps.append(ServedApp(fake.api_url, directory / f"replica{index}", options))
        with AppState.opened(database or apps[0].db_path) as state:
            yield InboundApp(apps, state, WebClient(token="xoxb-bench", base_url=fake.api_url))
    finally:
        for app in apps:
            app.stop()


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None for SQLite (each app makes its own file); for PostgreSQL, the URL of a fresh
    database on a durable throwaway cluster, removed at the end."""
    if kind == "sqlite":
        yield None
        return
    from tests.support.postgres import ThrowawayCluster

    cluster = ThrowawayCluster(settings=DURABLE_POSTGRES)
    try:
        cluster.start()
        yield cluster.url(cluster.create_database())
    finally:
        cluster.remove()


# --------------------------------------------------------------------------- the clients


def _status_body(apimsgid: str, msisdn: str, status: str, stamp: int) -> bytes:
    return form(status_params(apimsgid, status, api_id=API_ID, to=msisdn, timestamp=stamp))


def _client_thread(url: str, bodies: list[bytes], pace: float, out: list[float]) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Basic {token}",
    }
    start = time.perf_counter()
    for index, body in enumerate(bodies):
        if pace:
            delay = start + index * pace - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        began = time.perf_counter()
        connection.request("POST", "/clickatell/status", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"callback answered {response.status}")
        out.append(time.perf_counter() - began)
    connection.close()


def _client_process(work: list[tuple[str, list[bytes]]], pace: float) -> list[float]:
    latencies: list[list[float]] = [[] for _ in work]
    threads = [
        threading.Thread(target=_client_thread, args=(url, batch, pace, out))
        for (url, batch), out in zip(work, latencies, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [value for chunk in latencies for value in chunk]


@dataclass(frozen=True)
class Load:
    count: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @staticmethod
    def total(loads: list[Load]) -> Load:
        latencies = [value for load in loads for value in load.latencies]
        return Load(len(latencies), sum(load.seconds for load in loads), latencies)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def fire(url: str | list[str], bodies: list[bytes], clients: int, pace: float = 0.0) -> Load:
    """Send `bodies` from `clients` concurrent connections; `pace` seconds between one
    client's requests (0: as fast as possible). Several URLs (replicas behind one load
    generator): the clients alternate between them."""
    urls = [url] if isinstance(url, str) else url
    per_client = [bodies[i::clients] for i in range(clients)]
    work = [(urls[i % len(urls)], per_client[i]) for i in range(clients)]
    groups = [work[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    with mp.Pool(CLIENT_PROCESSES) as pool:
        started = time.perf_counter()
        results = pool.starmap(_client_process, [(group, pace) for group in groups])
        elapsed = time.perf_counter() - started
    latencies = [value for chunk in results for value in chunk]
    return Load(len(latencies), elapsed, latencies)


# --------------------------------------------------------------------------- the runs


def _bodies_for(sends: list[dict[str, Any]]) -> list[bytes]:
    stamp = int(time.time())
    bodies = []
    for status in ("003", "004"):
        for send in sends:
            bodies += [_status_body(a, m, status, stamp) for a, m in send["recipients"]]
    return bodies


def _wait_processed(server: InboundApp, limit: float = 300.0) -> tuple[float, float]:
    """Seconds until every callback was processed, and until Slack had everything."""
    started = time.perf_counter()
    processed = None
    while time.perf_counter() - started < limit:
        inbox, outbox = server.state.backlog()
        if inbox == 0 and processed is None:
            processed = time.perf_counter() - started
        if inbox == 0 and outbox == 0:
            return processed or 0.0, time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError("processing did not catch up")


def _line(name: str, load: Load) -> str:
    return (
        f"  {name:<22} {load.rate:8.0f} acks/s   p50 {load.percentile(0.5) * 1000:6.2f} ms   "
        f"p99 {load.percentile(0.99) * 1000:6.2f} ms   max {max(load.latencies) * 1000:7.2f} ms"
    )


@dataclass(frozen=True)
class Setup:
    db: str  # "sqlite" or "postgresql"
    replicas: int
    clients: int
    rounds: int


def ingestion(
    callbacks: int, setup: Setup, workdir: Path, slack: FakeSlack, seen: SlackCalls
) -> bool:
    """The bare server and the app's replicas up at once; the load alternates between them in
    `rounds`, so a change in the machine's load during the run hits each alike. The app has
    finished processing (and sending to Slack) a round before the next contender gets its
    turn. With two replicas each round also loads one replica alone, then both."""
    sends_needed = max(1, callbacks // 2000)
    clients = setup.clients
    bare = BareServer()
    try:
        with (
            database(setup.db) as url,
            inbound_app(slack, workdir / "ingest", url, setup.replicas) as inbound,
        ):
            warm = inbound.seed_send(400, "warm", "C0WARM")
            fire(inbound.urls, _bodies_for([warm]), clients)
            fire(bare.url, _bodies_for([warm]), clients)
            _wait_processed(inbound)
            sends = [
                inbound.seed_send(1000, f"s{i:02d}", f"C0CARD{i:02d}") for i in range(sends_needed)
            ]
            bodies = _bodies_for(sends)
            # Each round's callbacks are new ones: a replica never sees a repeat of its own.
            parts = setup.rounds * setup.replicas
            chunks = [bodies[i::parts] for i in range(parts)]
            before = len(seen.calls)
            loads: dict[str, list[Load]] = {"one": [], "all": [], "bare": []}
            catch_up = []
            for index in range(setup.rounds):
                mine = chunks[index * setup.replicas : (index + 1) * setup.replicas]
                loads["one"].append(fire(inbound.url, mine[0], clients))
                catch_up.append(_wait_processed(inbound))
                if setup.replicas > 1:
                    loads["all"].append(fire(inbound.urls, mine[1], clients))
                    catch_up.append(_wait_processed(inbound))
                loads["bare"].append(fire(bare.url, mine[0], clients))
            updates = [c for c in seen.calls[before:] if c.method == "chat.update"]
    finally:
        bare.stop()
    one, bare_load = Load.total(loads["one"]), Load.total(loads["bare"])
    ratio = one.rate / bare_load.rate
    processed = max(p for p, _ in catch_up)
    delivered = max(d for _, d in catch_up)
    print(
        f"Ingestion ({setup.db}): {one.count} status callbacks per contender, {clients} "
        f"concurrent clients, waitress (16 threads), {setup.rounds} alternating rounds"
    )
    print(_line("bare 200 OK", bare_load))
    print(_line("/clickatell/status", one))
    print(
        f"  ratio {ratio:.2f} of the bare rate; each round fully processed within "
        f"{processed:.1f} s of its last ack and shown in Slack within {delivered:.1f} s; "
        f"{len(updates)} card updates for {len(sends)} cards"
    )
    if setup.db == "sqlite":
        ok = ratio >= 0.8 and one.percentile(0.99) < 0.020
        print(f"  goals (>= 0.8 of bare, p99 < 20 ms): {'met' if ok else 'NOT met'}")
        return ok
    ok = ratio >= 0.5
    print(f"  goal (one replica >= 0.5 of bare): {'met' if ok else 'NOT met'}")
    if setup.replicas > 1:
        both = Load.total(loads["all"])
        print(_line(f"{setup.replicas} replicas", both))
        scale = both.rate / one.rate
        met = scale >= 1.3
        print(
            f"  {setup.replicas} replicas: {scale:.2f} x one replica (goal >= 1.3: "
            f"{'met' if met else 'NOT met'}); {both.rate / bare_load.rate:.2f} of the bare rate"
        )
        ok = ok and met
    return ok


def slack_economy(clients: int, workdir: Path, slack: FakeSlack, seen: SlackCalls) -> bool:
    with inbound_app(slack, workdir / "economy") as inbound:
        send = inbound.seed_send(1000, "e")
        before = len(seen.calls)
        bodies = _bodies_for([send])
        # 2,000 reports over ~10 s: each client sends one every `pace` seconds.
        pace = 10.0 / (len(bodies) / clients)
        load = fire(inbound.url, bodies, clients, pace=pace)
        _wait_processed(inbound)
        time.sleep(3.5)  # a last coalesced update may still be waiting for its 3 s slot
        _wait_processed(inbound)
        calls = seen.calls[before:]
    updates = [c for c in calls if c.method == "chat.update" and c.params.get("ts") == send["ts"]]
    gaps = [b.at - a.at for a, b in itertools.pairwise(updates)]
    shortest = min(gaps) if gaps else float("inf")
    final = json.dumps(updates[-1].params.get("blocks")) if updates else ""
    print(
        f"Slack economy: one 1,000-recipient send, {load.count} reports over {load.seconds:.1f} s"
    )
    print(
        f"  Slack calls: {len(calls)} ({len(updates)} chat.update of its card); shortest gap "
        f"between updates {shortest:.2f} s; final card shows all received: "
        f"{'1000 received' in final}"
    )
    ok = shortest >= 2.95 and "1000 received" in final
    print(f"  goal (at most one update per 3 s per card): {'met' if ok else 'NOT met'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callbacks", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=1)
    parser.add_argument("--ingestion-only", action="store_true", help="skip the Slack economy")
    args = parser.parse_args(argv)
    if args.replicas > 1 and args.db != "postgresql":
        parser.error("--replicas 2 needs --db postgresql (SQLite is one process's database)")
    logging.basicConfig(level=logging.WARNING)
    setup = Setup(args.db, args.replicas, args.clients, args.rounds)
    with FakeSlack() as slack, tempfile.TemporaryDirectory() as workdir:
        seen = SlackCalls(slack)
        ok = ingestion(args.callbacks, setup, Path(workdir), slack, seen)
        if not args.ingestion_only:
            ok = slack_economy(args.clients, Path(workdir), slack, seen) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
