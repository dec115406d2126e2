"""The database file removed or replaced while the app runs (a careless restore, a cleanup
script): callbacks must not be acknowledged into a file nobody will open again. The app notices
(the file at the path is not the one it opened), answers callbacks and /healthz 503, and says so
loudly in the log (issue 16, case 11). The real app over loopback, a real SQLite file."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import requests

from bot.web import HEALTH_MAX_AGE
from tests.hardening.support import FORM, InboundHarness, form, mo_params, wait_for


def _remove(path: Path) -> None:
    path.unlink()


def _replace(path: Path) -> None:
    copy = path.with_name("copy.sqlite3")
    shutil.copyfile(path, copy)
    os.replace(copy, path)  # a restore done by copying a file over the live one


CHANGES = {"removed": _remove, "replaced": _replace}


def _deliver(app: InboundHarness, momsgid: str) -> requests.Response:
    body = form(mo_params(momsgid, "27821234567", "are you there?"))
    return requests.post(
        app.url + "/clickatell/mo", data=body, headers=FORM, auth=app.callback_auth, timeout=10
    )


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_callbacks_are_refused_once_the_database_file_is_gone(
    app: InboundHarness, change: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert _deliver(app, "mo-before").status_code == 200
    app.wait_idle()
    CHANGES[change](Path(app.settings.db_path))
    with caplog.at_level(logging.ERROR):
        refused = _deliver(app, "mo-after")
    assert refused.status_code == 503, refused.text
    wait_for(
        lambda: requests.get(app.url + "/healthz", timeout=5).status_code == 503,
        timeout=HEALTH_MAX_AGE + 5,
        what="/healthz to say 503",
    )
    loud = [r for r in caplog.records if r.levelno >= logging.CRITICAL]
    assert loud and app.settings.db_path in loud[0].getMessage(), caplog.text
