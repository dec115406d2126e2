"""Admins' `/sms optout`, `/sms optin` and `/sms optouts` (with its CSV file), over signed slash
commands to the real app; what the admin and the channel were shown is what the fake Slack got."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import requests

from bot.testing.app import RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for

ADMIN = "U0ADMIN"
MEMBER = "U0MEMBER"
TEXTED = "27821234567"
BY_HAND = "27821234568"
AT_GATEWAY = "27825550106"  # the sandbox's number that opted out with the gateway (122)


def _answer(app: RunningApp, text: str, user: str = ADMIN) -> str:
    _, name = app.command(text, user=user)
    return app.wait_response(name)["text"]


def test_non_admins_are_refused_in_plain_words(make_app: Callable[..., RunningApp]) -> None:
    app = make_app(env={"SMS_ADMINS": ADMIN})
    for text in (f"optout {BY_HAND}", f"optin {BY_HAND}", "optouts"):
        assert "admin" in _answer(app, text, user=MEMBER).lower()
    assert app.storage.opt_outs.get(BY_HAND) is None
    assert app.fake.uploads() == []


def test_optout_and_optin_by_hand(make_app: Callable[..., RunningApp]) -> None:
    app = make_app(env={"SMS_ADMINS": ADMIN})
    assert "is opted out" in _answer(app, "optout +27 82 123 4568")
    assert "already opted out" in _answer(app, f"optout {BY_HAND}")
    record = app.storage.opt_outs.get(BY_HAND)
    assert record is not None and (record.keyword, record.changed_by) == ("ADMIN", ADMIN)
    refused = _answer(app, f"send {BY_HAND} hello", user=MEMBER)
    assert "opted out" in refused and app.sandbox.messages() == []
    assert "opted in again" in _answer(app, f"optin {BY_HAND}")
    assert "was not opted out" in _answer(app, f"optin {BY_HAND}")
    assert not app.storage.opt_outs.is_opted_out(BY_HAND)


def test_optouts_lists_who_when_how_and_posts_the_csv(make_app: Callable[..., RunningApp]) -> None:
    app = make_app(env={"SMS_ADMINS": ADMIN})
    # Three ways to opt out: the phone texts STOP, an admin's command, the gateway's code 122.
    params = mo_params("mo-stop", TEXTED, "Stop please")
    post(requests.Session(), app.url + "/clickatell/mo", params, app.callback_auth)
    wait_for(lambda: app.storage.opt_outs.is_opted_out(TEXTED), what="the STOP")
    _answer(app, f"optout {BY_HAND}")
    app.command(f"send {AT_GATEWAY} hello")
    wait_for(lambda: app.storage.opt_outs.is_opted_out(AT_GATEWAY), what="the gateway's 122")

    listed = _answer(app, "optouts")
    assert "Opted-out numbers (3)" in listed
    (upload,) = app.fake.uploads()
    assert upload.channel == CHANNEL and upload.name.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(upload.content.decode())))
    how = {row["number"]: (row["how"], row["by"]) for row in rows}
    assert how["+" + TEXTED] == ("texted STOP", "")
    assert how["+" + BY_HAND] == ("an admin's /sms optout", ADMIN)
    assert "code 122" in how["+" + AT_GATEWAY][0]
    assert all(row["opted_out_at_utc"] for row in rows)


def test_optouts_without_a_place_for_the_file_still_answers(make_app) -> None:
    app = make_app(env={"SMS_ADMINS": ADMIN})
    _answer(app, f"optout {BY_HAND}")
    app.fake.close_channel(CHANNEL, "not_in_channel")
    _, name = app.command("optouts", user=ADMIN)
    blocks = str(app.wait_response(name)["blocks"])
    assert "could not be posted" in blocks and "+27 82 123 4568" in blocks
    assert app.fake.uploads() == []
