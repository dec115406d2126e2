"""The console's Home tab has buttons that can be pressed (`press N`), as on a card: the compose
form (with its template select) and the templates list (and the bulk form), so they work with no
Slack."""

from __future__ import annotations

import io

import pytest

from bot.config import settings_from
from bot.console import main
from tests.console.test_console_session import FAST, Utf8Output, after

SCRIPT = [
    "/sms contact add Thandi 27825550100",
    "/sms template add Greeting Hello {first_name}",
    "home",
    "press 2",
    "press 1",
    "Thandi",
    "",
    "nope",
    "greeting",
    "",
    "/sms send --at +2h 27825550100 later",
    "wait 5",  # the card (and its Cancel [4]) shown before the Home
    "home",
    "press 5",
    "y",
]


@pytest.fixture
def transcript(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.delenv("SMS_CONSOLE_DB", raising=False)
    out = Utf8Output()
    stdin = io.StringIO("\n".join(SCRIPT) + "\n")
    assert main(settings_from({}), stdin=stdin, stdout=out, inbound_options=FAST) == 0
    return out.getvalue().splitlines()


def test_home_buttons_open_the_templates_and_the_compose_form(transcript: list[str]) -> None:
    home = after(transcript, "you> home")
    assert "    [1] Send an SMS   [2] Templates   [3] Bulk send" in home

    listed = after(transcript, "you> press 2")
    assert listed[0].startswith("sms-bot shows Templates")
    assert "    Greeting" in listed and "    │ Hello {first_name}" in listed

    form = after(transcript, "you> press 1")
    assert form[0].startswith("sms-bot opened a form: Send an SMS")
    assert "  Choose one of: Greeting" in form
    assert "('nope' is not one of the choices)" in form
    later = transcript[transcript.index("you> press 1") :]
    assert "   │ Hello Thandi" in later  # the card: the template filled in for the contact


def test_a_scheduled_send_is_cancelled_from_the_home_tab(transcript: list[str]) -> None:
    home = transcript[transcript.index("you> home", transcript.index("you> press 1")) + 1 :]
    assert any(line.strip() == "[5] Cancel" for line in home), home
    cancelled = after(transcript, "you> press 5")
    assert any("Cancel this SMS?" in line for line in cancelled)
    assert any("Cancelled" in line for line in transcript[transcript.index("you> press 5") :])
