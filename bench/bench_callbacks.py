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
The server runs in its own process, the clients in four others (4 threads each), so neither side
steals the other's interpreter lock.

    .venv/bin/python bench/bench_callbacks.py [--callbacks 20000] [--clients 16]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AUTH = ("clickatell", "bench-callback-password")
API_ID = "bench"
CLIENT_PROCESSES = 4
CARD_CHANNEL = "C0BENCH"


# --------------------------------------------------------------------------- a counting Slack


@dataclass
class SlackCall:
    at: float
    method: str
    params: dict[str, Any]


class CountingSlack:
    """Just enough of Slack's Web API: answers ok, numbers posted messages, records every call."""

    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self._lock = threading.Lock()
        self._ts = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def api_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(SlackCall(time.monotonic(), method, params))
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
        if method == "chat.postMessage":
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        return {"ok": True, "messages": []}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    params = json.loads(raw or b"{}")
                except ValueError:
                    params = {}
                body = json.dumps(fake._answer(self.path.rsplit("/", 1)[-1], params)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


# --------------------------------------------------------------------------- the server process


def _bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream = environ.get("wsgi.input")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if stream is not None and length:
        stream.read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"OK\n"]


@dataclass
class _StubGateway:
    def balance(self) -> float:
        return 1000.0

    def close(self) -> None:
        pass


@dataclass
class _Services:
    settings: Any
    storage: Any
    gateway: Any
    slack: Any
    clock: Callable[[], Any]
    gateway_api_id: str = API_ID
    sandboxed: bool = True
    workers: list[Any] = field(default_factory=list)
    on_message_event: Any = None
    refresh_card: Any = None


def _inbound_app(db_path: str, slack_url: str) -> tuple[Any, Any]:
    from datetime import UTC, datetime

    from slack_sdk import WebClient

    from bot.config import settings_from
    from bot.inbound import Options, install
    from bot.storage import Storage
    from bot.web import MO_PATH, STATUS_PATH, WebApp

    settings = settings_from(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": slack_url,
            "SMS_CHANNEL": "C0SMS",
            "CLICKATELL_CALLBACK_USER": AUTH[0],
            "CLICKATELL_CALLBACK_PASSWORD": AUTH[1],
        }
    )
    storage = Storage(db_path)  # synchronous=FULL, as `serve` opens it
    slack = WebClient(token="xoxb-bench", base_url=slack_url)
    services = _Services(settings, storage, _StubGateway(), slack, lambda: datetime.now(UTC))
    inbound = install(services, Options(low_balance=0.0))
    return WebApp(inbound.routes(STATUS_PATH, MO_PATH)), services


def _make_send(
    storage: Any, slack_url: str, recipients: int, tag: str, channel: str = CARD_CHANNEL
) -> dict[str, Any]:
    """A recorded send with a posted card, like `/sms send` leaves it."""
    from slack_sdk import WebClient

    from bot.storage import NewRecipient
    from bot.testing.state import send_with_card

    numbers = [f"2783{i:07d}" for i in range(recipients)]
    send = send_with_card(
        storage,
        WebClient(token="xoxb-bench", base_url=slack_url),
        channel,
        [
            NewRecipient(msisdn=n, climsgid=f"{tag}c", apimsgid=f"{tag}{i:026d}")
            for i, n in enumerate(numbers)
        ],
        user="U0BENCH",
        text="Bench",
    )
    return {"ts": send.card_ts, "recipients": [(r.apimsgid, r.msisdn) for r in send.recipients]}


def _server_main(mode: str, db_path: str, slack_url: str, conn: Any) -> None:
    import logging

    from bot.serve import HttpServer

    # waitress notes every moment all 16 threads are busy: expected under this load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    services = None
    if mode == "bare":
        app: Any = _bare_app
    else:
        app, services = _inbound_app(db_path, slack_url)
    server = HttpServer("127.0.0.1", 0)  # the production listener: waitress, 16 threads
    server.serve(app)
    conn.send(server.url)
    while True:
        command, argument = conn.recv()
        if command == "send":
            conn.send(_make_send(services.storage, slack_url, *argument))
        elif command == "backlog":
            conn.send(_backlog(db_path))
        elif command == "stop":
            server.stop()
            if services is not None:
                for worker in reversed(services.workers):
                    worker.stop()
                services.storage.close()
            conn.send("stopped")
            return


def _backlog(db_path: str) -> tuple[int, int]:
    """Unprocessed callbacks and pending Slack work (a cheap count, beside the workers)."""
    import sqlite3

    with sqlite3.connect(db_path) as db:
        inbox = db.execute("SELECT count(*) FROM inbox WHERE processed_at IS NULL").fetchone()[0]
        outbox = db.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
    return inbox, outbox


class ServerProcess:
    def __init__(self, mode: str, db_path: str, slack_url: str):
        self.conn, child = mp.Pipe()
        self.process = mp.Process(target=_server_main, args=(mode, db_path, slack_url, child))
        self.process.start()
        self.url = self.conn.recv()

    def ask(self, command: str, argument: Any = None) -> Any:
        self.conn.send((command, argument))
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(10)


# --------------------------------------------------------------------------- the clients


def _status_body(apimsgid: str, msisdn: str, status: str, stamp: int) -> bytes:
    pairs = {
        "api_id": API_ID,
        "apiMsgId": apimsgid,
        "cliMsgId": "",
        "to": msisdn,
        "from": "27825550199",
        "timestamp": str(stamp),
        "status": status,
        "charge": "0.300000",
    }
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs.items()).encode()


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


def _wait_processed(server: ServerProcess, limit: float = 300.0) -> tuple[float, float]:
    """Seconds until every callback was processed, and until Slack had everything."""
    started = time.perf_counter()
    processed = None
    while time.perf_counter() - started < limit:
        inbox, outbox = server.ask("backlog")
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
    callbacks: int, clients: int, rounds: int, workdir: Path, slack: CountingSlack
) -> bool:
    """Both servers up at once; the load alternates between them in `rounds`, so a change in
    the machine's load during the run hits both alike. The inbound server has finished
    processing (and sending to Slack) a round before the bare server gets its turn."""
    sends_needed = max(1, callbacks // 2000)
    bare = ServerProcess("bare", "", slack.api_url)
    inbound = ServerProcess("inbound", str(workdir / "ingest.sqlite3"), slack.api_url)
    try:
        warm = inbound.ask("send", (400, "warm", "C0WARM"))
        fire(inbound.url, _bodies_for([warm]), clients)
        fire(bare.url, _bodies_for([warm]), clients)
        _wait_processed(inbound)
        sends = [
            inbound.ask("send", (1000, f"s{i:02d}", f"C0CARD{i:02d}")) for i in range(sends_needed)
        ]
        bodies = _bodies_for(sends)
        chunks = [bodies[i::rounds] for i in range(rounds)]
        before = len(slack.calls)
        ours, theirs, catch_up = [], [], []
        for chunk in chunks:
            ours.append(fire(inbound.url, chunk, clients))
            catch_up.append(_wait_processed(inbound))
            theirs.append(fire(bare.url, chunk, clients))
        updates = [c for c in slack.calls[before:] if c.method == "chat.update"]
    finally:
        inbound.stop()
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


def slack_economy(clients: int, workdir: Path, slack: CountingSlack) -> bool:
    inbound = ServerProcess("inbound", str(workdir / "economy.sqlite3"), slack.api_url)
    try:
        send = inbound.ask("send", (1000, "e"))
        before = len(slack.calls)
        bodies = _bodies_for([send])
        # 2,000 reports over ~10 s: each client sends one every `pace` seconds.
        pace = 10.0 / (len(bodies) / clients)
        load = fire(inbound.url, bodies, clients, pace=pace)
        _wait_processed(inbound)
        time.sleep(3.5)  # a last coalesced update may still be waiting for its 3 s slot
        _wait_processed(inbound)
        calls = slack.calls[before:]
    finally:
        inbound.stop()
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
    import logging

    logging.basicConfig(level=logging.WARNING)
    slack = CountingSlack()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            ok = ingestion(args.callbacks, args.clients, args.rounds, Path(workdir), slack)
            ok = slack_economy(args.clients, Path(workdir), slack) and ok
    finally:
        slack.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
