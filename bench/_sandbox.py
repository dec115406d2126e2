"""Start the sandbox for a benchmark: in its own process by default (like a real gateway, so the
server does not share the client's interpreter lock), or in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def sandbox_url(in_process: bool = False, balance: float = 1e9) -> Iterator[str]:
    if in_process:
        from bot.clickatell.sandbox import SandboxServer

        with SandboxServer(balance=balance, autorun=False) as server:
            yield server.url
        return
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "bot.clickatell.sandbox", "--port", "0"]
    command += ["--balance", str(balance)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if " listening on " not in line:
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        yield line.split(" listening on ")[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=20)
