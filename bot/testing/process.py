"""The app under test as its own process: `python -m bot serve`, configured like `RunningApp`.

For what an app in the test's own process cannot show: being killed (SIGKILL between two steps)
and restarted on the same database, or its memory measured on its own. The configuration is the
same `AppOptions` (bot/testing/app.py) turned into environment variables; the options that are
objects rather than settings (a storage factory, a clock, inbound timings) cannot cross a process
boundary, so they are refused, not ignored.

The process runs in `directory` (so no `.env` of the checkout is read), with nothing of the
caller's own SLACK_/CLICKATELL_/SMS_ settings; everything it prints goes to `serve-<n>.log` in
that directory. It is ready when it logs its start-up line ("... serving on http://...:<port>:
..."), which is logged once everything is up; its URL is read from that line, so PORT=0 works.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from bot.testing.app import SLACK_SIDE, AppOptions, database_path

ROOT = Path(__file__).resolve().parents[2]
_SERVING = re.compile(r"serving on (http://\S+?:\d+)")
_CALLERS_SETTINGS = ("SLACK_", "CLICKATELL_", "SMS_")


class ServedApp:
    """One `python -m <module> serve` process (`module`: "bot", or a wrapper with the same
    command line such as the soak's traced app)."""

    def __init__(
        self,
        slack_api_url: str,
        directory: Path,
        options: AppOptions = SLACK_SIDE,
        *,
        module: str = "bot",
        timeout: float = 60.0,
    ):
        refused = options.in_process_only()
        if refused:
            raise ValueError(f"a served app takes settings only, not {', '.join(refused)}")
        self.directory = directory
        self.module = module
        self.db_path = database_path(directory)
        self.log_path = _fresh_log(directory)
        self.url = ""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_CALLERS_SETTINGS)}
        env |= {"PYTHONPATH": str(ROOT), **options.environment(slack_api_url, directory)}
        self._log: IO[str] = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "serve"],
            cwd=directory,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_serving(timeout)
        except BaseException:
            self.kill()
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_serving(self, timeout: float) -> None:
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _SERVING.search(self.log_text())
            if found:
                self.url = found.group(1)
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited at start-up:\n{self.log_tail()}")
            pause.wait(0.05)
        raise RuntimeError(f"the app did not start within {timeout:g} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine or the OOM killer stops it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def stop(self) -> int:
        """SIGTERM (a clean stop, as a service manager does it); the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        return int(self.process.returncode)

    def log_text(self) -> str:
        """Everything the process printed so far (its log and any traceback)."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def _fresh_log(directory: Path) -> Path:
    """serve-1.log, serve-2.log, ...: each process of a directory (restarts) keeps its own."""
    number = 1
    while (directory / f"serve-{number}.log").exists():
        number += 1
    return directory / f"serve-{number}.log"
