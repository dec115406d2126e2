"""/healthz is unauthenticated, so it must be cheap: a probe makes no durable write (no commit,
no disk sync, nothing in the WAL) and a burst of probes costs one check, not one each; and it
stays honest: 503 while another process holds the write lock or the disk is full, 200 again
once it is not (issue 16, case 5). The real app over loopback, a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bot.inbound.schedule import JOB
from bot.web import HEALTH_MAX_AGE, CachedCheck
from tests.hardening.support import (
    FORM,
    Disk,
    FaultApp,
    ForeignLock,
    FullableStorage,
    InboundHarness,
    form,
    mo_params,
    wait_for,
)

PROBES = 300


def _wal_size(app: InboundHarness) -> int:
    wal = Path(app.settings.db_path + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _probe(url: str) -> int:
    return requests.get(url + "/healthz", timeout=10).status_code


def test_a_burst_of_probes_writes_nothing(app: InboundHarness) -> None:
    app.wait_idle()
    # The workers' first pass takes the hourly prune's tick (one slot row written): wait for it,
    # so a slow start cannot land that write inside the window measured here.
    wait_for(lambda: f"{JOB}prune" in app.storage.slots.busy(JOB), what="the first prune tick")
    before = _wal_size(app)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(_probe, [app.url] * PROBES))
    assert answers == [200] * PROBES
    grown = _wal_size(app) - before
    assert grown < 8192, f"{PROBES} probes grew the WAL by {grown} bytes"


def test_probes_are_answered_from_one_check_per_second(app: InboundHarness) -> None:
    """The check behind /healthz runs at most once a second while it is healthy."""
    checks: list[bool] = []
    original = app.storage.healthy

    def counted(*args: object, **kwargs: object) -> bool:
        checks.append(True)
        return original(*args, **kwargs)

    app.storage.healthy = counted  # type: ignore[method-assign]
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(_probe, [app.url] * 100))
    seconds = time.monotonic() - started
    assert answers == [200] * 100
    assert 1 <= len(checks) <= 1 + seconds / HEALTH_MAX_AGE, (len(checks), seconds)


def test_the_probe_stays_honest(make_fault_app: Callable[..., FaultApp]) -> None:
    disk = Disk()
    app = make_fault_app(storage_factory=lambda path: FullableStorage(path, disk, busy_timeout=0.3))
    assert _probe(app.url) == 200
    with ForeignLock(app.storage.path):
        # a healthy answer is reused for at most HEALTH_MAX_AGE (1 s)
        wait_for(lambda: _probe(app.url) == 503, timeout=HEALTH_MAX_AGE + 5, what="503")
    assert _probe(app.url) == 200  # a failure is not reused
    # The fake full disk refuses INSERTs but leaves the file system's free space alone, so the
    # probe learns of it from the first real write that fails (a real full disk also shows in
    # the free space the probe asks for).
    disk.full = True
    sms = form(mo_params("mo-full", "27821234567", "Running late"))
    refused = requests.post(
        app.url + "/clickatell/mo", data=sms, headers=FORM, auth=app.callback_auth, timeout=10
    )
    assert refused.status_code == 503
    wait_for(lambda: _probe(app.url) == 503, timeout=HEALTH_MAX_AGE + 5, what="503")
    disk.full = False
    assert _probe(app.url) == 200


def test_a_cached_answer_is_at_most_max_age_old_and_failures_are_not_cached() -> None:
    now = [0.0]
    answers = iter([(True, {}), (False, {}), (False, {}), (True, {})])
    check = CachedCheck(lambda: next(answers), max_age=1.0, clock=lambda: now[0])
    assert check()[0] and check()[0]  # the second is the cached first
    now[0] = 1.5
    assert not check()[0] and not check()[0]  # a failure is checked again every time
    assert check()[0]
