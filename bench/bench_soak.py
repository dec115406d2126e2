"""A bounded soak of the whole app (issue 6, "Load and soak").

The real app runs as `python -m bot serve` in its own process (so its RSS is its own); the
sandbox gateway and the fake Slack Web API run in this process; everything is on 127.0.0.1:

- the sandbox is the app's gateway (CLICKATELL_BASE_URL, its own api_id and login; the app's
  calls are counted, `--session-ttl` below a second makes the session expire between most
  sends); its status and MO callbacks go to the app's /clickatell/status and /clickatell/mo with
  basic auth;
- the fake Slack (bot/testing/slack.py) is SLACK_API_URL;
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
    .venv/bin/python bench/bench_soak.py --replicas 2 --db postgresql [--minutes 1]

With `--db postgresql` the database is a throwaway PostgreSQL cluster this run starts (the
server binaries the tests use, tests/support/postgres.py; fsync off, as for the tests) and with
`--replicas N` that many `serve` processes share it: commands, thread replies and external
callbacks go to them in turn (as a round-robin load balancer hands them out), the gateway's own
callbacks to the first (so a send made on one replica is reported to the other). RSS is then
the replicas' sum (each one's is printed too), and the database's sessions are counted with
every sample: both must stay bounded.

This file starts the parts and runs the phases; the parts are in bench/soak/: what to send
(`plan`), sending it (`load`), recognising cards (`cards`), what should have happened against
what did (`oracle`), the app's memory (`memory`) and the printed report (`report`). The app is
started by the shared harness (bot/testing/process.py's `ServedApp`).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.soak.cards import CardIndex  # noqa: E402
from bench.soak.load import CallbackStream, Commander, Stream  # noqa: E402
from bench.soak.memory import AppMemory, MemoryGrowth, Sample, Sampler  # noqa: E402
from bench.soak.oracle import Snapshot, Tally, read_database, run_checks  # noqa: E402
from bench.soak.plan import (  # noqa: E402
    API_ID,
    CALLBACK_USER,
    GATEWAY_USER,
    SMS_CHANNEL,
    Options,
    Secrets,
)
from bench.soak.report import Results, progress, report  # noqa: E402
from bot.gateway.clickatell_http.sandbox import SandboxServer  # noqa: E402
from bot.storage import StorageError  # noqa: E402
from bot.testing.app import AppOptions  # noqa: E402
from bot.testing.process import ServedApp  # noqa: E402
from bot.testing.sandbox import GatewayCalls  # noqa: E402
from bot.testing.slack import FakeSlack  # noqa: E402
from bot.testing.state import AppState  # noqa: E402
from tests.support.postgres import ThrowawayCluster, query  # noqa: E402

TRACED_APP = "bench._traced_app"  # `python -m bot` under tracemalloc (--trace-memory)


# --------------------------------------------------------------------------- the parts


def free_port() -> int:
    """A free loopback port: the sandbox must know the app's callback URL before it starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gateway(port: int, keys: Secrets, options: Options) -> SandboxServer:
    """The sandbox as a real account (its own api_id and login), reporting to the app's port."""
    return SandboxServer(
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


def app_options(
    port: int,
    gateway_url: str,
    keys: Secrets,
    trace_dir: Path | None,
    database: str | None = None,
) -> AppOptions:
    """The app configured for a real gateway (the sandbox at `gateway_url`), on `port`; on
    `database` (SMS_BOT_DB) when given, else a SQLite file in its directory."""
    env = {
        "SLACK_BOT_TOKEN": "xoxb-soak-token",
        "SLACK_SIGNING_SECRET": keys.signing,
        "CLICKATELL_API_ID": API_ID,
        "CLICKATELL_USER": GATEWAY_USER,
        "CLICKATELL_PASSWORD": keys.gateway_password,
        "CLICKATELL_BASE_URL": gateway_url,
        "CLICKATELL_CALLBACK_USER": CALLBACK_USER,
        "CLICKATELL_CALLBACK_PASSWORD": keys.callback_password,
        "SMS_ALLOWED_USERS": "",
        "PORT": str(port),
    }
    if trace_dir is not None:
        env["SOAK_TRACE_DIR"] = str(trace_dir)  # read by bench/_traced_app.py
    if database is not None:
        env["SMS_BOT_DB"] = database
    return AppOptions(sms_channel=SMS_CHANNEL, env=env)


@dataclass
class Running:
    """Everything one soak runs against."""

    options: Options
    keys: Secrets
    apps: list[ServedApp]
    memory: AppMemory
    state: AppState  # the app's database, read from this process
    sandbox: SandboxServer
    calls: GatewayCalls
    fake: FakeSlack
    database_url: str | None  # PostgreSQL's; None for SQLite

    @property
    def app(self) -> ServedApp:
        """The first replica (the only one on SQLite): the gateway reports to it."""
        return self.apps[0]

    def sessions(self) -> int:
        """Sessions on the app's PostgreSQL database now (every replica's pool and listener)."""
        assert self.database_url is not None
        ((count,),) = query(
            self.database_url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()",
        )
        return int(count)  # type: ignore[call-overload]

    def stop_apps(self) -> int:
        """SIGTERM every replica; the worst exit status."""
        return max(app.stop() for app in self.apps)

    def log_text(self) -> str:
        return "\n".join(app.log_text() for app in self.apps)


@contextmanager
def database(options: Options) -> Iterator[str | None]:
    """`--db postgresql`: a throwaway cluster and a database on it, removed afterwards."""
    if options.db != "postgresql":
        yield None
        return
    cluster = ThrowawayCluster()
    try:
        cluster.start()
        yield cluster.url(cluster.create_database())
    finally:
        cluster.remove()


@contextmanager
def running(options: Options, keys: Secrets) -> Iterator[Running]:
    """The fake Slack, the sandbox, the database and the app's replicas, started; stopped on
    leaving."""
    with (
        FakeSlack() as fake,
        tempfile.TemporaryDirectory(prefix="soak-") as tmp,
        database(options) as url,
    ):
        workdir, ports = Path(tmp), [free_port() for _ in range(options.replicas)]
        trace_dir = workdir / "tracemalloc" if options.trace_memory else None
        if trace_dir is not None:
            trace_dir.mkdir()
        sandbox = gateway(ports[0], keys, options)
        calls = GatewayCalls(sandbox)
        module = TRACED_APP if options.trace_memory else "bot"
        apps: list[ServedApp] = []
        with sandbox:
            try:
                for n, port in enumerate(ports):
                    directory = workdir if n == 0 else workdir / f"replica{n + 1}"
                    directory.mkdir(exist_ok=True)
                    served = app_options(port, sandbox.url, keys, trace_dir, url)
                    apps.append(ServedApp(fake.api_url, directory, served, module=module))
                with AppState.opened(url or apps[0].db_path) as state:
                    memory = AppMemory(apps, trace_dir)
                    yield Running(options, keys, apps, memory, state, sandbox, calls, fake, url)
            finally:
                for app in apps:
                    if app.process.poll() is None:
                        app.stop()


# --------------------------------------------------------------------------- the phases


@dataclass
class Loaded:
    """What the load phase leaves for the checks and the report."""

    commander: Commander
    stream: CallbackStream
    streams: dict[str, Stream]
    sampler: Sampler
    first: Sample | None
    end_of_load: Sample | None
    seconds: float
    memory_sites: list[str]
    replica_rss: list[int | None]


def header(run: Running, load_before: tuple[float, float, float]) -> None:
    options = run.options
    print(
        f"soak: {options.minutes:g} min of load, then up to {options.drain:g} s of drain; "
        f"{options.rate:g} commands/s over {options.channels} channels; {options.callbacks:g} "
        f"external callbacks/s ({options.mo_rate:g} of them SMS); {len(run.apps)} replica(s) "
        f"on {options.db}, pid {', '.join(str(app.pid) for app in run.apps)} "
        f"(python -m {run.app.module} serve), sandbox and fake Slack in this process "
        f"(pid {os.getpid()}); "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} at start",
        flush=True,
    )


def load(run: Running) -> Loaded:
    """The load for `--minutes`, sampled throughout; the memory growth sites if traced."""
    options, fake = run.options, run.fake
    cards, stop = CardIndex(fake), threading.Event()
    started = time.perf_counter()
    window = (started, started + options.seconds)
    urls = [app.url for app in run.apps]
    commander = Commander(urls, fake, cards, options, run.keys, window, stop)
    stream = CallbackStream(urls, run.sandbox, options, run.keys, window, stop)
    sessions = run.sessions if run.database_url is not None else None
    sampler = Sampler(run.memory, run.state, started, options.sample, progress, sessions)
    growth = MemoryGrowth(run.memory, started + options.seconds / 2, stop)
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
    seconds = time.perf_counter() - started
    end_of_load = sampler.take()
    replica_rss = run.memory.each_kib()
    memory_sites = growth.sites() if options.trace_memory else []
    streams = {
        "commands": commander.commands,
        "thread replies": commander.events,
        "status callbacks": stream.statuses,
        "MO callbacks": stream.mos,
    }
    return Loaded(
        commander, stream, streams, sampler, first, end_of_load, seconds, memory_sites, replica_rss
    )


def snapshot(run: Running, loaded: Loaded) -> Snapshot:
    # dict() copies a dict in one step under the interpreter lock: no "changed size" races.
    messages = {key: dict(m) for key, m in dict(run.fake.messages).items()}
    reactions = {key: list(r) for key, r in dict(run.fake.reactions).items()}
    return Snapshot(
        list(loaded.commander.sent),
        list(loaded.commander.replies),
        list(loaded.stream.sent_mos),
        run.sandbox.messages(),
        messages,
        reactions,
    )


def drain(run: Running, check: Callable[[], list[Tally]], limit: float) -> float:
    """Wait until the gateway is quiet, the app's backlog is empty and every check passes (or
    `limit` seconds); returns how long it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        quiet = not run.sandbox.pending_events(horizon=5.0)
        try:
            idle = run.state.backlog() == (0, 0)
        except StorageError:
            idle = False
        if quiet and idle and all(t.clean for t in check()):
            break
        time.sleep(2.0)
    return time.perf_counter() - started


def settle_and_report(run: Running, loaded: Loaded, load_before: tuple[float, float, float]) -> int:
    """Drain, stop the app, check everything, print the report; the exit status."""

    def check() -> list[Tally]:
        return run_checks(snapshot(run, loaded), loaded.streams)

    drained = drain(run, check, run.options.drain)
    after_drain = loaded.sampler.take()
    deliveries = run.sandbox.deliveries()  # its last 10,000 callback attempts: a 10 min run's
    loaded.sampler.stop.set()
    loaded.sampler.join(10)
    tallies = check()
    final = snapshot(run, loaded)
    exit_status = run.stop_apps()
    database = read_database(run.state, final.gateway)
    tallies += database.tallies()
    log_text = run.log_text()
    leaked = [s for s in run.keys.all() if s in log_text]
    tallies.append(Tally("secrets in the app's log", len(run.keys.all()), 0, 0, len(leaked)))
    results = Results(
        loaded.commander,
        loaded.stream,
        loaded.streams,
        loaded.sampler.samples,
        loaded.first,
        loaded.end_of_load,
        after_drain,
        loaded.seconds,
        drained,
        database,
        final,
        log_text,
        exit_status,
        load_before,
        (len(deliveries), sum(1 for d in deliveries if d.ok)),
        run.calls.summary(),
        loaded.memory_sites,
        loaded.replica_rss,
    )
    report(run.options, results, tallies)
    return verdict(loaded, tallies)


def verdict(loaded: Loaded, tallies: list[Tally]) -> int:
    clean = all(t.clean for t in tallies)
    commander, stream = loaded.commander, loaded.stream
    if not (commander.sent and stream.sent_mos and commander.replies):
        clean = False  # checks over nothing prove nothing
        print("The load did not run: no commands, inbound SMS or thread replies were sent.")
    print("Result:", "nothing lost, duplicated or wrong" if clean else "PROBLEMS FOUND (see above)")
    return 0 if clean else 1


def run(options: Options) -> int:
    keys = Secrets()
    load_before = os.getloadavg()
    with running(options, keys) as started:
        header(started, load_before)
        loaded = load(started)
        return settle_and_report(started, loaded, load_before)


# --------------------------------------------------------------------------- the command line


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
    parser.add_argument("--replicas", type=int, default=1, help="serve processes on one database")
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="the database: a SQLite file, or a throwaway PostgreSQL cluster",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= 8:
        parser.error("--replicas must be in [1, 8]")
    if args.replicas > 1 and args.db != "postgresql":
        parser.error("--replicas above 1 needs --db postgresql (one serve per SQLite file)")
    if args.replicas > 1 and args.trace_memory:
        parser.error("--trace-memory traces one app: use it with --replicas 1")
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
        args.replicas,
        args.db,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    logging.basicConfig(level=logging.WARNING)
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
