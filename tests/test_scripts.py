"""The two commands a newcomer types, run as they would run them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLICKATELL_"))}
    return subprocess.run(
        ["bash", "scripts/run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_arguments_reach_sms_bot_not_the_setup() -> None:
    done = _run("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: sms-bot"), done.stdout
    assert "pip" not in done.stderr  # the environment was not (re)installed for an argument


def test_a_command_word_is_a_command_not_an_extra() -> None:
    done = _run("status")
    assert done.returncode == 2  # a usage error of sms-bot's own
    assert "status needs a message ID" in done.stderr


def test_the_command_lines_sandbox_state_is_not_something_to_commit() -> None:
    for name in ("bot.sqlite3.sandbox.json", "bot.sqlite3.sandbox.json.lock"):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
        assert ignored.returncode == 0, name
