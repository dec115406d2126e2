"""End to end over loopback: the real app (`Runtime`: waitress, Bolt, workers), the sandbox gateway
calling the app's callback endpoints with basic auth, and a fake Slack Web API.

The sandbox runs on a fake clock: `app.advance(s)` delivers the reports and phone replies that
became due, so each step happens when the test says, and the test then waits on what Slack shows.
"""

from __future__ import annotations

import json

import requests

from bot.gateway.clickatell_http.sandbox import UNICODE_REPLY_TEXT
from bot.testing.app import SMS_CHANNEL, RunningApp
from bot.testing.callbacks import post, status_params
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for

ECHO = "27825550103"
UNICODE = "27825550104"
STOPS = "27825550105"
PLAIN = "27821234567"


def sent_and_recorded(app: RunningApp, count: int = 1) -> None:
    """The gateway accepted the send(s) and the app stored the answer."""
    wait_for(lambda: len(app.sandbox.messages()) >= count, what="the gateway send")

    def recorded() -> bool:
        sends = [app.storage.sends.get(i) for i in range(1, count + 1)]
        return all(s and all(r.apimsgid or r.error_code for r in s.recipients) for s in sends)

    wait_for(recorded, what="the send's result")


def card_shows(app: RunningApp, ts: str, *words: str) -> None:
    wait_for(
        lambda: all(w in app.card_text(CHANNEL, ts) for w in words),
        what=f"the card to show {words}",
    )


def thread_posts(app: RunningApp, ts: str, channel: str = CHANNEL) -> list[dict]:
    return app.fake.thread(channel, ts)


def test_reports_update_the_card_and_the_reply_lands_in_its_thread(app: RunningApp) -> None:
    app.send(f"send {ECHO} Are you coming <!channel>?")
    ts = app.card_ts()
    sent_and_recorded(app)
    app.advance(0)  # 003
    card_shows(app, ts, "Delivered to gateway")
    app.advance(1.0)  # 004
    card_shows(app, ts, "Received by recipient")
    app.advance(1.0)  # the phone's reply
    wait_for(lambda: thread_posts(app, ts), what="the reply in the card's thread")
    (reply,) = thread_posts(app, ts)
    shown = json.dumps(reply["blocks"], ensure_ascii=False)
    assert "Got it: Are you coming &lt;!channel&gt;?" in shown
    assert "<!channel>" not in json.dumps(reply, ensure_ascii=False)


def test_thread_reply_reaches_the_gateway_and_is_marked(app: RunningApp) -> None:
    app.send(f"send {ECHO} Hello")
    ts = app.card_ts()
    sent_and_recorded(app)
    answer, reply_ts = app.reply_in_thread("See you at 5 &amp; bring &lt;snacks&gt;", ts)
    assert answer.status_code == 200
    wait_for(lambda: len(app.sandbox.messages()) == 2, what="the relayed SMS")
    relayed = app.sandbox.messages()[1]
    assert (relayed.to, relayed.text) == (ECHO, "See you at 5 & bring <snacks>")
    added = lambda name: app.fake.wait_for_call(  # noqa: E731
        "reactions.add",
        lambda c: c.params.get("name") == name and c.params["timestamp"] == reply_ts,
    )
    added("outbox_tray")
    wait_for(lambda: app.storage.sends.get(2).recipients[0].apimsgid, what="the relay's result")
    app.advance(0)
    app.advance(1.0)  # 004 for both messages
    added("white_check_mark")


def test_duplicate_callbacks_are_shown_once(app: RunningApp) -> None:
    app.send(f"send {PLAIN} Hi")
    ts = app.card_ts()
    sent_and_recorded(app)
    app.advance(0)
    app.advance(1.0)
    card_shows(app, ts, "Received by recipient")
    app.wait_idle()
    updates = len(app.fake.calls_to("chat.update"))
    # The gateway retries a report it already delivered, and replays an MO: both dropped.
    apimsgid = app.storage.sends.get(1).recipients[0].apimsgid
    session, url = requests.Session(), app.url
    auth = app.callback_auth
    again = post(
        session, url + "/clickatell/status", status_params(apimsgid, "004", to=PLAIN), auth
    )
    assert (again.status_code, again.text) == (200, "OK (duplicate)\n")
    app.wait_idle()
    assert len(app.fake.calls_to("chat.update")) == updates


def test_out_of_order_statuses_leave_the_card_received(app: RunningApp) -> None:
    app.send(f"send {PLAIN} Order")
    ts = app.card_ts()
    sent_and_recorded(app)
    apimsgid = app.storage.sends.get(1).recipients[0].apimsgid
    session, url, auth = requests.Session(), app.url + "/clickatell/status", app.callback_auth
    assert post(session, url, status_params(apimsgid, "004", to=PLAIN), auth).status_code == 200
    card_shows(app, ts, "Received by recipient")
    assert post(session, url, status_params(apimsgid, "003", to=PLAIN), auth).status_code == 200
    app.wait_idle()
    assert "Received by recipient" in app.card_text(CHANNEL, ts)
    assert app.storage.sends.get(1).recipients[0].status == "004"


def test_multipart_utf16_reply_is_reassembled(app: RunningApp) -> None:
    app.send(f"send {UNICODE} Tell me something long")
    ts = app.card_ts()
    sent_and_recorded(app)
    app.advance(0)
    app.advance(1.0)
    app.advance(1.0)  # three UCS-2 parts, sent 3, 1, 2
    wait_for(lambda: thread_posts(app, ts), what="the reassembled reply")
    (reply,) = thread_posts(app, ts)
    body = reply["blocks"][1]["text"]["text"]
    assert body == UNICODE_REPLY_TEXT  # nothing to escape in it, all three parts in order


def test_stop_opts_out_and_later_sends_are_refused(app: RunningApp) -> None:
    app.send(f"send {STOPS} Promo")
    ts = app.card_ts()
    sent_and_recorded(app)
    app.advance(0)
    app.advance(1.0)
    app.advance(1.0)  # the phone texts STOP
    wait_for(lambda: thread_posts(app, ts), what="the opt-out in the thread")
    assert "opted out (texted STOP)" in json.dumps(thread_posts(app, ts)[0]["blocks"])
    assert app.storage.opt_outs.is_opted_out(STOPS)
    # A thread reply to it is refused (ephemeral), and so is a new /sms send.
    app.reply_in_thread("Are you sure?", ts)
    refusal = app.fake.wait_for_call("chat.postEphemeral")[0]
    assert "opted out" in refusal.params["text"]
    trigger = "refused-send"
    from bot.testing.signing import slash_command

    app.post(
        slash_command(
            f"send {STOPS} Again", trigger_id=trigger, response_url=app.fake.response_url(trigger)
        )
    )
    answer = app.fake.wait_for_call("response_url", lambda c: c.path.endswith(trigger))[0]
    assert "opted out" in json.dumps(answer.params)
    assert len(app.sandbox.messages()) == 1  # nothing more reached the gateway


def test_slack_answering_429_and_503_then_recovering(app: RunningApp) -> None:
    app.fake.fail("chat.postMessage", status=429, retry_after=0)
    app.fake.fail("chat.postMessage", status=503, times=2)
    session, auth = requests.Session(), app.callback_auth
    from bot.testing.callbacks import mo_params

    answer = post(session, app.url + "/clickatell/mo", mo_params("mo-1", PLAIN, "hello?"), auth)
    assert answer.status_code == 200
    wait_for(lambda: list(app.fake.channel_messages(SMS_CHANNEL)), what="the post after retries")
    app.wait_idle()
    (message,) = list(app.fake.channel_messages(SMS_CHANNEL))
    assert "hello?" in json.dumps(message["blocks"])
    assert len(app.fake.calls_to("chat.postMessage")) == 4  # 429, 503, 503, then delivered


def test_health_reports_the_inbound_workers(app: RunningApp) -> None:
    health = requests.get(app.url + "/healthz", timeout=5).json()
    assert health["ok"] is True
    assert {
        "slack-outbox",
        "inbox-processor",
        "balance-watcher",
        "reply-relay",
        "inbox-writer",
    } <= set(health["workers"])
