"""The database cannot take a write: locked by another process, or the disk is full.

Callbacks are then answered 503 with Retry-After (Clickatell retries them), never 200-and-lost,
and quickly: the callback endpoints wait at most `Options.store_wait` for the database (a short
value here; the request's own timeout is well below the default, so a store that ignored the
setting would fail the test). /healthz says 503 while the database cannot store a callback and
200 again once it can; the retried callbacks are then stored and reach Slack exactly once.
Callbacks acknowledged before the disk filled are not given up on, however long it stays full.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from bot.storage import StorageError
from bot.testing.app import FAST, RunningApp
from bot.testing.callbacks import FORM, form, mo_params, status_params
from bot.testing.signing import CHANNEL
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for
from tests.faults.storage import Disk, ForeignLock, FullableStorage
from tests.inbound import rig as rig_module
from tests.inbound.rig import Rig

PLAIN = "27821234567"
# The sandbox reports 003 for this number and never 004: the test's own 004 is the only one, so
# no report of the sandbox's can land while the fault is on and be retried past the test's wait.
NEVER_RECEIVED = "27825550100"
PHONE = "27821110009"
STORE_WAIT = 0.2  # seconds a callback waits for the database before its 503
ANSWER_WITHIN = 2.0  # the test's patience for any answer (the default store wait is longer)
IMPATIENT = dataclasses.replace(FAST, store_wait=STORE_WAIT)


def deliver(app: RunningApp, kind: str, params: dict) -> requests.Response:
    """One callback, as Clickatell POSTs it."""
    return app.http.post(
        f"{app.url}/clickatell/{kind}",
        data=form(params),
        headers=FORM,
        auth=app.callback_auth,
        timeout=ANSWER_WITHIN,
    )


def health(app: RunningApp) -> tuple[int, dict]:
    answer = app.http.get(app.url + "/healthz", timeout=ANSWER_WITHIN)
    return answer.status_code, answer.json()


def posted(slack: FakeSlack, words: str) -> list[dict]:
    return [
        m
        for (_, _), m in sorted(slack.messages.items())
        if words in json.dumps(m.get("blocks"), ensure_ascii=False)
    ]


def card_with_report(app: RunningApp) -> tuple[str, dict]:
    """A sent card, everything so far shown (the sandbox's own 003 report included); and a 004
    report for it that only the test will deliver."""
    app.send(f"send {NEVER_RECEIVED} Lunch at 1?")
    card = app.card_ts()
    apimsgid = wait_for(
        lambda: app.storage.sends.get(1).recipients[0].apimsgid, what="the gateway's answer"
    )
    wait_for(lambda: not app.sandbox.pending_events(3600), what="the sandbox's own reports")
    app.wait_idle()
    return card, status_params(apimsgid, "004", to=NEVER_RECEIVED)


def test_a_database_locked_by_another_process(make_app: Callable[..., RunningApp]) -> None:
    app = make_app(inbound=IMPATIENT)
    card, report = card_with_report(app)
    sms = mo_params("mo-locked", PHONE, "Are you there?")
    with ForeignLock(app.storage.path):
        for kind, params in (("mo", sms), ("status", report)):
            refused = deliver(app, kind, params)
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["Retry-After"]) > 0
        status, body = health(app)
        assert (status, body["ok"], body["database"]) == (503, False, False)
    wait_for(lambda: health(app)[0] == 200, what="/healthz to recover")
    # Clickatell retries; each is stored (or recognised, if the write went through after all).
    for kind, params in (("mo", sms), ("status", report)):
        assert deliver(app, kind, params).status_code == 200
    app.wait_idle()
    assert len(posted(app.fake, "Are you there?")) == 1
    assert "Received by recipient" in app.card_text(CHANNEL, card)


def test_a_full_disk(make_app: Callable[..., RunningApp]) -> None:
    disk = Disk()
    app = make_app(inbound=IMPATIENT, storage_factory=lambda path: FullableStorage(path, disk))
    card, report = card_with_report(app)
    sms = mo_params("mo-full", PHONE, "Running late")
    disk.full = True
    for kind, params in (("mo", sms), ("status", report)):
        refused = deliver(app, kind, params)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
    assert disk.refused >= 2  # the writes really failed
    status, body = health(app)
    assert (status, body["ok"], body["database"]) == (503, False, False)
    disk.full = False
    assert health(app)[0] == 200
    for kind, params in (("mo", sms), ("status", report)):
        stored = deliver(app, kind, params)
        assert (stored.status_code, stored.text) == (200, "OK\n")  # nothing was half-stored
    app.wait_idle()
    assert len(posted(app.fake, "Running late")) == 1
    assert "Received by recipient" in app.card_text(CHANNEL, card)


def test_acknowledged_callbacks_outlast_a_long_full_disk(
    tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """Stored (acknowledged) before the disk filled, processed while it is full for hours: the
    processor keeps them (a full disk is not the callback's fault), and posts them after. It
    leaves the failure to its worker (which logs a lasting one once) instead of logging a
    traceback of its own at every pass."""
    disk = Disk()
    monkeypatch.setattr(
        rig_module, "open_storage", lambda path, **kw: FullableStorage(path, disk, **kw)
    )
    rig = Rig(tmp_path, slack)
    try:
        send = rig.card(PLAIN)
        assert rig.status(send.recipients[0].apimsgid, "004", to=PLAIN)
        assert rig.mo(PHONE, "Still there?")
        disk.full = True
        with caplog.at_level(logging.INFO, logger="bot.inbound.processor"):
            for _ in range(30):  # 30 passes, five minutes apart: two and a half hours
                with pytest.raises(StorageError):
                    rig.process()
                rig.clock.advance(300)
        assert disk.refused >= 30 and rig.storage.inbox.unprocessed()  # nothing went through
        assert [r.getMessage() for r in caplog.records if r.name == "bot.inbound.processor"] == []
        disk.full = False
        rig.settle()
        assert len(posted(slack, "Still there?")) == 1
        assert rig.storage.sends.get(send.id).recipients[0].status == "004"
        assert slack.calls_to("chat.update")  # the card was updated
    finally:
        rig.close()
