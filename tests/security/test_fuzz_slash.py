"""Property: any slash-command text, signed and posted to /slack/events of the real app over
loopback, is acknowledged with a 200, never makes the app log an error or a thread die, and gets
an answer: a clear ephemeral message (the usage for text the grammar refuses), a card, or the
compose form for a blank command."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import grammar
from bot.blocks.base import MAX_BLOCKS, SECTION_LIMIT, escape, unescape
from bot.testing.app import RunningApp, running_app
from bot.testing.signing import slash_command
from bot.testing.waiting import wait_for
from tests.security.support import ErrorLog

WORDS = [
    "send", "status", "cancel", "charge", "balance", "coverage", "redeem", "ping", "contact",
    "contacts", "log", "help", "add", "remove", "--from", "--at", "--id", "+30m", "+8d", "12:00",
    "27825550103", "+27 82 555 0103", "0027825550100", "1234567890123456", "alice",
]  # fmt: skip
SLACK_MARKUP = [
    "&lt;", "&gt;", "&amp;", "&amp;lt;", "<!channel>", "<!here|here>", "<@U0ALICE|alice>",
    "<#C0GENERAL|general>", "<https://evil.example|click>", "<mailto:a@b.c|a@b.c>", "*bold*",
    "`code`", "```", "_it_", "~st~", ">quote", ":smile:",
]  # fmt: skip
QUOTES = ["'", '"', "“", "”", "‘", "’", "«", "»", '""', "''", '"27 82 555 0103"', "'unclosed"]
CONTROL = st.characters(max_codepoint=0x1F) | st.sampled_from(
    ["\x7f", "\u200b", "\u2028", "\ufeff"]
)

token = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(SLACK_MARKUP),
    st.sampled_from(QUOTES),
    st.text(max_size=12),
    st.text(CONTROL, min_size=1, max_size=3),
)
commandish = st.lists(token, max_size=10).map(" ".join)
huge = st.builds(
    lambda head, filler, n: f"{head} {filler * n}",
    st.sampled_from(["send 27825550103", "send 27825550103,27825550100", "status", "contact add"]),
    st.sampled_from(["a", "é", "€", "😀", "Ω", "&amp;", "<!here>", " ", "\n"]),
    st.integers(500, 4000),
)
slash_text = st.one_of(st.text(max_size=200), commandish, huge)

_triggers = itertools.count(1)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with running_app(tmp_path_factory.mktemp("fuzz-slash")) as harness:
        yield harness


def _post(app: RunningApp, text: str) -> tuple[int, str]:
    trigger = f"fuzz{next(_triggers)}"
    request = slash_command(text, trigger_id=trigger, response_url=app.fake.response_url(trigger))
    return app.post(request).status_code, trigger


def _answered(app: RunningApp, trigger: str) -> bool:
    """Answered ephemerally, or the compose form opened, or a card went out with no problem."""
    if _responses(app, trigger):
        return True
    if any(c.params.get("trigger_id") == trigger for c in app.fake.calls_to("views.open")):
        return True
    send = app.storage.sends.by_intent(f"slash:{trigger}")
    return bool(
        send is not None
        and send.card_ts
        and all((r.apimsgid or r.status) and not r.error_code for r in send.recipients)
    )


def _responses(app: RunningApp, trigger: str) -> list[dict[str, Any]]:
    return [c.params for c in app.fake.calls_to("response_url") if c.path.endswith("/" + trigger)]


def _usage_problem(text: str) -> str | None:
    """What the grammar says is wrong with the text, or None when it parses."""
    try:
        grammar.parse_text(unescape(text), now=datetime.now(UTC))
    except grammar.UsageError as error:
        return error.problem
    return None


def _check_message(params: dict[str, Any]) -> None:
    assert params.get("response_type") == "ephemeral", params
    assert str(params.get("text") or "").strip(), params
    assert "Something went wrong on our side" not in params["text"], params
    blocks = params.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        texts = [block.get("text") or {}, *(block.get("elements") or [])]
        assert all(len(str(t.get("text", ""))) <= SECTION_LIMIT for t in texts), block


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=slash_text)
def test_any_slash_text_is_acknowledged_and_answered(fuzz_app: RunningApp, text: str) -> None:
    with ErrorLog().installed() as errors:
        status, trigger = _post(fuzz_app, text)
        assert status == 200, text
        wait_for(lambda: _answered(fuzz_app, trigger), what=f"an answer to /sms {text[:60]!r}")
        errors.assert_clean(f"/sms {text[:60]!r}")
    responses = _responses(fuzz_app, trigger)
    for params in responses:
        _check_message(params)
    problem = _usage_problem(text)
    if problem is not None and unescape(text).strip():
        # Refused by the grammar: the answer names the problem and points to the usage.
        assert len(responses) == 1, responses
        assert escape(problem) in responses[0]["text"], (problem, responses[0]["text"])
        assert "/sms help" in responses[0]["text"]
