"""Acknowledgement latency of `/sms send` while the gateway is slow.

200 signed `/sms send` commands from 20 concurrent senders (each in its own channel) hit the real
app (waitress, Bolt, the work executor) while the sandbox gateway answers every request after
2 seconds. Measured: the time from sending the HTTP request to receiving Slack's acknowledgement
(p50, p99, max), then the time until every send completed (each recipient has a gateway result
and every card shows it). Goal: p99 under 300 ms; every send completes.

    .venv/bin/python bench/bench_ack.py [--commands 200] [--senders 20] [--delay 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.testing.app import AppOptions, RunningApp  # noqa: E402
from bot.testing.slack import FakeSlack  # noqa: E402
from bot.testing.waiting import wait_for  # noqa: E402

NUMBER = "27821234567"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def run(commands: int, senders: int, delay: float) -> int:
    with FakeSlack() as fake, tempfile.TemporaryDirectory() as tmp:
        # Enough credit for every send (the sandbox starts with 100 credits, one per part).
        options = {"reply_delay": delay, "balance": 100.0 + commands}
        app = RunningApp(fake, Path(tmp), AppOptions(sandbox_options=options))
        try:
            return _measure(app, fake, commands, senders, delay)
        finally:
            app.stop()


def _measure(app: RunningApp, fake: FakeSlack, commands: int, senders: int, delay: float) -> int:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    per_sender = commands // senders

    def sender(index: int) -> None:
        channel = f"C0BENCH{index:03d}"
        for n in range(per_sender):
            started = time.perf_counter()
            answer, _ = app.command(f"send {NUMBER} bench {index}-{n}", channel=channel)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:80]}")

    began = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(sender, range(senders)))
    acked = time.perf_counter() - began
    total = per_sender * senders

    def all_sent() -> bool:
        entries = app.state.recipients()
        done = [e for e in entries if e.apimsgid or e.error_code or e.error_description]
        return len(entries) == total and len(done) == total

    def cards_final() -> int:
        shown = [m for m in fake.messages.values() if "Sending" not in json.dumps(m)]
        return len(shown) if len(shown) >= total else 0

    wait_for(all_sent, 60 + total * delay, "every send to get its gateway result")
    sent_at = time.perf_counter() - began
    cards = wait_for(cards_final, 300, "every card to show its result")
    finished = time.perf_counter() - began

    print(f"commands: {total} from {senders} concurrent senders; gateway reply delay {delay:g} s")
    print(
        f"ack latency: p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms"
    )
    print(f"all {total} acknowledged after {acked:.2f} s; non-200 answers: {len(failures)}")
    refused = [e for e in app.state.recipients() if not e.apimsgid]
    print(f"gateway results for all sends after {sent_at:.2f} s ({len(refused)} refused)")
    print(f"cards showing their result: {cards} of {total}, after {finished:.2f} s")
    print(
        f"gateway messages: {len(app.sandbox.messages())}; Slack chat.postMessage calls: "
        f"{len(fake.calls_to('chat.postMessage'))}, chat.update calls: "
        f"{len(fake.calls_to('chat.update'))}"
    )
    goal = percentile(latencies, 0.99) < 0.300 and not failures and cards >= total and not refused
    print("goal (p99 < 300 ms, every send completes):", "met" if goal else "NOT met")
    return 0 if goal else 1


def main() -> int:
    # waitress warns whenever requests wait for a thread; expected under this load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--delay", type=float, default=2.0)
    args = parser.parse_args()
    return run(args.commands, args.senders, args.delay)


if __name__ == "__main__":
    sys.exit(main())
