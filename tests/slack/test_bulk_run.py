"""A bulk send from Slack, end to end over real HTTP: the form's CSV shared through the file input
(served by the fake Slack, read with the bot token), the preview, Send, the one progress card
updated in place (paced, never once per delivery report), its buttons for the starter and admins
only, the result CSV uploaded in the card's thread, and the Home tab showing the run."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.blocks.bulk_card import BULK_CANCEL_ACTION, BULK_PAUSE_ACTION, BULK_RESUME_ACTION
from bot.blocks.home import HOME_BULK_ACTION
from bot.inbound import Options
from bot.testing.app import BOT_TOKEN, RunningApp
from bot.testing.signing import CHANNEL, USER, app_home_opened
from bot.testing.waiting import wait_for
from tests.slack.bulk_steps import (
    click,
    form_state,
    opened_form,
    press_in_view,
    press_on_card,
    preview,
    submit,
)

ROWS = 50
ADMIN = "U0ADMIN"
MALLORY = "U0MALLORY"
CARD_INTERVAL = 3.0  # the product's pacing of one card's updates


def people_csv(rows: int = ROWS) -> bytes:
    lines = ["number,name"] + [f"+2782123{4500 + i},Person {i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def card_posts(app: RunningApp) -> list[dict[str, Any]]:
    """Top-level messages in the channel that are bulk cards (the thread's file is not one)."""
    return [
        m
        for m in app.fake.channel_messages(CHANNEL)
        if not m.get("thread_ts") and "Bulk SMS" in json.dumps(m)
    ]


def the_card(app: RunningApp) -> str:
    cards = wait_for(lambda: card_posts(app), 20, "the progress card")
    assert len(cards) == 1  # one card per run, never a second post
    return str(cards[0]["ts"])


def card_shows(app: RunningApp, ts: str, words: str, timeout: float = 30) -> str:
    return wait_for(
        lambda: words in app.card_text(CHANNEL, ts) and app.card_text(CHANNEL, ts),
        timeout,
        f"the card showing {words!r}",
    )


def start_run(app: RunningApp, state: dict[str, Any], user: str = USER) -> str:
    """Fill in the form, see the preview, press Send; the card's ts."""
    form = opened_form(app)
    assert submit(app, form, state, user=user).json()["response_action"] == "update"
    shown = preview(app)
    assert press_in_view(app, shown, "bulk_send", user=user) == 200
    return the_card(app)


def test_a_csv_runs_with_one_card_updated_in_place_and_a_result_file(app: RunningApp) -> None:
    form = opened_form(app)
    shared = app.fake.share_file("people.csv", people_csv())
    answer = submit(app, form, form_state(file=shared, text="Hi {name}, see you soon"))
    assert answer.json()["response_action"] == "update"  # "Reading the file…" at once
    shown = json.dumps(preview(app), ensure_ascii=False)
    assert f"*{ROWS} rows*" in shown and f"*{ROWS} to send*" in shown
    assert "Hi Person 0, see you soon" in shown  # the first messages as they will be sent
    assert app.fake.calls_to("files.download")[0].token == BOT_TOKEN
    assert not app.sandbox.messages()  # nothing sent before Send
    started = time.monotonic()
    assert press_in_view(app, preview(app), "bulk_send") == 200
    card_ts = the_card(app)
    card_shows(app, card_ts, f"*{ROWS}* delivered", timeout=60)
    [upload] = wait_for(lambda: app.fake.uploads(), 30, "the result file")
    elapsed = time.monotonic() - started

    assert len(app.sandbox.messages()) == ROWS
    assert upload.channel == CHANNEL and upload.thread_ts == card_ts
    lines = list(csv.reader(io.StringIO(upload.content.decode("utf-8-sig"))))
    assert len(lines) == ROWS + 1  # a header, then one line per row
    assert any("Hi Person 7, see you soon" in line for line in map(",".join, lines))
    steps = [c.method for c in app.fake.calls if c.method.startswith("files.")]
    assert steps[-3:] == [
        "files.getUploadURLExternal",
        "files.upload",
        "files.completeUploadExternal",
    ]
    # 2 × ROWS delivery reports, yet the card moved only at its pace: never once per report.
    updates = [c for c in app.fake.calls_to("chat.update") if c.params.get("ts") == card_ts]
    assert 1 <= len(updates) <= elapsed / CARD_INTERVAL + 2
    assert len(updates) < ROWS


def test_a_file_that_is_no_list_comes_back_in_the_form_in_plain_words(app: RunningApp) -> None:
    form = opened_form(app)
    shared = app.fake.share_file("notes.csv", b"")
    submit(app, form, form_state(file=shared))

    def form_again() -> dict[str, Any] | None:
        for call in app.fake.calls_to("views.update"):
            view = call.params["view"]
            view = json.loads(view) if isinstance(view, str) else view
            if view.get("callback_id") == "bulk_form":
                return view
        return None

    view = wait_for(form_again, 20, "the form again, with the problem")
    problem = view["blocks"][0]["text"]["text"]
    assert problem.startswith(":warning:") and "Traceback" not in problem
    assert not app.sandbox.messages() and not card_posts(app)


@pytest.fixture
def admin_app(make_app: Callable[..., RunningApp]) -> RunningApp:
    return make_app(env={"SMS_ADMINS": ADMIN})


def test_only_the_starter_and_admins_may_pause_resume_or_cancel(admin_app: RunningApp) -> None:
    app = admin_app
    card_ts = start_run(app, form_state(numbers="+27821234500, +27821234501", when="+2h"))
    card_shows(app, card_ts, "Scheduled")
    bulk_id = json.loads(
        json.dumps(app.fake.message(CHANNEL, card_ts)["blocks"])
    )  # the buttons carry the run's ID
    value = next(e["value"] for b in bulk_id if b["type"] == "actions" for e in b["elements"])

    for action, name in ((BULK_CANCEL_ACTION, "m1"), (BULK_PAUSE_ACTION, "m2")):
        assert press_on_card(app, card_ts, action, value, user=MALLORY, name=name) == 200
        refused = json.dumps(app.wait_response(name))
        assert "or an admin" in refused and "Nothing changed" in refused
    app.wait_idle()
    card = app.card_text(CHANNEL, card_ts)
    assert "Scheduled" in card and BULK_RESUME_ACTION not in card  # Mallory changed nothing

    assert press_on_card(app, card_ts, BULK_PAUSE_ACTION, value, name="p", action_ts="2.1") == 200
    card_shows(app, card_ts, BULK_RESUME_ACTION)
    assert press_on_card(app, card_ts, BULK_RESUME_ACTION, value, name="r", action_ts="2.2") == 200
    card_shows(app, card_ts, BULK_PAUSE_ACTION)
    assert (
        press_on_card(
            app, card_ts, BULK_CANCEL_ACTION, value, user=ADMIN, name="a", action_ts="2.3"
        )
        == 200
    )
    card_shows(app, card_ts, "Cancelled")
    assert not app.sandbox.messages()  # scheduled two hours ahead, cancelled: nothing sent


def test_home_shows_the_running_bulk_send_and_opens_the_form(
    make_app: Callable[..., RunningApp],
) -> None:
    app = make_app(inbound=dataclasses.replace(Options(), home_debounce=0.05))
    assert app.post(app_home_opened(user_id=USER, event_id="EvBulkHome")).status_code == 200
    wait_for(lambda: app.fake.home_of(USER), 20, "the Home tab")
    assert "Bulk sends" not in json.dumps(app.fake.home_of(USER))
    card_ts = start_run(app, form_state(numbers="+27821234500", when="+2h"))
    card_shows(app, card_ts, "Scheduled")
    # Republished as the run changes, without opening the tab again.

    def home() -> str | None:
        view = app.fake.home_of(USER)
        text = json.dumps(view) if view else ""
        return text if "Bulk sends" in text else None

    shown = wait_for(home, 20, "the Home tab with the bulk send")
    assert "Open the card" in shown and HOME_BULK_ACTION in shown
    # The card's link is Slack's own permalink for it (chat.getPermalink), as threads' links are.
    asked = [
        (c.params["channel"], c.params["message_ts"])
        for c in app.fake.calls_to("chat.getPermalink")
    ]
    assert (CHANNEL, card_ts) in asked
    link = f"https://example.slack.com/archives/{CHANNEL}/p{card_ts.replace('.', '')}"
    assert f"<{link}|Open the card>" in shown
    opened_before = len(app.fake.calls_to("views.open"))
    home = {"type": "view", "view_id": "VH0000001"}
    assert click(app, HOME_BULK_ACTION, "bulk", container=home, block_id="home-actions") == 200
    opened = app.fake.wait_for_call("views.open", count=opened_before + 1)[-1]
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "bulk_form"
