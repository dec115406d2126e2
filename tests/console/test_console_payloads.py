"""The console's requests are Slack's: signed as Slack signs, shaped so that Bolt verifies them
and routes each to the listener Slack's own request would reach."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.blocks.compose import compose_view
from bot.console import payloads
from bot.console.payloads import User, Workspace
from bot.console.slack_standin import SlackStandIn

SECRET = "console-test-secret"
ME = User("U0ME", "me")


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture
def ws() -> Workspace:
    return Workspace("C0SMS", "sms")


class Recorder:
    """A Bolt app whose listeners record what reached them."""

    def __init__(self, standin: SlackStandIn):
        self.got: list[tuple[str, dict[str, Any]]] = []
        web = WebClient(token="xoxb-test", base_url=standin.api_url)
        self.app = App(client=web, signing_secret=SECRET, process_before_response=True)
        self.app.command("/sms")(self._record("command"))
        self.app.action("cancel_send")(self._record("action"))
        self.app.action("compose_text")(self._record("typing"))
        self.app.view("compose")(self._record("submission"))
        self.app.event("message")(self._record("message"))

    def _record(self, kind: str):
        def listener(ack, body: dict[str, Any]) -> None:
            ack()
            self.got.append((kind, body))

        return listener

    def dispatch(self, request: payloads.SlackRequest, secret: str = SECRET) -> int:
        headers = {k.lower(): [v] for k, v in request.headers(secret).items()}
        response = self.app.dispatch(BoltRequest(body=request.body.decode(), headers=headers))
        return response.status


@pytest.fixture
def bolt(standin: SlackStandIn) -> Recorder:
    return Recorder(standin)


def test_signatures_verify_with_slacks_scheme(ws: Workspace) -> None:
    request = payloads.slash_command(ws, ME, "balance", response_url="u", trigger_id="t")
    headers = request.headers(SECRET, timestamp=1_700_000_000)
    verifier = SignatureVerifier(SECRET, clock=_Clock(1_700_000_000))
    assert verifier.is_valid(
        request.body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert not SignatureVerifier("other", clock=_Clock(1_700_000_000)).is_valid(
        request.body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


class _Clock:
    def __init__(self, now: float):
        self._now = now

    def now(self) -> float:
        return self._now


def test_a_slash_command_is_slacks_form_with_escaped_text(ws: Workspace, bolt: Recorder) -> None:
    request = payloads.slash_command(
        ws, ME, "send 27825550103 <b> & co", response_url="http://r/1", trigger_id="t.1"
    )
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    assert form["text"] == "send 27825550103 &lt;b&gt; &amp; co"
    assert form["channel_id"] == "C0SMS" and form["user_id"] == "U0ME"
    assert form["response_url"] == "http://r/1" and form["trigger_id"] == "t.1"
    assert bolt.dispatch(request) == 200
    assert bolt.got[0][0] == "command"
    assert bolt.dispatch(request, secret="wrong") == 401


def test_a_button_press_reaches_the_action_listener(ws: Workspace, bolt: Recorder) -> None:
    button = {
        "type": "button",
        "action_id": "cancel_send",
        "value": "7",
        "text": {"type": "plain_text", "text": "Cancel"},
    }
    message = {
        "ts": "1.000002",
        "text": "card",
        "blocks": [{"type": "actions", "elements": [button]}],
    }
    request = payloads.block_action_on_message(
        ws,
        ME,
        element=button,
        block_id="card-7",
        channel="C0SMS",
        message=message,
        response_url="http://r/2",
        trigger_id="t.2",
    )
    assert bolt.dispatch(request) == 200
    kind, body = bolt.got[0]
    assert kind == "action"
    assert body["actions"][0]["value"] == "7" and body["actions"][0]["block_id"] == "card-7"
    assert body["container"]["message_ts"] == "1.000002"
    assert body["message"]["ts"] == "1.000002" and body["channel"]["id"] == "C0SMS"


def test_typing_in_and_submitting_the_compose_modal(ws: Workspace, bolt: Recorder) -> None:
    view = {**compose_view("C0SMS", max_parts=3, sandbox=True), "id": "V1", "hash": "h"}
    values = {"recipients": "27825550103", "text": "Hello", "when": None}
    echoed = payloads.echoed_view(ws, view, values)
    typing = payloads.block_action_in_view(
        ws, ME, view=echoed, block_id="text", action_id="compose_text", value="Hello",
        trigger_id="t.3",
    )  # fmt: skip
    submit = payloads.view_submission(ws, ME, view=echoed, trigger_id="t.4")
    assert bolt.dispatch(typing) == 200
    assert bolt.dispatch(submit) == 200
    (_, typed), (_, submitted) = bolt.got
    assert typed["actions"][0]["value"] == "Hello" and typed["view"]["id"] == "V1"
    state = submitted["view"]["state"]["values"]
    assert state["recipients"]["value"] == {"type": "plain_text_input", "value": "27825550103"}
    assert state["text"]["compose_text"]["value"] == "Hello"
    assert state["when"]["value"]["value"] is None  # empty optional field: null, as Slack sends
    assert json.loads(submitted["view"]["private_metadata"]) == {"channel": "C0SMS"}


def test_a_thread_reply_and_its_edit_are_message_events(ws: Workspace, bolt: Recorder) -> None:
    fields = payloads.user_message_fields(ws, "Yes <3")
    message = {**fields, "ts": "1.000005", "channel": "C0SMS", "user": "U0ME"}
    message.update(text=payloads.slack_escape("Yes <3"), thread_ts="1.000001")
    event = payloads.message_event(message, "C0SMS", parent_user_id="U0BOT")
    assert bolt.dispatch(payloads.event_callback(ws, event)) == 200
    changed = payloads.message_changed_event(message, {**message, "text": "No"}, "C0SMS", "1.9")
    deleted = payloads.message_deleted_event(message, "C0SMS", "1.10")
    assert bolt.dispatch(payloads.event_callback(ws, changed)) == 200
    assert bolt.dispatch(payloads.event_callback(ws, deleted)) == 200
    events = [body["event"] for kind, body in bolt.got if kind == "message"]
    assert events[0]["text"] == "Yes &lt;3" and events[0]["thread_ts"] == "1.000001"
    assert events[0]["parent_user_id"] == "U0BOT"
    assert events[0]["blocks"][0]["elements"][0]["elements"][0]["text"] == "Yes <3"
    assert events[1]["subtype"] == "message_changed" and events[1]["message"]["text"] == "No"
    assert events[2]["subtype"] == "message_deleted" and events[2]["deleted_ts"] == "1.000005"
    ids = {body["event_id"] for _, body in bolt.got}
    assert len(ids) == 3  # every delivery has its own event id


def test_trigger_ids_are_unique(ws: Workspace) -> None:
    assert len({ws.trigger_id() for _ in range(100)}) == 100
