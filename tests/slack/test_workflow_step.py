"""The Workflow Builder step "Send an SMS": signed `function_executed` events over real HTTP.

What is asserted is what Slack and the gateway saw: `functions.completeSuccess` /
`functions.completeError` (with the execution's own token), the card in SMS_CHANNEL, and what the
sandbox gateway was asked to send.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.console.standin_surfaces import StepEnd
from bot.testing.app import ALERTS, RunningApp
from bot.testing.signing import STEP_TOKEN, function_executed
from bot.testing.waiting import wait_for

ECHO = "27825550103"  # received, then texts back
NO_ROUTE = "27825550102"
QUIET_PHONE = "27821234567"  # delivered, never texts back


def run_step(app: RunningApp, inputs: dict[str, Any], execution_id: str = "Fx0001") -> StepEnd:
    answer = app.post(function_executed(inputs, execution_id=execution_id))
    assert answer.status_code == 200
    return wait_for(
        lambda: next((e for e in app.fake.step_ends() if e.execution_id == execution_id), None),
        10,
        f"step {execution_id} to end",
    )


def test_the_step_sends_posts_a_card_and_completes_with_outputs(app: RunningApp) -> None:
    end = run_step(app, {"to": f"+{ECHO}", "text": "Your parcel is at the door"})
    assert end.succeeded, end.error
    [sent] = app.sandbox.messages()
    assert (sent.to, sent.text) == (ECHO, "Your parcel is at the door")
    assert end.outputs == {"apimsgid": sent.apimsgid, "state": end.outputs["state"]}
    assert end.outputs["state"] in {"queued", "sent", "delivered"}
    [completion] = app.fake.calls_to("functions.completeSuccess")
    assert completion.token == STEP_TOKEN  # finished with the execution's token
    [card] = app.fake.posts(ALERTS)
    assert "Your parcel is at the door" in json.dumps(card)
    assert "<@U0BOT>" in json.dumps(card)  # no author named, every member may: the app sends


def test_a_redelivered_execution_sends_once(app: RunningApp) -> None:
    inputs = {"to": QUIET_PHONE, "text": "once only"}
    request = function_executed(inputs, execution_id="FxTwice")
    assert app.post(request).status_code == 200
    assert app.post(request).status_code == 200
    wait_for(lambda: app.fake.step_ends(), 10, "the step to end")
    app.wait_idle()
    assert [m.text for m in app.sandbox.messages()] == ["once only"]
    assert len(app.fake.step_ends()) == 1
    assert len(app.fake.posts(ALERTS)) == 1


def test_an_opted_out_number_fails_the_step_without_a_send(app: RunningApp) -> None:
    app.storage.opt_outs.opt_out(ECHO, "STOP")
    end = run_step(app, {"to": ECHO, "text": "hello"})
    assert not end.succeeded
    assert "opted out" in (end.error or "")
    assert app.sandbox.messages() == []
    assert app.fake.calls_to("functions.completeError")[0].token == STEP_TOKEN


def test_text_over_the_part_limit_fails_the_step_in_plain_words(app: RunningApp) -> None:
    end = run_step(app, {"to": ECHO, "text": "x" * 600})
    assert not end.succeeded and "part" in (end.error or "")
    assert app.sandbox.messages() == []


def test_a_gateway_refusal_fails_the_step_with_its_words(app: RunningApp) -> None:
    end = run_step(app, {"to": NO_ROUTE, "text": "hello"})
    assert not end.succeeded
    assert "route" in (end.error or "").lower()


def test_several_recipients_are_refused(app: RunningApp) -> None:
    end = run_step(app, {"to": f"{ECHO}, 27821234567", "text": "hello"})
    assert not end.succeeded and "one number" in (end.error or "")
    assert app.sandbox.messages() == []


def _vouched(user: str) -> dict[str, str]:
    """A `user_context` input as Slack fills it in (a builder cannot type one)."""
    return {"id": user, "secret": "c2VjcmV0"}


def test_with_an_allow_list_only_a_person_slack_vouches_for_and_allowed_sends(
    make_app: Callable[..., RunningApp],
) -> None:
    app = make_app(env={"SMS_ALLOWED_USERS": "U0ALICE"})
    nobody = run_step(app, {"to": ECHO, "text": "hello"}, "FxNobody")  # e.g. a scheduled run
    assert not nobody.succeeded and "did not say who runs this workflow" in (nobody.error or "")
    # A user ID typed in by whoever built the workflow is a claim, not Slack's word: not trusted.
    claimed = run_step(app, {"to": ECHO, "text": "hello", "author": "U0ALICE"}, "FxClaim")
    typed = run_step(app, {"to": ECHO, "text": "hello", "sender": "U0ALICE"}, "FxTyped")
    assert not claimed.succeeded and not typed.succeeded
    stranger = run_step(app, {"to": ECHO, "text": "hello", "sender": _vouched("U0MALLORY")}, "FxM")
    assert not stranger.succeeded and "U0MALLORY" in (stranger.error or "")
    assert app.sandbox.messages() == []
    allowed = run_step(app, {"to": ECHO, "text": "hello", "sender": _vouched("U0ALICE")}, "FxA")
    assert allowed.succeeded, allowed.error
    assert [m.text for m in app.sandbox.messages()] == ["hello"]
    assert "<@U0ALICE>" in json.dumps(app.fake.posts(ALERTS)[0])  # sent in her name


def test_without_an_allow_list_the_person_who_runs_it_is_named_on_the_card(
    app: RunningApp,
) -> None:
    ended = run_step(app, {"to": ECHO, "text": "hi", "sender": _vouched("U0BOB")}, "FxBob")
    assert ended.succeeded, ended.error
    assert "<@U0BOB>" in json.dumps(app.fake.posts(ALERTS)[0])


def test_a_step_of_another_app_function_is_not_ours(app: RunningApp) -> None:
    request = function_executed({"to": ECHO, "text": "x"}, callback_id="reverse")
    assert app.post(request).status_code == 404  # Bolt: no listener for it
    assert app.fake.step_ends() == [] and app.sandbox.messages() == []
