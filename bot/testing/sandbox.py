"""The sandbox gateway as tests and benchmarks use it from outside the app.

- `running_sandbox(in_process=False)`: the sandbox for a benchmark of the gateway client, in its
  own process by default (like a real gateway, so the server does not share the client's
  interpreter lock), or in this one.
- `GatewayCalls(sandbox)`: counts the commands an in-process sandbox answers (auth, sendmsg,
  querymsg ...) and its `ERR: 003` (session expired) answers, by wrapping its one entry point.
- `Gate`: a sandbox `sleep` that holds every gateway reply until opened, to show what happens
  while the gateway is slow without sleeping in the test.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.gateway.clickatell_http.sandbox import SandboxServer

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunningSandbox:
    url: str
    pid: int | None  # the sandbox's own process; None when it runs in this one

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the sandbox process has used so far; None when it runs
        in-process (its time is then this process's) or /proc is not available."""
        if self.pid is None:
            return None
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)"
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def running_sandbox(in_process: bool = False, balance: float = 1e9) -> Iterator[RunningSandbox]:
    """The sandbox with `balance` credits, stopped on leaving."""
    if in_process:
        with SandboxServer(balance=balance, autorun=False) as server:
            yield RunningSandbox(server.url, None)
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bot.gateway.clickatell_http.sandbox", "--port", "0"]
    command += ["--balance", str(balance)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if " listening on " not in line:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield RunningSandbox(line.split(" listening on ")[1].split()[0], process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


class GatewayCalls:
    """Every command the sandbox answers, in order (`commands`), and how many answers were
    `ERR: 003` (session expired)."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.commands: list[str] = []
        self.expired = 0
        self._lock = threading.Lock()
        self._handle = sandbox.handle
        sandbox.handle = self._counted  # type: ignore[method-assign]

    def _counted(self, namespace: str, command: str, params: Any, method: str) -> str:
        with self._lock:
            self.commands.append(command)
        reply = self._handle(namespace, command, params, method)
        with self._lock:
            self.expired += reply.startswith("ERR: 003")
        return reply

    def count(self) -> int:
        with self._lock:
            return len(self.commands)

    def summary(self) -> str:
        """One line, e.g. `66 sendmsg, 1 auth; 0 answered ERR: 003 (session expired)`."""
        with self._lock:
            counts = Counter(self.commands).most_common()
            expired = self.expired
        listed = ", ".join(f"{n} {command}" for command, n in counts)
        return f"{listed}; {expired} answered ERR: 003 (session expired)"


class Gate:
    """A sandbox `sleep` that holds every gateway reply until `open()`; `waiting` counts the
    replies held so far."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self._count = itertools.count(1)
        self.waiting = 0
        self.held: list[threading.Thread] = []

    def sleep(self, seconds: float) -> None:
        self.waiting = next(self._count)
        self.held.append(threading.current_thread())
        self.opened.wait(30)

    def open(self) -> None:
        self.opened.set()

    def drain(self, timeout: float = 10.0) -> None:
        """Open, and wait until every held reply has been written (or failed to be)."""
        self.open()
        for thread in self.held:
            thread.join(timeout)

    def close(self) -> None:
        self.opened.clear()
