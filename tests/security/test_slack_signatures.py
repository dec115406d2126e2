"""Security review of /slack/events: forged, replayed and unsigned requests are refused with a
401 before any listener runs, for every kind of Slack request (slash command, button, modal
submission, event). "No listener runs" is observed three ways: nothing is handed to the work
executor (every listener hands its work there), Slack receives no call (the compose form opens
from the listener itself), and no request ID is claimed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.blocks.compose import (
    COMPOSE_TEXT_ACTION,
    RECIPIENTS_BLOCK,
    TEXT_BLOCK,
    VALUE_ACTION,
    WHEN_BLOCK,
    compose_view,
)
from bot.testing.app import RunningApp
from bot.testing.signing import (
    SECRET,
    SlackRequest,
    block_action,
    event_callback,
    modal_state,
    signature,
    slash_command,
    view_submission,
)
from bot.testing.waiting import wait_for

FIVE_MINUTES = 5 * 60


def _requests(app: RunningApp) -> dict[str, SlackRequest]:
    values = {
        RECIPIENTS_BLOCK: (VALUE_ACTION, "27825550103"),
        TEXT_BLOCK: (COMPOSE_TEXT_ACTION, "forged"),
        WHEN_BLOCK: (VALUE_ACTION, None),
    }
    view = {
        **compose_view("C0GENERAL", max_parts=3, sandbox=True),
        "id": "V0FORGED",
        "state": modal_state(values),
    }
    return {
        "slash send": slash_command(
            "send 27825550103 forged", response_url=app.fake.response_url("forged")
        ),
        "slash compose": slash_command("", response_url=app.fake.response_url("forged")),
        "cancel button": block_action(
            response_url=app.fake.response_url("forged"),
            action_id="cancel_send",
            value="1",
            channel_id="C0GENERAL",
            message_ts="1700000000.000001",
        ),
        "modal submit": view_submission(view),
        "thread reply": event_callback(
            {
                "type": "message",
                "channel": "C0GENERAL",
                "user": "U0ALICE",
                "text": "forged reply",
                "ts": "1800000000.000001",
                "thread_ts": "1700000000.000001",
            }
        ),
    }


class ListenerSpy:
    """Records every job the listeners hand to the work executor."""

    def __init__(self, app: RunningApp) -> None:
        self.jobs: list[str] = []
        executor = app.services.executor
        original = executor.submit

        def submit(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            self.jobs.append(getattr(fn, "__name__", repr(fn)))
            return original(fn, *args, **kwargs)

        executor.submit = submit  # type: ignore[method-assign]


def _claims(app: RunningApp) -> int:
    return app.state.claims()


def _forgeries(request: SlackRequest) -> dict[str, dict[str, str]]:
    """Headers of each forgery of `request` (sent with its own body unless noted)."""
    now = int(time.time())
    kind = {"Content-Type": request.content_type}

    def signed(ts: int, secret: str = SECRET, body: bytes = request.body) -> dict[str, str]:
        return {
            **kind,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature(secret, str(ts), body),
        }

    good = signed(now)
    return {
        "wrong secret": signed(now, secret="not-the-signing-secret"),
        "replayed 5 min 1 s later": signed(now - FIVE_MINUTES - 1),
        "replayed an hour later": signed(now - 3600),
        # (a minute more than the window: the test must not pass the window while it runs)
        "timestamp 6 min ahead": signed(now + FIVE_MINUTES + 60),
        "signature over another body": signed(now, body=request.body + b"&user_id=U0ADMIN"),
        "signature of another timestamp": {**good, "X-Slack-Request-Timestamp": str(now - 1)},
        "no signature": {k: v for k, v in good.items() if k != "X-Slack-Signature"},
        "no timestamp": {k: v for k, v in good.items() if k != "X-Slack-Request-Timestamp"},
        "no headers at all": kind,
        "empty signature": {**good, "X-Slack-Signature": ""},
        "v1 scheme": {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]},
        "upper-case hex": {
            **good,
            "X-Slack-Signature": "v0=" + good["X-Slack-Signature"][3:].upper(),
        },
        "truncated signature": {**good, "X-Slack-Signature": good["X-Slack-Signature"][:-2]},
        "timestamp not a number": {**good, "X-Slack-Request-Timestamp": "now"},
        "timestamp huge": {**good, "X-Slack-Request-Timestamp": "9" * 40},
    }


FORGERIES = list(_forgeries(SlackRequest(b"x", "text/plain")))
KINDS = ["slash send", "slash compose", "cancel button", "modal submit", "thread reply"]


@pytest.mark.parametrize("kind", KINDS)
def test_forged_replayed_or_unsigned_requests_are_401_and_run_nothing(
    app: RunningApp, kind: str
) -> None:
    spy = ListenerSpy(app)
    request = _requests(app)[kind]
    before_state, before_claims = app.state.snapshot(), _claims(app)
    slack_calls = len(app.fake.calls)  # auth.test at start-up
    for name, headers in _forgeries(request).items():
        answer = app.http.post(app.url + "/slack/events", data=request.body, headers=headers)
        assert answer.status_code == 401, (kind, name, answer.status_code, answer.text)
        assert SECRET not in answer.text
    assert spy.jobs == []
    assert app.fake.calls[slack_calls:] == []
    assert _claims(app) == before_claims
    assert app.state.snapshot() == before_state


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_requests_signed_properly_do_run(app: RunningApp, kind: str) -> None:
    """The control for the test above: it can fail, because these requests do reach listeners."""
    spy = ListenerSpy(app)
    request = _requests(app)[kind]
    answer = app.post(request)
    assert answer.status_code == 200, answer.text
    if kind == "slash compose":  # opened from the listener itself
        app.fake.wait_for_call("views.open")
    else:
        wait_for(lambda: spy.jobs, what=f"the {kind} listener")


def test_a_request_replayed_within_five_minutes_runs_once(app: RunningApp) -> None:
    """Within the window a captured request verifies again; the request's own ID (trigger_id)
    makes the repeat do nothing: one card, one SMS."""
    request = slash_command(
        "send 27825550103 once only",
        trigger_id="replayed.trigger",
        response_url=app.fake.response_url("once"),
    )
    headers = request.headers(SECRET)
    for _ in range(3):
        answer = app.http.post(app.url + "/slack/events", data=request.body, headers=headers)
        assert answer.status_code == 200
    wait_for(lambda: app.sandbox.messages(), what="the SMS")
    app.services.executor.stop()  # let every accepted job finish
    assert len(app.sandbox.messages()) == 1
    assert len(app.fake.posts("C0GENERAL")) == 1
