"""Sends per second against the sandbox: this client, the third-party `clickatell` 0.1.2 package,
and a bare requests.Session keep-alive loop posting the same form (the floor).

    .venv/bin/python bench/bench_send.py [--sends N] [--rounds R]

Each contender sends N single-recipient messages per round to the same sandbox, which runs in
its own process like a real gateway (`--in-process` to share this interpreter instead). Every
round runs the contenders in a rotated order so load drift hits them alike; the median round
of each is reported. Goal (product.md §8): at least 3x the third-party package and
within 1.3x of the bare loop.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from bench._sandbox import sandbox_url
from bot.clickatell.client import ClickatellClient, form_body

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


def bare(url: str) -> Callable[[], None]:
    """The floor: one keep-alive session posting the form this client posts, nothing else."""
    session = requests.Session()
    auth = session.post(f"{url}/http/auth", data=b"api_id=b&user=b&password=b", headers=FORM)
    session_id = auth.text.split(":", 1)[1].strip()
    fixed = [
        ("session_id", session_id),
        ("to", PHONE),
        ("text", TEXT.encode("latin-1")),
        ("unicode", "0"),
        ("concat", "1"),
        ("callback", "7"),
    ]

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
    fixed = [
        ("session_id", session_id),
        ("to", PHONE),
        ("text", TEXT.encode("latin-1")),
        ("unicode", "0"),
        ("concat", "1"),
        ("callback", "7"),
    ]

    def send() -> None:
        body = form_body([*fixed, ("climsgid", uuid.uuid4().hex[:24])])
        connection.request("POST", "/http/sendmsg", body=body, headers=FORM)
        reply = connection.getresponse().read()
        assert reply.startswith(b"ID:"), reply

    return send


def rate(send: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        send()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=500, help="sends per contender per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--in-process", action="store_true", help="run the sandbox in-process")
    args = parser.parse_args()
    with sandbox_url(args.in_process) as url:
        contenders = {
            "sms-bot ClickatellClient": ours(url),
            "clickatell 0.1.2 (third-party)": third_party(url),
            "bare requests.Session loop": bare(url),
            "(reference: raw http.client loop)": raw(url),
        }
        for send in contenders.values():  # warm up connections and caches
            rate(send, 50)
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                rates[name].append(rate(contenders[name], args.sends))
    where = "in this process" if args.in_process else "in a separate process"
    print(
        f"{args.sends} single-recipient sends per contender per round, {args.rounds} rounds, "
        f"sandbox {where}; median round (min-max)"
    )
    median = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        print(f"  {name:32} {median[name]:7.0f} sends/s  ({min(values):.0f}-{max(values):.0f})")
    client, third, floor, _ = median.values()
    print(f"  ClickatellClient / third-party:  {client / third:5.2f}x   (goal >= 3x)")
    print(f"  bare loop / ClickatellClient:    {floor / client:5.2f}x   (goal <= 1.3x)")


if __name__ == "__main__":
    main()
