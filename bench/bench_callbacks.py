"""Callback ingestion and Slack call economy (issue 4, "Benchmark").

1. Ingestion: 20,000 status callbacks (10 sends of 1,000 recipients, 003 then 004 each) from 16
   concurrent keep-alive clients, against the real callback endpoint (basic auth, raw-byte decode,
   durable SQLite insert with synchronous=FULL before the 200; the inbox processor and the Slack
   outbox running beside it), and — in the same run, with the same WSGI server (waitress, the
   production HttpServer with its 16 threads) — against a WSGI app answering a bare 200 OK.
   Printed: acknowledgements per second, p50/p99/max latency, the ratio, and how long processing
   took to catch up.
2. The Slack calls made for the reports of one 1,000-recipient send (2,000 callbacks spread over
   about 10 seconds, as a real batch reports): how many, and the shortest gap between two updates
   of its card.

Goals: at least half the bare server's rate, p99 under 50 ms, at most one update per 3 s per card.
The app runs as `python -m bot serve` in its own process (bot/testing's `ServedApp`, the built-in
sandbox as its gateway, the shared fake Slack in this process), the bare server in another, the
clients in four more (4 threads each), so no side steals another's interpreter lock. Sends are
seeded, and the backlog read, through a `Storage` of this process on the app's database.

    .venv/bin/python bench/bench_callbacks.py [--callbacks 20000] [--clients 16]
"""

from __future__ import annotations

import argparse
import base64
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
    """The app (`python -m bot serve`) and this process's view of its database."""

    def __init__(self, app: ServedApp, state: AppState, slack: WebClient) -> None:
        self.app, self.state, self.slack = app, state, slack
        self.url = app.url

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
def inbound_app(fake: FakeSlack, directory: Path) -> Iterator[InboundApp]:
    directory.mkdir()
    app = ServedApp(fake.api_url, directory, OPTIONS)
    try:
        with AppState.opened(app.db_path) as state:
            yield InboundApp(app, state, WebClient(token="xoxb-bench", base_url=fake.api_url))
    finally:
        app.stop()


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


def _client_process(url: str, batches: list[list[bytes]], pace: float) -> list[float]:
    latencies: list[list[float]] = [[] for _ in batches]
    threads = [
        threading.Thread(target=_client_thread, args=(url, batch, pace, out))
        for batch, out in zip(batches, latencies, strict=True)
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


def fire(url: str, bodies: list[bytes], clients: int, pace: float = 0.0) -> Load:
    """Send `bodies` from `clients` concurrent connections; `pace` seconds between one
    client's requests (0: as fast as possible)."""
    per_client = [bodies[i::clients] for i in range(clients)]
    groups = [per_client[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    with mp.Pool(CLIENT_PROCESSES) as pool:
        started = time.perf_counter()
        results = pool.starmap(_client_process, [(url, group, pace) for group in groups])
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


def ingestion(
    callbacks: int, clients: int, rounds: int, workdir: Path, slack: FakeSlack, seen: SlackCalls
) -> bool:
    """Both servers up at once; the load alternates between them in `rounds`, so a change in
    the machine's load during the run hits both alike. The inbound server has finished
    processing (and sending to Slack) a round before the bare server gets its turn."""
    sends_needed = max(1, callbacks // 2000)
    bare = BareServer()
    try:
        with inbound_app(slack, workdir / "ingest") as inbound:
            warm = inbound.seed_send(400, "warm", "C0WARM")
            fire(inbound.url, _bodies_for([warm]), clients)
            fire(bare.url, _bodies_for([warm]), clients)
            _wait_processed(inbound)
            sends = [
                inbound.seed_send(1000, f"s{i:02d}", f"C0CARD{i:02d}") for i in range(sends_needed)
            ]
            bodies = _bodies_for(sends)
            chunks = [bodies[i::rounds] for i in range(rounds)]
            before = len(seen.calls)
            ours, theirs, catch_up = [], [], []
            for chunk in chunks:
                ours.append(fire(inbound.url, chunk, clients))
                catch_up.append(_wait_processed(inbound))
                theirs.append(fire(bare.url, chunk, clients))
            updates = [c for c in seen.calls[before:] if c.method == "chat.update"]
    finally:
        bare.stop()
    load, bare_load = Load.total(ours), Load.total(theirs)
    ratio = load.rate / bare_load.rate
    processed = max(p for p, _ in catch_up)
    delivered = max(d for _, d in catch_up)
    print(
        f"Ingestion: {load.count} status callbacks, {clients} concurrent clients, waitress "
        f"(16 threads), {rounds} alternating rounds"
    )
    print(_line("bare 200 OK", bare_load))
    print(_line("/clickatell/status", load))
    print(
        f"  ratio {ratio:.2f} of the bare rate; each round fully processed within "
        f"{processed:.1f} s of its last ack and shown in Slack within {delivered:.1f} s; "
        f"{len(updates)} card updates for {len(sends)} cards"
    )
    ok = ratio >= 0.5 and load.percentile(0.99) < 0.050
    print(f"  goals (>= 0.5 of bare, p99 < 50 ms): {'met' if ok else 'NOT met'}")
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with FakeSlack() as slack, tempfile.TemporaryDirectory() as workdir:
        seen = SlackCalls(slack)
        ok = ingestion(args.callbacks, args.clients, args.rounds, Path(workdir), slack, seen)
        ok = slack_economy(args.clients, Path(workdir), slack, seen) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
