"""A personalised bulk run through the engine against the sandbox answering each request after
50 ms: rows/s and the ratio to the ideal, calls made, peak RSS; the one-at-a-time approach side
by side; and a run killed at a random point and resumed, counted by the sandbox itself.

    .venv/bin/python bench/bench_bulk_rows.py [--rows N] [--serial-rows N] [--concurrency C]
                                              [--delay SECONDS] [--full] [--seed S]

`--full` is the issue's run: 10,000 rows (the one-at-a-time run takes 1,000 of them: at one
request per 50 ms it would need over 8 minutes for all, and its rate does not depend on length).
The default is short (1,000 and 200 rows).

Every run is a child process (`--child`) so its memory is its own and it can be killed: it
plans the CSV (`prepare`), starts the run and drives it (`BulkRunner`) with the production
storage (SQLite, synchronous FULL) and the legacy gateway client on one kept-alive session,
counting HTTP calls on that session. The sandbox is served by the parent process, which does
nothing else meanwhile (`reply_delay`, as `sms-bot sandbox --reply-delay`), and it is the
gateway's own count of what it took. (Not a `sms-bot sandbox --state` process: that one saves its
whole state after every request, so each request gets slower the more messages it holds.)

The ideal is concurrency × (1 / delay) rows/s: every request waits `delay` at the gateway, so
`concurrency` requests in flight can do no better. The one-at-a-time approach is the same engine
with concurrency 1 (a send loop, as `/sms send` did per recipient): its ideal is 1 / delay.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

import requests  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

from bot.gateway.clickatell_http.sandbox import SandboxServer  # noqa: E402

TEXT = "Hi {name}, your code is {code}. Reply STOP to opt out."
LEASE = 3.0  # seconds: a killed child's claimed rows are taken over this soon


# --------------------------------------------------------------------------- the child


class CountingAdapter(HTTPAdapter):
    def __init__(self, calls: Counter[str]):
        super().__init__(pool_maxsize=32)
        self.calls = calls

    def send(self, request, *args, **kwargs):  # type: ignore[override]
        self.calls.update([request.path_url.split("?")[0].rsplit("/", 1)[-1]])
        return super().send(request, *args, **kwargs)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one by default), from /proc."""
    stat = Path(f"/proc/{pid or 'self'}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(args: argparse.Namespace) -> None:
    from bot.bulk_cli import CommandLinePorts
    from bot.config import Settings
    from bot.gateway.clickatell_http.client import ClickatellClient
    from bot.gateway.clickatell_http.gateway import ClickatellHttpGateway
    from bot.storage import open_storage
    from bot.usecases import bulk
    from bot.usecases.bulk.runner import BulkRunner

    calls: Counter[str] = Counter()
    session = requests.Session()
    session.mount("http://", CountingAdapter(calls))
    settings = Settings(db_path=args.db, clickatell_timeout=10.0)
    client = ClickatellClient(args.url, "bench", "bench", "bench", session=session, timeout=10.0)
    gateway = ClickatellHttpGateway(client, account="bench")
    rss_start = _rss_mib()
    with open_storage(args.db) as storage:
        ports = CommandLinePorts(settings, storage, gateway, True)
        started = time.perf_counter()
        if args.child == "run":
            plan = bulk.prepare(
                ports,
                bulk.BulkSource(csv_bytes=Path(args.csv).read_bytes()),
                TEXT,
                starter="UBENCH",
                channel=None,
            )
            bulk.start(ports, plan.plan_id, user="UBENCH")
            print(json.dumps({"bulk_id": plan.plan_id}), flush=True)
            bulk_id = plan.plan_id
        else:
            bulk_id = args.bulk_id
        planned = time.perf_counter()
        cpu_before = _cpu_seconds()
        runner = BulkRunner(ports, concurrency=args.concurrency, lease=timedelta(seconds=LEASE))
        while runner.drive(bulk_id).next_due is not None:  # rows a killed run still holds
            time.sleep(0.2)
        sent = time.perf_counter()
        runner.close()
        tally = storage.bulks.tally(bulk_id)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "plan_s": planned - started,
                "send_s": sent - planned,
                "sent": tally.sent,
                "rows": tally.total,
                "calls": dict(calls),
                "rss_start_mib": rss_start,
                "peak_rss_mib": peak,
                "cpu_s": _cpu_seconds() - cpu_before,
            }
        ),
        flush=True,
    )


# --------------------------------------------------------------------------- the parent


def write_csv(path: Path, rows: int, offset: int) -> None:
    lines = ["name;phone;code"]
    lines += [f"Person {i};+2782{offset + i:07d};C{i:05d}" for i in range(rows)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")


def spawn(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate(timeout=3600)
    if process.returncode != 0:
        raise RuntimeError(f"child failed ({process.returncode}): {out}")
    return json.loads(out.strip().splitlines()[-1])


def run_args(db: Path, url: str, csv_path: Path, concurrency: int) -> list[str]:
    return ["--child", "run", "--db", str(db), "--url", url, "--csv", str(csv_path),
            "--concurrency", str(concurrency)]  # fmt: skip


def timed_run(
    folder: Path, name: str, url: str, rows: int, offset: int, concurrency: int
) -> dict[str, Any]:
    csv_path = folder / f"{name}.csv"
    write_csv(csv_path, rows, offset)
    sandbox_cpu = _cpu_seconds()  # this process serves the sandbox and does nothing else
    result = finish(spawn(run_args(folder / f"{name}.sqlite3", url, csv_path, concurrency)))
    result["rate"] = result["sent"] / result["send_s"]
    result["sandbox_cpu_s"] = _cpu_seconds() - sandbox_cpu
    return result


def kill_and_resume(
    folder: Path, url: str, rows: int, offset: int, concurrency: int, delay: float, seed: int
) -> dict[str, Any]:
    csv_path = folder / "killed.csv"
    write_csv(csv_path, rows, offset)
    db = folder / "killed.sqlite3"
    first = spawn(run_args(db, url, csv_path, concurrency))
    bulk_id = json.loads(first.stdout.readline())["bulk_id"]  # type: ignore[union-attr]
    wait = random.Random(seed).uniform(0.2, 0.8) * rows / (concurrency / delay)
    time.sleep(wait)
    first.send_signal(signal.SIGKILL)
    first.wait()
    resume = ["--child", "resume", "--db", str(db), "--url", url, "--bulk-id", bulk_id]
    resumed = finish(spawn([*resume, "--concurrency", str(concurrency)]))
    resumed["killed_after_s"] = wait
    return resumed


def report(args: argparse.Namespace, bulk: dict, serial: dict) -> None:  # type: ignore[type-arg]
    ideal = args.concurrency / args.delay
    print(
        f"Personalised bulk run, sandbox answering after {args.delay * 1000:.0f} ms, "
        f"concurrency {args.concurrency} (ideal {ideal:.0f} rows/s)"
    )
    print(
        f"{'run':<28}{'rows':>7}{'rows/s':>8}{'of ideal':>9}  {'peak RSS':>8}{'growth':>8}  calls"
    )
    for name, run, best in (
        (f"bulk engine, concurrency {args.concurrency}", bulk, ideal),
        ("one at a time", serial, 1 / args.delay),
    ):
        calls = ", ".join(f"{n} {c}" for c, n in sorted(run["calls"].items()))
        growth = run["peak_rss_mib"] - run["rss_start_mib"]
        print(
            f"{name:<28}{run['sent']:>7}{run['rate']:>8.1f}{run['rate'] / best:>9.2f}  "
            f"{run['peak_rss_mib']:>6.0f}Mi{growth:>6.0f}Mi  {calls}"
        )
    print(
        f"side by side: the engine sends {bulk['rate'] / serial['rate']:.1f}x the rows/s of one "
        f"at a time; its ratio to ideal {bulk['rate'] / ideal:.2f} (goal >= 0.8)"
    )
    for name, run in (("engine", bulk), ("one at a time", serial)):
        print(
            f"CPU per row ({name}): runner {run['cpu_s'] / run['sent'] * 1000:.1f} ms, "
            f"sandbox {run['sandbox_cpu_s'] / run['sent'] * 1000:.1f} ms"
        )
    print(f"planning {bulk['rows']} rows (read, check, store): {bulk['plan_s']:.2f} s")
    print(f"1-minute load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--serial-rows", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--full", action="store_true", help="10,000 rows (serial: 1,000)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--child", choices=["run", "resume"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--bulk-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.full:
        args.rows, args.serial_rows = 10_000, 1_000
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    with (
        tempfile.TemporaryDirectory(prefix="bench-bulk-") as temp,
        SandboxServer(balance=1e9, reply_delay=args.delay) as server,
    ):
        folder, url = Path(temp), server.url
        bulk = timed_run(folder, "bulk", url, args.rows, 0, args.concurrency)
        serial = timed_run(folder, "serial", url, args.serial_rows, 2_000_000, 1)
        killed = kill_and_resume(
            folder, url, args.rows, 4_000_000, args.concurrency, args.delay, seed
        )
        taken = Counter(m.to for m in server.messages())
    report(args, bulk, serial)
    numbers = {n for n in taken if 4_000_000 <= int(n[4:]) < 5_000_000}
    duplicates = sum(taken[n] - 1 for n in numbers)
    print(
        f"killed after {killed['killed_after_s']:.1f} s (seed {seed}) and resumed: the sandbox "
        f"took {len(numbers)} of {args.rows} numbers, {duplicates} of them twice; the resumed "
        f"run made {killed['calls']}"
    )


if __name__ == "__main__":
    main()
