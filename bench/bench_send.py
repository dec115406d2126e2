"""Sends per second against the sandbox: this client, the third-party `clickatell` 0.1.2 package,
and a bare requests.Session keep-alive loop posting the same form (the floor).

    .venv/bin/python bench/bench_send.py [--sends N] [--rounds R]

Each contender sends N single-recipient messages per round to the same sandbox, which runs in
its own process like a real gateway (`--in-process` to share this interpreter instead). After a
warm-up, every round runs the contenders one after another in a rotated order, so load drift
hits them alike; the median round of each is reported, and the ratios are the medians of the
per-round ratios (contenders measured seconds apart, so other load on the machine largely
cancels). Beside the wall-clock rates, the CPU time per send (this process plus the sandbox's
process) is printed: it does not depend on how busy the machine is, so it shows the cost of
each contender even when the wall-clock figures swing. Goal (product.md §8): at least 3x the
third-party package and within 1.3x of the bare loop.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.wire import form_body
from bot.testing.sandbox import RunningSandbox, running_sandbox

PHONE = "27821234567"
TEXT = "Benchmark message: the quick brown fox jumps over the lazy dog"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def ours(url: str) -> Callable[[], None]:
    client = ClickatellClient(url, "bench", "bench", "bench", timeout=10.0)
    client.auth()

    def send() -> None:
        result = client.send(PHONE, TEXT)
        assert result.messages[0].apimsgid, result

    return send


def third_party(url: str) -> Callable[[], None]:
    from clickatell.http import Http  # the PyPI package clickatell==0.1.2

    client = Http("bench", "bench", "bench")
    client.endpoint = url.removeprefix("http://")  # secure=False by default: plain http

    def send() -> None:
        result = client.sendMessage(PHONE, TEXT)
        assert result[0]["id"], result

    return send


def _sendmsg_fields(session_id: str) -> list[tuple[str, str | bytes]]:
    """The fields this client posts to sendmsg for one message, but for its climsgid."""
    return [
        ("session_id", session_id),
        ("to", PHONE),
        ("text", TEXT.encode("latin-1")),
        ("unicode", "0"),
        ("concat", "1"),
        ("callback", "7"),
    ]


def bare(url: str) -> Callable[[], None]:
    """The floor: one keep-alive session posting the form this client posts, nothing else."""
    session = requests.Session()
    auth = session.post(f"{url}/http/auth", data=b"api_id=b&user=b&password=b", headers=FORM)
    session_id = auth.text.split(":", 1)[1].strip()
    fixed = _sendmsg_fields(session_id)

    def send() -> None:
        body = form_body([*fixed, ("climsgid", uuid.uuid4().hex[:24])])
        reply = session.post(f"{url}/http/sendmsg", data=body, headers=FORM, timeout=10)
        assert reply.text.startswith("ID:"), reply.text

    return send


def raw(url: str) -> Callable[[], None]:
    """For reference only: http.client on one kept-alive connection, no requests at all. This
    is about as fast as the sandbox can answer, the ceiling for any requests-based client."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/http/auth", body=b"api_id=b&user=b&password=b", headers=FORM)
    session_id = connection.getresponse().read().decode().split(":", 1)[1].strip()
    fixed = _sendmsg_fields(session_id)

    def send() -> None:
        body = form_body([*fixed, ("climsgid", uuid.uuid4().hex[:24])])
        connection.request("POST", "/http/sendmsg", body=body, headers=FORM)
        reply = connection.getresponse().read()
        assert reply.startswith(b"ID:"), reply

    return send


@dataclass(frozen=True)
class Round:
    rate: float  # sends per second, wall clock
    client_cpu: float  # CPU seconds per send in this process
    sandbox_cpu: float  # CPU seconds per send in the sandbox's process (0 when in-process)


def run_round(send: Callable[[], None], count: int, gateway: RunningSandbox) -> Round:
    sandbox_before = gateway.cpu_seconds() or 0.0
    cpu_before = time.process_time()
    started = time.perf_counter()
    for _ in range(count):
        send()
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - cpu_before
    sandbox_cpu = (gateway.cpu_seconds() or 0.0) - sandbox_before
    return Round(count / elapsed, client_cpu / count, sandbox_cpu / count)


def measure(
    contenders: dict[str, Callable[[], None]], gateway: RunningSandbox, sends: int, rounds: int
) -> dict[str, list[Round]]:
    for send in contenders.values():  # warm up connections, caches and the sandbox
        run_round(send, 50, gateway)
    results: dict[str, list[Round]] = {name: [] for name in contenders}
    names = list(contenders)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(run_round(contenders[name], sends, gateway))
    return results


def report(results: dict[str, list[Round]], sends: int, in_process: bool) -> None:
    where = "in this process" if in_process else "in a separate process"
    rounds = len(next(iter(results.values())))
    print(
        f"{sends} single-recipient sends per contender per round, {rounds} rounds, sandbox {where}"
    )
    print(f"{'':34} sends/s: median (min-max)   CPU us/send: client + sandbox")
    if in_process:
        print("  (the sandbox runs in this process: its CPU time is in the client column)")
    cpu: dict[str, float] = {}
    for name, runs in results.items():
        rates = [r.rate for r in runs]
        client = statistics.fmean(r.client_cpu for r in runs) * 1e6
        server = statistics.fmean(r.sandbox_cpu for r in runs) * 1e6
        cpu[name] = client + server
        spread = f"({min(rates):.0f}-{max(rates):.0f})"
        print(
            f"  {name:32} {statistics.median(rates):6.0f} {spread:13}"
            f"       {cpu[name]:5.0f} = {client:4.0f} + {server:4.0f}"
        )
    ours, third, floor = results[OURS], results[THIRD], results[BARE]
    ratio(
        "ClickatellClient / third-party:",
        [a.rate / b.rate for a, b in zip(ours, third, strict=True)],
        cpu[THIRD] / cpu[OURS],
        "(goal >= 3x)",
    )
    ratio(
        "bare loop / ClickatellClient:  ",
        [a.rate / b.rate for a, b in zip(floor, ours, strict=True)],
        cpu[OURS] / cpu[BARE],
        "(goal <= 1.3x)",
    )


def ratio(label: str, per_round: list[float], by_cpu: float, goal: str) -> None:
    low, high = min(per_round), max(per_round)
    print(
        f"  {label} {statistics.median(per_round):4.2f}x  (rounds {low:.2f}-{high:.2f}; "
        f"by CPU per send {by_cpu:4.2f}x)  {goal}"
    )


OURS = "sms-bot ClickatellClient"
THIRD = "clickatell 0.1.2 (third-party)"
BARE = "bare requests.Session loop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=400, help="sends per contender per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--in-process", action="store_true", help="run the sandbox in-process")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with running_sandbox(args.in_process) as gateway:
        contenders = {
            OURS: ours(gateway.url),
            THIRD: third_party(gateway.url),
            BARE: bare(gateway.url),
            "(reference: raw http.client loop)": raw(gateway.url),
        }
        results = measure(contenders, gateway, args.sends, args.rounds)
    report(results, args.sends, args.in_process)
    load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"  (1-minute load average {load}; {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
