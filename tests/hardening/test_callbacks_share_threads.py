"""While another process holds the database's write lock, a burst of callbacks cannot park every
request thread in the inbox writer: callbacks beyond a bounded share are answered 503 at once,
and once the writer is known stuck every callback is; slash commands are still acknowledged at
once (issue 16, case 7). The real app over loopback, a real second process holding the lock."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.hardening.support import (
    FAST,
    FORM,
    ForeignLock,
    HistorySlack,
    InboundHarness,
    form,
    mo_params,
    slash_command,
)

BURST = 48  # three times the listener's 16 threads
STORE_WAIT = 3.0  # the default: how long one callback may wait for the database
STUCK_AFTER = 0.2  # shorter than the default 0.5 s, so the test is quick


def _deliver(app: InboundHarness, index: int) -> tuple[int, float]:
    body = form(mo_params(f"mo-burst-{index}", f"2782555{index:04d}", "hello"))
    started = time.monotonic()
    answer = requests.post(
        app.url + "/clickatell/mo",
        data=body,
        headers=FORM,
        auth=app.callback_auth,
        timeout=STORE_WAIT + 5,
    )
    return answer.status_code, time.monotonic() - started


def test_a_stuck_database_does_not_take_every_request_thread(
    slack: HistorySlack, tmp_path: Path
) -> None:
    options = dataclasses.replace(FAST, store_wait=STORE_WAIT, stuck_after=STUCK_AFTER)
    (tmp_path / "app").mkdir()
    app = InboundHarness(slack, tmp_path / "app", options=options)
    try:
        with ForeignLock(app.storage.path), ThreadPoolExecutor(BURST) as pool:
            burst = [pool.submit(_deliver, app, index) for index in range(BURST)]
            time.sleep(0.05)  # the burst is on its way (no timeout is waited for)
            request = slash_command("help", response_url=slack.response_url("help"))
            started = time.monotonic()
            acked = app.post(request)
            ack_time = time.monotonic() - started
            answers = [future.result() for future in burst]
            health = app.http.get(f"{app.url}/healthz", timeout=10)
        assert acked.status_code == 200
        # While the write hangs the replica is not ready for callbacks, and says so.
        assert health.status_code == 503 and health.json()["storing_callbacks"] is False
        assert ack_time < 0.5, f"the slash command waited {ack_time:.2f} s for a thread"
        assert {status for status, _ in answers} == {503}
        slowest = max(seconds for _, seconds in answers)
        assert slowest < STORE_WAIT, f"a callback held its thread {slowest:.2f} s"
    finally:
        app.stop()
