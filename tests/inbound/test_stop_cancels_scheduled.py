"""A number that texts STOP is never texted afterwards, also by a scheduled send a legacy
Clickatell account already holds: the STOP cancels it there (delmsg), the card says why.

Over loopback: the real app, the legacy sandbox (on its own clock, `app.advance`) calling the
app's MO endpoint, and the fake Slack.
"""

from __future__ import annotations

from typing import Any

import requests

from bot.domain.delivery import DeliveryState
from bot.testing.app import RunningApp
from bot.testing.callbacks import mo_params, post
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for
from bot.usecases.opt_out_cancels import CANCELLED_FOR_OPT_OUT

PHONE = "27821234567"
OTHER = "27821234568"
TWO_HOURS = 2 * 3600


def _scheduled(app: RunningApp, numbers: str) -> Any:
    """A send for in two hours, taken by the gateway (which holds it until then)."""
    app.command(f"send --at +2h {numbers} see you tomorrow")
    storage = app.services.storage

    def taken() -> Any:
        entries = storage.sends.recent_log()
        send = storage.sends.get(entries[0].send_id) if entries else None
        ready = send and send.card_ts and all(r.apimsgid for r in send.recipients)
        return send if ready else None

    return wait_for(taken, 10, "the scheduled send taken by the gateway")


def _count_cancels(app: RunningApp) -> list[str]:
    calls: list[str] = []
    original = app.services.gateway.cancel

    def counting(message_id: str) -> Any:
        calls.append(message_id)
        return original(message_id)

    app.services.gateway.cancel = counting  # type: ignore[method-assign]
    return calls


def _texts(app: RunningApp, momsgid: str, text: str, sender: str = PHONE) -> None:
    session, auth = requests.Session(), app.callback_auth
    answer = post(session, app.url + "/clickatell/mo", mo_params(momsgid, sender, text), auth)
    assert answer.status_code == 200


def _recipient(app: RunningApp, send_id: int, msisdn: str = PHONE) -> Any:
    send = app.services.storage.sends.get(send_id)
    return next(r for r in send.recipients if r.msisdn == msisdn)


def test_stop_cancels_the_scheduled_message_the_gateway_holds(app: RunningApp) -> None:
    send = _scheduled(app, PHONE)
    cancels = _count_cancels(app)
    _texts(app, "mo-stop-1", "STOP")
    wait_for(lambda: _recipient(app, send.id).state is DeliveryState.CANCELLED, 10, "the cancel")
    # The gateway got the delmsg: it holds the message as cancelled (006).
    (message,) = app.sandbox.messages()
    assert message.status == "006"
    # A duplicate callback, a second STOP: no second cancel, no error.
    _texts(app, "mo-stop-1", "STOP")
    _texts(app, "mo-stop-2", "stop")
    app.wait_idle()
    app.advance(TWO_HOURS + 60)  # past the time: nothing is delivered
    app.wait_idle()
    assert app.sandbox.messages()[0].status == "006"
    recipient = _recipient(app, send.id)
    assert recipient.state is DeliveryState.CANCELLED
    assert recipient.status_words == CANCELLED_FOR_OPT_OUT
    assert cancels == [recipient.apimsgid]
    assert app.services.storage.sends.get(send.id).cancelled_at is not None
    wait_for(lambda: "opted out" in app.card_text(CHANNEL, send.card_ts), 10, "the card saying why")


def test_only_the_number_that_stopped_is_cancelled(app: RunningApp) -> None:
    send = _scheduled(app, f"{PHONE},{OTHER}")
    _texts(app, "mo-stop-1", "STOP")
    wait_for(lambda: _recipient(app, send.id).state is DeliveryState.CANCELLED, 10, "the cancel")
    app.wait_idle()
    assert _recipient(app, send.id, OTHER).state is not DeliveryState.CANCELLED
    assert app.services.storage.sends.get(send.id).cancelled_at is None
    by_number = {m.to: m.status for m in app.sandbox.messages()}
    assert by_number[PHONE] == "006" and by_number[OTHER] != "006"


def test_an_admins_optout_cancels_it_too(make_app: Any) -> None:
    app = make_app(env={"SMS_ADMINS": "U0ALICE"})
    send = _scheduled(app, PHONE)
    app.command(f"optout {PHONE}")
    wait_for(lambda: _recipient(app, send.id).state is DeliveryState.CANCELLED, 10, "the cancel")
    assert app.sandbox.messages()[0].status == "006"


def test_a_message_that_already_went_out_keeps_its_real_state(app: RunningApp) -> None:
    """The gateway no longer holds it (the phone has it): the cancel changes nothing, and the
    card shows what the gateway says, never "cancelled"."""
    send = _scheduled(app, PHONE)
    app.advance(TWO_HOURS + 60)  # the gateway hands it on; its report may lag behind
    wait_for(lambda: app.sandbox.messages()[0].status == "004", 10, "the delivery")
    _texts(app, "mo-stop-1", "STOP")
    wait_for(
        lambda: _recipient(app, send.id).state is DeliveryState.DELIVERED, 10, "the real state"
    )
    app.wait_idle()
    assert app.services.storage.sends.get(send.id).cancelled_at is None
