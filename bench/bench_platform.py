"""Platform (API-key) sends per second against the sandbox's Platform mode: this client, and a bare
requests.Session keep-alive loop posting the same One API JSON (the floor); then one 500-recipient
One API send, counting its calls (the Portal takes at most 200 messages a call).

    .venv/bin/python bench/bench_platform.py [--sends N] [--rounds R] [--in-process]

As in bench_send.py: the sandbox runs in its own process like a real gateway, every round runs
the contenders one after another in a rotated order, the median round is reported and the ratios
are medians of per-round ratios; CPU time per send (client + sandbox) is printed beside the
wall-clock rates because it does not swing with the machine's load. Goal (issue 11): the client
within 1.3x of the bare loop; the 500-recipient send in 3 calls of at most 200.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from bench.bench_send import Round, measure, ratio
from bot.gateway.clickatell_platform.client import PlatformClient
from bot.gateway.clickatell_platform.gateway import ClickatellPlatformGateway
from bot.gateway.clickatell_platform.integrations import ONE_API, Outgoing
from bot.testing.sandbox import RunningSandbox, running_sandbox

KEY = "bench-api-key"
PHONE = "27821234567"
TEXT = "Benchmark message: the quick brown fox jumps over the lazy dog"
JSON_HEADERS = {"Authorization": KEY, "Content-Type": "application/json; charset=utf-8"}


def client(url: str) -> Callable[[], None]:
    """PlatformClient.send: one call of one message, as the gateway makes it."""
    platform = PlatformClient(url, KEY, ONE_API, timeout=10.0)

    def send() -> None:
        (sent,) = platform.send([Outgoing(PHONE, uuid.uuid4().hex[:24])], TEXT, None)
        assert sent.message_id, sent

    return send


def port(url: str) -> Callable[[], None]:
    """The whole port, as the app sends: plan, number and text checks, then the client."""
    gateway = ClickatellPlatformGateway(PlatformClient(url, KEY, ONE_API, timeout=10.0))

    def send() -> None:
        result = gateway.send(gateway.plan([PHONE]), TEXT)
        assert result.messages[0].message_id, result

    return send


def bare(url: str) -> Callable[[], None]:
    """The floor: one keep-alive session posting the JSON the client posts, nothing else."""
    session = requests.Session()

    def send() -> None:
        item = {"channel": "sms", "to": PHONE, "content": TEXT}
        item["clientMessageId"] = uuid.uuid4().hex[:24]
        body = json.dumps({"messages": [item]}, separators=(",", ":")).encode()
        reply = session.post(f"{url}/v1/message", data=body, headers=JSON_HEADERS, timeout=10)
        assert reply.json()["messages"][0]["accepted"], reply.text

    return send


class CountingAdapter(HTTPAdapter):
    """Counts the requests a session sends (the 500-recipient send's calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.bodies.append(request.body or b"")
        return super().send(request, *args, **kwargs)


def bulk(url: str, recipients: int) -> None:
    session = requests.Session()
    counter = CountingAdapter()
    session.mount("http://", counter)
    gateway = ClickatellPlatformGateway(
        PlatformClient(url, KEY, ONE_API, timeout=30.0, session=session)
    )
    numbers = [f"2782{n:07d}" for n in range(1, recipients + 1)]
    started = time.perf_counter()
    result = gateway.send(gateway.plan(numbers), TEXT)
    elapsed = time.perf_counter() - started
    taken = sum(1 for m in result.messages if m.message_id)
    sizes = [len(json.loads(body)["messages"]) for body in counter.bodies]
    print(
        f"{recipients}-recipient One API send: {len(sizes)} calls of {sizes} messages "
        f"(at most 200 each), {taken} accepted, {elapsed * 1000:.0f} ms"
    )


def report(results: dict[str, list[Round]], sends: int, in_process: bool) -> None:
    where = "in this process" if in_process else "in a separate process"
    rounds = len(next(iter(results.values())))
    print(
        f"{sends} single-recipient One API sends per contender per round, {rounds} rounds, "
        f"sandbox {where}"
    )
    print(f"{'':34} sends/s: median (min-max)   CPU us/send: client + sandbox")
    cpu: dict[str, float] = {}
    for name, runs in results.items():
        rates = [r.rate for r in runs]
        client_cpu = statistics.fmean(r.client_cpu for r in runs) * 1e6
        server_cpu = statistics.fmean(r.sandbox_cpu for r in runs) * 1e6
        cpu[name] = client_cpu + server_cpu
        spread = f"({min(rates):.0f}-{max(rates):.0f})"
        print(
            f"  {name:32} {statistics.median(rates):6.0f} {spread:13}"
            f"       {cpu[name]:5.0f} = {client_cpu:4.0f} + {server_cpu:4.0f}"
        )
    floor = results[BARE]
    for name, label in (
        (CLIENT, "bare loop / PlatformClient:   "),
        (PORT, "bare loop / gateway port:     "),
    ):
        ratio(
            label,
            [a.rate / b.rate for a, b in zip(floor, results[name], strict=True)],
            cpu[name] / cpu[BARE],
            "(goal <= 1.3x)" if name == CLIENT else "(the whole port, for reference)",
        )


CLIENT = "sms-bot PlatformClient"
PORT = "sms-bot gateway port (send)"
BARE = "bare requests.Session loop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=400, help="sends per contender per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--recipients", type=int, default=500, help="the bulk send's size")
    parser.add_argument("--in-process", action="store_true", help="run the sandbox in-process")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with running_sandbox(args.in_process) as gateway:
        running: RunningSandbox = gateway
        contenders = {CLIENT: client(running.url), PORT: port(running.url), BARE: bare(running.url)}
        results = measure(contenders, running, args.sends, args.rounds)
        report(results, args.sends, args.in_process)
        bulk(running.url, args.recipients)
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"  (1-minute load average {load}; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
