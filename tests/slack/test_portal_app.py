"""The app with a Clickatell Portal API key, end to end through `serve`: signed slash commands,
the fake Slack, the sandbox in Platform mode calling back with JSON and `?token=`.

Cards, threads, statuses and the log work as with a legacy account; the card shows the Portal's
statuses in plain words, the balance is money, and what the Portal does not offer says so
without any gateway call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from bot.domain.delivery import DeliveryState
from bot.gateway.clickatell_platform import ClickatellPlatformGateway
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for

ECHO = "27825550103"
OPTED_OUT = "27825550106"
KEY = "portal-key-123"


@pytest.fixture(params=["one", "rest", "http"])
def portal(request: pytest.FixtureRequest, make_app: Callable[..., RunningApp]) -> RunningApp:
    return make_app(
        env={"CLICKATELL_API_KEY": KEY, "CLICKATELL_INTEGRATION": request.param},
        portal_sandbox=True,
        sandbox_options={"quirk_every": 0},
    )


def _blocks(params: dict[str, Any]) -> str:
    blocks = params.get("blocks") or []
    return json.dumps(json.loads(blocks) if isinstance(blocks, str) else blocks, ensure_ascii=False)


def _sent(app: RunningApp) -> Any:
    entries = app.services.storage.sends.recent_log()
    return app.services.storage.sends.get(entries[0].send_id) if entries else None


def _recipient(app: RunningApp) -> Any:
    send = _sent(app)
    return send.recipients[0] if send else None


def test_a_send_is_carded_delivered_and_answered_in_its_thread(portal: RunningApp) -> None:
    assert isinstance(portal.services.gateway, ClickatellPlatformGateway)
    answer, name = portal.command(f"send +{ECHO} Are you coming?")
    assert answer.status_code == 200
    wait_for(lambda: portal.sandbox.messages(), 10, "the Portal sandbox to take the SMS")
    (message,) = portal.sandbox.messages()
    assert message.to == ECHO and message.text == "Are you coming?"
    delivered = wait_for(
        lambda: (r := _recipient(portal)) and r.state is DeliveryState.DELIVERED and r,
        10,
        "the delivery report",
    )
    assert delivered.apimsgid == message.apimsgid
    assert delivered.status_words == "Received by the phone"
    card = wait_for(
        lambda: [
            c
            for c in portal.fake.calls_to("chat.update")
            if "Received by the phone" in _blocks(c.params)
        ],
        10,
        "the card to show the Portal's status in words",
    )
    assert "Sandbox" in _blocks(card[-1].params)
    reply = wait_for(
        lambda: [
            m
            for m in portal.fake.channel_messages(CHANNEL)
            if "Got it: Are you coming?" in json.dumps(m, ensure_ascii=False)
        ],
        10,
        "the phone's reply in the card's thread",
    )
    assert reply[0].get("thread_ts") == card[-1].params["ts"]
    assert portal.responses(name) == []


def test_status_balance_and_what_the_portal_does_not_offer(portal: RunningApp) -> None:
    portal.command(f"send {ECHO} hello")
    recipient = wait_for(
        lambda: (r := _recipient(portal)) and r.state is DeliveryState.DELIVERED and r,
        10,
        "the delivery report",
    )
    _, status = portal.command(f"status {recipient.apimsgid}")
    text = json.dumps(portal.wait_response(status), ensure_ascii=False)
    assert "Received by the phone" in text
    if portal.services.gateway.capabilities.query:
        assert "DEVICE_ACK" in text  # asked of the One API: its status name
    else:
        assert "latest delivery report" in text and "cannot be asked" in text
    _, by_client_id = portal.command(f"status {recipient.climsgid}")  # people quote either ID
    said = json.dumps(portal.wait_response(by_client_id), ensure_ascii=False)
    assert "Received by the phone" in said and recipient.apimsgid in said
    _, balance = portal.command("balance")
    assert "ZAR 99.00" in json.dumps(portal.wait_response(balance))
    before = len(portal.sandbox.messages())
    for command in ("cancel abc123", "charge abc123", "coverage +27821234567"):
        _, name = portal.command(command)
        said = json.dumps(portal.wait_response(name))
        assert "not available with a Clickatell Portal API key" in said, command
    assert len(portal.sandbox.messages()) == before
    _, help_name = portal.command("help")
    listed = json.dumps(portal.wait_response(help_name))
    assert "/sms status" in listed and "/sms coverage" not in listed and "/sms redeem" not in listed


def test_a_gateway_opt_out_is_recorded(portal: RunningApp) -> None:
    _, name = portal.command(f"send {OPTED_OUT} hello")
    said = json.dumps(portal.wait_response(name))
    assert "opted out" in said
    assert wait_for(
        lambda: portal.services.storage.opt_outs.is_opted_out(OPTED_OUT), 10, "the opt-out"
    )
    _, again = portal.command(f"send {OPTED_OUT} hello again")
    assert "opted out" in json.dumps(portal.wait_response(again))
    assert portal.sandbox.messages() == []


def test_portal_callbacks_need_the_token(portal: RunningApp) -> None:
    token = portal.services.settings.callback_token
    assert token
    body = json.dumps({"messageId": "x1", "statusCode": 4, "timestamp": 1516217711000, "to": ECHO})
    url = f"{portal.url}/clickatell/status"
    without = requests.post(
        url, data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    wrong = requests.post(f"{url}?token=nope", data=body, timeout=10)
    right = requests.post(f"{url}?token={token}", data=body, timeout=10)
    assert (without.status_code, wrong.status_code, right.status_code) == (401, 401, 200)


def test_an_unknown_event_type_is_stored_then_ignored(portal: RunningApp) -> None:
    token = portal.services.settings.callback_token
    body = json.dumps({"event": {"someFutureEvent": [{"messageId": "z1", "anything": [1, 2]}]}})
    answer = requests.post(f"{portal.url}/clickatell/status?token={token}", data=body, timeout=10)
    assert answer.status_code == 200
    inbox = portal.services.storage.inbox
    assert inbox.count() == 1
    wait_for(lambda: inbox.count(unprocessed=True) == 0, 10, "the event marked done")
    assert inbox.failures() == []
