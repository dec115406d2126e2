"""Start the sandbox for a benchmark: in its own process by default (like a real gateway, so the
server does not share the client's interpreter lock), or in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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
def sandbox(in_process: bool = False, balance: float = 1e9) -> Iterator[RunningSandbox]:
    if in_process:
        from bot.gateway.clickatell_http.sandbox import SandboxServer

        with SandboxServer(balance=balance, autorun=False) as server:
            yield RunningSandbox(server.url, None)
        return
    env = {**os.environ, "PYTHONPATH": str(REPO)}
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


@contextmanager
def sandbox_url(in_process: bool = False, balance: float = 1e9) -> Iterator[str]:
    with sandbox(in_process, balance) as running:
        yield running.url
