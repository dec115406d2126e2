"""App Home: thread links from `chat.getPermalink` (asked once per thread, with a fallback), and
the Templates button; signed requests over HTTP, asserting on what the fake Slack received."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bot.blocks.home import HOME_TEMPLATES_ACTION
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for
from tests.slack.test_home import HOME_OPTIONS, _click, _home, _open

QUIET_PHONE = "27821234567"


@pytest.fixture
def app(make_app: Callable[..., RunningApp]) -> RunningApp:
    return make_app(inbound=HOME_OPTIONS)


def test_thread_links_are_slacks_permalinks_asked_once(app: RunningApp) -> None:
    app.send(f"send {QUIET_PHONE} we wrote first")
    app.wait_idle()
    ts = app.card_ts()
    _open(app)
    _home(app, containing="we wrote first")
    asked = app.fake.calls_to("chat.getPermalink")
    assert [(c.params["channel"], c.params["message_ts"]) for c in asked] == [(CHANNEL, ts)]
    link = f"https://example.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"
    assert link in _home(app, containing=link)
    _open(app, event_id="EvHome2")
    wait_for(lambda: len(app.fake.calls_to("views.publish")) >= 2, 10, "the Home again")
    assert len(app.fake.calls_to("chat.getPermalink")) == 1  # remembered


def test_without_a_permalink_the_link_is_built_from_the_workspace(app: RunningApp) -> None:
    app.fake.fail("chat.getPermalink", error="message_not_found")
    app.send(f"send {QUIET_PHONE} hello")
    app.wait_idle()
    ts = app.card_ts()
    _open(app)
    shown = _home(app, containing="hello")
    assert f"https://example.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}" in shown
    _open(app, event_id="EvHome2")
    wait_for(lambda: len(app.fake.calls_to("views.publish")) >= 2, 10, "the Home again")
    assert len(app.fake.calls_to("chat.getPermalink")) == 1  # Slack said none: not asked again


def test_the_templates_button_opens_a_list_of_them(app: RunningApp) -> None:
    app.storage.templates.save("Reminder", "Hi {first_name}, see you <soon>")
    _open(app)
    assert HOME_TEMPLATES_ACTION in _home(app, containing="Balance")
    assert _click(app, HOME_TEMPLATES_ACTION, "templates") == 200
    view = app.fake.wait_for_call("views.open")[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    shown = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "modal" and "Reminder" in shown
    assert "see you &lt;soon&gt;" in shown  # escaped as everywhere
    assert "/sms template add" in shown
