"""The console's `home` and `step` commands: the Home tab as text, and the Workflow Builder step
run as a workflow would, so both can be tried with no Slack."""

from __future__ import annotations

import io

import pytest

from bot.config import settings_from
from bot.console import main
from tests.console.test_console_session import FAST, Utf8Output, after

SCRIPT = [
    "home",
    "step 27825550100 Your order is ready",
    "step 27825550102 cannot route",
    "step +27825550100",
    "home",
]


@pytest.fixture
def transcript(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.delenv("SMS_CONSOLE_DB", raising=False)
    out = Utf8Output()
    stdin = io.StringIO("\n".join(SCRIPT) + "\n")
    assert main(settings_from({}), stdin=stdin, stdout=out, inbound_options=FAST) == 0
    return out.getvalue().splitlines()


def test_home_and_the_workflow_step_in_the_console(transcript: list[str]) -> None:
    first = after(transcript, "you> home")
    assert first[0] == "Home tab of you:"
    assert "    Balance: 100 credits" in first
    assert "    No SMS conversations yet." in first
    assert "    Nobody has opted out." in first  # the console's user is an admin

    sent = after(transcript, "you> step 27825550100 Your order is ready")
    assert "   │ Your order is ready" in sent  # the card, in the channel
    [done] = [line for line in sent if line.startswith("(Workflow step completed")]
    assert "state " in done and "apimsgid " in done

    refused = after(transcript, "you> step 27825550102 cannot route")
    assert any(line.startswith("(Workflow step failed: Nothing was sent") for line in refused)
    assert after(transcript, "you> step +27825550100")[0].startswith("(Usage: step TO TEXT")

    later = transcript[transcript.index("you> home", 2) + 1 :]
    assert "    Balance: 99 credits" in later
    assert any("we wrote: “Your order is ready”" in line for line in later)
