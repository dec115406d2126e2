"""The soak's printed report: throughput, acknowledgement latency, the app's memory, the drain,
every check's tally, the app's log and the machine's load."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from bench.soak.load import CallbackStream, Commander, Stream
from bench.soak.memory import Sample, mib, slope_kib_per_minute
from bench.soak.oracle import Database, Snapshot, Tally
from bench.soak.plan import Options


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
    replica_rss: list[int | None]  # each replica's RSS (KiB) at the end of the load


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
    many = len(r.replica_rss) > 1
    print(
        "App memory (RSS" + (f", the sum of {len(r.replica_rss)} replicas" if many else "") + "):"
    )
    if many:
        each = ", ".join(mib(kib) if kib is not None else "?" for kib in r.replica_rss)
        print(f"  each replica at the end of the load: {each}")
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
    sessions = [s.connections for s in r.samples if s.connections >= 0]
    if sessions:
        print(
            f"Database sessions (pg_stat_activity, every sample): min {min(sessions)}, max "
            f"{max(sessions)}, at the end of the load "
            f"{r.end_of_load.connections if r.end_of_load else '?'}"
        )
    print(f"Drain: {r.drained:.1f} s until everything was settled (limit {options.drain:g} s)")
    print("Lost / duplicated / wrong:")
    for tally in tallies:
        print(tally.line())
    notable = log_messages(r.log_text)
    tracebacks = r.log_text.count("Traceback")
    print(
        f"App log: {sum(notable.values())} warnings and errors, {tracebacks} tracebacks; exit "
        f"status {r.exit_status} after SIGTERM" + (" (the worst replica's)" if many else "")
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


def progress(sample: Sample) -> None:
    load = os.getloadavg()[0]
    print(
        f"  {sample.at / 60:5.1f} min  RSS {mib(sample.rss_kib):>10}  backlog: inbox "
        f"{sample.inbox:4d}, outbox {sample.outbox:4d}"
        + (f"  sessions {sample.connections}" if sample.connections >= 0 else "")
        + f"  load {load:.1f}",
        flush=True,
    )
