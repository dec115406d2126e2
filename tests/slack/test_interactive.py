"""Buttons and the compose modal: signed block_actions and view_submission payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.blocks.compose import COMPOSE_TEXT_ACTION, compose_view
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL, block_action, modal_state, view_action, view_submission
from bot.testing.waiting import wait_for

ECHO = "27825550103"


def _blocks(params: dict[str, Any]) -> str:
    blocks = params.get("blocks") or (params.get("view") or {}).get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return json.dumps(blocks, ensure_ascii=False)


# --------------------------------------------------------------------------- Cancel button


def _scheduled_card(app: RunningApp) -> Any:
    app.command(f"send --at +2h {ECHO} see you tomorrow")
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    storage = app.services.storage

    def ready() -> Any:
        entries = storage.sends.recent_log()
        send = storage.sends.get(entries[0].send_id) if entries else None
        return send if send and send.card_ts and send.recipients[0].apimsgid else None

    send = wait_for(ready, 10, "the recorded send")
    wait_for(
        lambda: [c for c in app.fake.calls_to("chat.update") if "cancel_send" in _blocks(c.params)],
        10,
        "the Cancel button",
    )
    return send


def _count_cancels(app: RunningApp) -> list[str]:
    calls: list[str] = []
    original = app.services.gateway.cancel

    def counting(apimsgid: str | None = None, **kwargs: Any) -> Any:
        calls.append(str(apimsgid))
        return original(apimsgid, **kwargs)

    app.services.gateway.cancel = counting
    return calls


def _click(app: RunningApp, send: Any, name: str, action_ts: str, user: str = "U0ALICE") -> int:
    request = block_action(
        action_id="cancel_send",
        value=str(send.id),
        channel_id=send.card_channel,
        message_ts=send.card_ts,
        user_id=user,
        action_ts=action_ts,
        response_url=app.fake.response_url(name),
    )
    return app.post(request).status_code


def test_cancel_button_cancels_and_updates_the_card(app: RunningApp) -> None:
    send = _scheduled_card(app)
    cancels = _count_cancels(app)
    assert _click(app, send, "click1", "1700000300.000001") == 200
    wait_for(lambda: app.sandbox.messages()[0].status == "006", 10, "cancelled at the gateway")

    def cancelled_card() -> list[Any]:
        return [
            c
            for c in app.fake.calls_to("chat.update")
            if "Cancelled" in _blocks(c.params) and "cancel_send" not in _blocks(c.params)
        ]

    wait_for(cancelled_card, 10, "the card without its button")
    assert cancels == [send.recipients[0].apimsgid]
    assert app.services.storage.sends.get(send.id).cancelled_at is not None


def test_double_click_calls_the_gateway_once(app: RunningApp) -> None:
    send = _scheduled_card(app)
    cancels = _count_cancels(app)
    # The same click delivered twice (a retry), then a second, later click.
    assert _click(app, send, "c1", "1700000300.000001") == 200
    assert _click(app, send, "c1", "1700000300.000001") == 200
    wait_for(lambda: app.sandbox.messages()[0].status == "006", 10, "cancelled")
    wait_for(lambda: app.services.storage.sends.get(send.id).cancelled_at, 10, "recorded")
    assert _click(app, send, "c2", "1700000301.000001") == 200
    late = app.wait_response("c2")
    assert "nothing left to cancel" in late["text"]
    assert cancels == [send.recipients[0].apimsgid]
    assert app.responses("c1") == []


def test_cancel_by_someone_not_allowed_is_refused(make_app: Callable) -> None:
    app = make_app(env={"SMS_ALLOWED_USERS": "U0ALICE"})
    send = _scheduled_card(app)
    cancels = _count_cancels(app)
    _click(app, send, "bob", "1700000300.000002", user="U0BOB")
    assert "not allowed" in app.wait_response("bob")["text"]
    assert cancels == []


def test_cancel_command_updates_the_card(app: RunningApp) -> None:
    send = _scheduled_card(app)
    _, name = app.command(f"cancel {send.recipients[0].apimsgid}")
    assert "cancelled; it will not be sent" in app.wait_response(name)["text"]
    wait_for(lambda: app.services.storage.sends.get(send.id).cancelled_at, 10, "recorded")


# --------------------------------------------------------------------------- compose modal


def test_bare_sms_opens_the_compose_modal(app: RunningApp) -> None:
    answer, _ = app.command("", trigger_id="4242.4242.modal")
    assert answer.status_code == 200
    opened = app.fake.wait_for_call("views.open")[0]
    assert opened.params["trigger_id"] == "4242.4242.modal"
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "compose"
    assert json.loads(view["private_metadata"]) == {"channel": CHANNEL}
    assert "Type the text" in json.dumps(view)
    assert "Sandbox" in json.dumps(view)


def test_compose_refused_for_users_not_allowed(make_app: Callable) -> None:
    app = make_app(env={"SMS_ALLOWED_USERS": "U0ALICE"})
    _, name = app.command("", user="U0BOB")
    assert "not allowed" in app.wait_response(name)["text"]
    assert app.fake.calls_to("views.open") == []


def _view(values: dict[str, tuple[str, str | None]], view_id: str = "V0COMPOSE") -> dict[str, Any]:
    view = compose_view(CHANNEL, max_parts=3, sandbox=True)
    return {**view, "id": view_id, "hash": "156772938.1827394", "state": modal_state(values)}


def _values(to: str, text: str, when: str | None = None) -> dict[str, tuple[str, str | None]]:
    return {
        "recipients": ("value", to),
        "text": (COMPOSE_TEXT_ACTION, text),
        "when": ("value", when),
    }


def test_typing_updates_the_parts_and_encoding_preview(app: RunningApp) -> None:
    view = _view(_values(ECHO, "Καλημέρα"))
    request = view_action(view, action_id=COMPOSE_TEXT_ACTION, block_id="text", value="Καλημέρα")
    assert app.post(request).status_code == 200
    update = app.fake.wait_for_call("views.update")[0]
    assert update.params["view_id"] == "V0COMPOSE"
    assert update.params["hash"] == "156772938.1827394"
    shown = _blocks(update.params)
    assert "8 UCS-2 units · 1 part" in shown
    assert "Unicode" in shown
    assert "Καλημέρα" in shown  # the typed text is kept


def test_submitting_the_modal_sends_once(app: RunningApp) -> None:
    view = _view(_values(f"+{ECHO}", "From the modal"))
    first = app.post(view_submission(view))
    again = app.post(view_submission(view))  # submitted twice
    assert first.status_code == again.status_code == 200
    assert first.text == ""  # closes the modal
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    card = app.fake.wait_for_call("chat.postMessage")[0]
    assert card.params["channel"] == CHANNEL
    assert "From the modal" in _blocks(card.params)
    _, name = app.command("balance")
    app.wait_response(name)  # the work queue has moved past the second submission
    assert len(app.sandbox.messages()) == 1
    assert len(app.fake.calls_to("chat.postMessage")) == 1


def test_modal_errors_are_shown_next_to_the_fields(make_app: Callable) -> None:
    app = make_app(env={"SMS_MAX_PARTS": "1"})
    cases = {
        "recipients": _values("12345", "hello"),
        "text": _values(ECHO, "x" * 200),
        "when": _values(ECHO, "hello", "yesterday"),
    }
    for field, values in cases.items():
        answer = app.post(view_submission(_view(values, view_id=f"V{field}")))
        assert answer.status_code == 200
        body = answer.json()
        assert body["response_action"] == "errors"
        assert list(body["errors"]) == [field]
        assert len(body["errors"][field]) <= 150
    assert app.sandbox.messages() == []


def test_modal_send_problem_reaches_the_user_ephemerally(make_app: Callable) -> None:
    app = make_app(sandbox_options={"balance": 0.0})
    app.post(view_submission(_view(_values(ECHO, "no credit"))))
    note = app.fake.wait_for_call("chat.postEphemeral")[0]
    assert note.params["user"] == "U0ALICE"
    assert note.params["channel"] == CHANNEL
    assert "301" in note.params["text"]


# --------------------------------------------------------------------------- Slack trouble


def test_slack_503_is_retried(app: RunningApp) -> None:
    app.fake.fail("chat.postMessage", status=503)
    app.command(f"send {ECHO} through a hiccup")
    posts = app.fake.wait_for_call("chat.postMessage", count=2)
    assert len(posts) == 2
    wait_for(lambda: app.services.storage.sends.recent_log()[0].apimsgid, 10, "sent")
    assert app.slack_sleeps  # backed off (injected sleep: no real waiting)


def test_slack_429_waits_for_retry_after(app: RunningApp) -> None:
    app.fake.fail("chat.postMessage", status=429, retry_after=7)
    app.command(f"send {ECHO} rate limited")
    app.fake.wait_for_call("chat.postMessage", count=2)
    assert 7.0 in app.slack_sleeps
    send_id = wait_for(lambda: app.services.storage.sends.recent_log(), 10, "recorded")[0].send_id
    wait_for(lambda: app.services.storage.sends.get(send_id).card_ts, 10, "card recorded")
