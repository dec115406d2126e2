"""`sms-bot console` driven through a pipe, as a script or a test drives it: the real app, the
sandbox gateway and the stand-in for Slack, checked on the transcript it prints.

The process is a real subprocess (`python -m bot console`) with a temporary working directory
(no .env), no Slack or Clickatell settings, and HTTP proxies pointing at a closed port so any
traffic that is not loopback would fail. Each step waits for the output it expects, with a
generous timeout; nothing sleeps for a guessed time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STEP = 30.0  # seconds; a passing run never waits for it (the sandbox moves statuses in ~1 s)


class ConsoleProcess:
    """A console subprocess: write lines to it, wait for lines matching patterns."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.errors), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.mark = 0  # expect() searches from here on

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, pattern: str, timeout: float = STEP) -> re.Match[str]:
        """Wait for a line (after the last one matched) matching `pattern`."""
        return self.expect_all([pattern], timeout)[0]

    def expect_all(self, patterns: list[str], timeout: float = STEP) -> list[re.Match[str]]:
        """Wait until every pattern matches a line after the last match, in any order (things
        that happen concurrently, e.g. a card update and the phone's reply, may come either
        way); the next search starts after the last of these lines."""
        regexes = [re.compile(p) for p in patterns]
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [self._first(regex) for regex in regexes]
                if all(found):
                    self.mark = max(index for index, _ in found) + 1  # type: ignore[misc]
                    return [match for _, match in found]  # type: ignore[misc]
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._more()):
                    missing = [p for p, f in zip(patterns, found, strict=True) if not f]
                    raise AssertionError(
                        f"no line matching {missing} after line {self.mark}; transcript:\n"
                        + "\n".join(self.lines)
                        + "\nstderr:\n"
                        + "\n".join(self.errors)
                    )
                self._changed.wait(min(remaining, 0.5))

    def _first(self, regex: re.Pattern[str]) -> tuple[int, re.Match[str]] | None:
        for index in range(self.mark, len(self.lines)):
            match = regex.search(self.lines[index])
            if match:
                return index, match
        return None

    def _more(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def close(self, timeout: float = STEP) -> int:
        """End of input: the console finishes outstanding work and exits."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def console_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "CLICKATELL_", "SMS_", "HTTP", "NO_PROXY", "PYTHON"))
        and k.lower() not in ("http_proxy", "https_proxy", "no_proxy")
    }
    dead = "http://127.0.0.1:9"  # discard port: any non-loopback request fails at once
    env.update(
        {
            "SMS_BOT_DB": str(tmp_path / "production.sqlite3"),
            "HTTP_PROXY": dead,
            "HTTPS_PROXY": dead,
            "NO_PROXY": "127.0.0.1,localhost",
            # This checkout's package, however (or whether) it is installed in the venv.
            "PYTHONPATH": str(ROOT),
            "PYTHONIOENCODING": "utf-8",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def console(tmp_path: Path) -> Iterator[ConsoleProcess]:
    work = tmp_path / "cwd"
    work.mkdir()
    process = ConsoleProcess(["-m", "bot", "console"], work, console_env(tmp_path))
    yield process
    process.kill()


# The README's example session: these lines piped into `sms-bot console` (each `wait` lets the
# gateway's delivery reports and the phone's reply arrive before the next line).
README_SCRIPT = [
    "/sms send 27825550103 Are you coming?",
    "wait",
    "reply Yes, see you at 8",
    "wait",
    "/sms balance",
    "/sms send 12345 Hello",
]


def test_send_delivery_reply_thread_reply_balance_and_an_error(
    console: ConsoleProcess, tmp_path: Path
) -> None:
    first = console.expect(r".")
    assert console.lines[0] == first.string
    assert "sms-bot console" in first.string and "sandbox gateway" in first.string
    assert "Connecting to Slack" in first.string and "README.md" in first.string
    send, wait, reply, wait_again, balance, error = README_SCRIPT

    # send -> the card, in the channel
    console.send(send)
    console.expect(rf"^you> {re.escape(send)}$")
    card = console.expect(r"^#(\d+) sms-bot:$").group(1)
    console.expect(r"^   │ Are you coming\?$")
    console.expect(r"^   1 part · GSM 7-bit$")
    console.expect(r"^   ⏳ \+27 82 555 0103 — Sending…$")
    console.send(wait)
    console.expect_all(
        [
            # delivery reports update the same card in place
            rf"^#{card} updated:$",
            r"^   ✅ \+27 82 555 0103 — Received by recipient · [0-9a-f]+$",
            # the phone's reply lands in the card's thread
            rf"^#\d+ sms-bot, in thread #{card}:$",
            r"^     Got it: Are you coming\?$",
        ]
    )

    # a reply typed in that thread goes out as an SMS and is marked delivered
    console.send(reply)
    mine = console.expect(rf"^#(\d+) you, in thread #{card}:$").group(1)
    console.expect(r"^     Yes, see you at 8$")
    console.send(wait_again)
    console.expect_all(
        [
            rf"^sms-bot reacted to #{mine}: ✅ :white_check_mark:$",
            r"^     Got it: Yes, see you at 8$",  # the sandbox phone texted back
        ]
    )

    console.send(balance)
    console.expect(r"^\(only visible to you\) sms-bot:$")
    console.expect(r"^   Credit left on the account: 98$")  # two SMS of one part each

    console.send(error)
    console.expect(r"^\(only visible to you\) sms-bot:$")
    console.expect(r"'12345' is not a valid phone number")

    assert console.close() == 0
    echoed = [line for line in console.lines if line.startswith("you> ")]
    assert echoed == [f"you> {line}" for line in README_SCRIPT]
    assert not any("Traceback" in line for line in console.errors), console.errors
    assert not (tmp_path / "production.sqlite3").exists()  # the console used its own database
    print("\n".join(console.lines))  # the README's example transcript (pytest -s shows it)


def test_the_launcher_starts_the_console_with_one_first_line(tmp_path: Path) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "bot.launcher"],
        input="help\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=work,
        env=console_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("sms-bot console (no Slack credentials configured")
    assert "Connecting to Slack" in lines[0]
    assert sum("Connecting to Slack" in line for line in lines) == 1
    assert "reply #N TEXT" in done.stdout  # the console's own help


def test_on_a_terminal_it_prompts_and_keeps_output_above_the_prompt(tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    import select

    work = tmp_path / "cwd"
    work.mkdir()
    env = console_env(tmp_path)
    env["TERM"] = "xterm"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the console on the pty's terminal (never returns to pytest)
        try:
            os.chdir(work)
            os.execve(sys.executable, [sys.executable, "-m", "bot", "console"], env)
        finally:
            os._exit(127)
    seen = bytearray()

    def until(needle: bytes, timeout: float = STEP) -> None:
        deadline = time.monotonic() + timeout
        while needle not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {needle!r} in {bytes(seen)!r}"
            if select.select([fd], [], [], min(remaining, 0.5))[0]:
                try:
                    seen.extend(os.read(fd, 65536))
                except OSError:  # the child closed the terminal
                    break

    try:
        until(b"you> ")
        os.write(fd, b"/sms balance\r")
        until(b"Credit left on the account: \x1b[1m")  # ANSI bold on a terminal
        os.write(fd, b"\x04")  # Ctrl-D: end of input
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Traceback" not in seen
