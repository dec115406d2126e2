"""One `sms-bot serve` per SQLite database: the first holds the file for its whole life; a second
refuses to start with one line naming the other process and the file, and touches nothing (in
particular it does not free the first one's claims on outbox work). Inbox rows are claimed
atomically anyway, so two processors on one file cannot both post the same SMS (issue 16,
case 2). Real `python -m bot serve` processes on one database; below, two inbound sides on one
file with the race forced."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from bot.storage import StorageError, open_storage
from tests.hardening.support import ROOT, HistorySlack, Rig, Server

pytestmark = pytest.mark.slow

AUTH = ("clickatell", "one-server-password")


@pytest.fixture
def env(tmp_path: Path, slack: HistorySlack) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-one-server",
        "SLACK_SIGNING_SECRET": "one-server-secret",
        "SLACK_API_URL": slack.api_url,
        "SMS_CHANNEL": "C0SMS",
        "SMS_BOT_DB": str(tmp_path / "bot.sqlite3"),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "CLICKATELL_CALLBACK_USER": AUTH[0],
        "CLICKATELL_CALLBACK_PASSWORD": AUTH[1],
    }


@pytest.fixture
def first(env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    server = Server(env, tmp_path)
    try:
        yield server
    finally:
        server.kill()


def _held_outbox_item(db: str) -> int:
    """An outbox item claimed by a live process (as the first server's drainer claims work),
    enqueued and claimed in one transaction so that no drainer can take it in between."""
    with open_storage(db) as storage, storage.transaction():
        item = storage.outbox.enqueue("C0HELD", "post", {"text": "in flight"})
        claimed = storage.outbox.fetch_due(lease=timedelta(hours=2))
        assert [c.id for c in claimed] == [item]
        return item


def test_a_second_server_on_the_same_database_refuses_and_changes_nothing(
    env: dict[str, str], tmp_path: Path, first: Server
) -> None:
    item = _held_outbox_item(env["SMS_BOT_DB"])
    second = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("sms-bot: SMS_BOT_DB:"), lines[0]
    assert f"pid {first.process.pid}" in lines[0] and env["SMS_BOT_DB"] in lines[0], lines[0]
    with open_storage(env["SMS_BOT_DB"]) as storage:  # still the first one's: not due
        assert item not in [due.id for due in storage.outbox.fetch_due(lease=timedelta(0))]
    assert requests.get(first.url + "/healthz", timeout=5).status_code == 200


def test_the_database_is_free_again_once_its_server_is_gone(
    env: dict[str, str], tmp_path: Path, first: Server
) -> None:
    first.kill()  # SIGKILL: the lock goes with the process
    again = Server(env, tmp_path)
    try:
        assert requests.get(again.url + "/healthz", timeout=5).status_code == 200
    finally:
        again.kill()


def test_the_storage_refuses_a_second_holder_in_words(tmp_path: Path) -> None:
    path = tmp_path / "held.sqlite3"
    with open_storage(path) as holder, open_storage(path) as other:
        holder.hold_for_serving()
        with pytest.raises(StorageError, match=rf"another sms-bot serve \(pid {os.getpid()}\)"):
            other.hold_for_serving()
    with open_storage(path) as later:
        later.hold_for_serving()  # closed: released


def test_two_processors_on_one_file_post_each_sms_once(tmp_path: Path, slack: HistorySlack) -> None:
    """The race forced: the second processor reads the rows, then the first processes them all
    before the second's transaction begins."""
    one, two = Rig(tmp_path, slack), Rig(tmp_path, slack)  # the same file, separate connections
    try:
        for number in range(20):  # fewer than make a backlog summary (30)
            one.mo(f"2782555{number:04d}", f"hello {number}")
        read = two.storage.inbox.unprocessed

        def read_then_lose_the_race(*args: object, **kwargs: object) -> list:
            rows = read(*args, **kwargs)
            one.process()
            return rows

        two.storage.inbox.unprocessed = read_then_lose_the_race  # type: ignore[method-assign]
        two.processor.run_once()
        two.storage.inbox.unprocessed = read  # type: ignore[method-assign]
        one.settle(rounds=200)  # 20 new conversations, paced at one post a second
        assert len(slack.posts("C0SMS")) == 20
    finally:
        one.close()
        two.close()
