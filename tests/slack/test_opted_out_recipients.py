"""An opted-out number among several is skipped, shown on the card and told; the rest are sent.

Over the real app: a signed `/sms send` to two numbers, one of which texted STOP; the sandbox
records what it was asked to send, the fake Slack what the card and the sender were shown.
"""

from __future__ import annotations

import json

from bot.testing.app import RunningApp
from bot.testing.waiting import wait_for

ECHO = "27825550103"
STOPPED = "27821234567"


def test_the_opted_out_number_is_skipped_and_the_others_are_sent(app: RunningApp) -> None:
    app.services.storage.opt_outs.opt_out(STOPPED, "STOP")
    app.command(f"send {ECHO},{STOPPED} hello")
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    assert [m.to for m in app.sandbox.messages()] == [ECHO]
    card = app.fake.wait_for_call("chat.postMessage")[0]
    assert "Opted out" in json.dumps(card.params.get("blocks"))
    told = app.fake.wait_for_call("response_url")
    assert any("+27 82 123 4567" in c.params.get("text", "") for c in told)
    send = app.services.storage.sends.get(1)
    skipped = next(r for r in send.recipients if r.msisdn == STOPPED)
    assert skipped.apimsgid is None and skipped.error_code == "opted-out"
