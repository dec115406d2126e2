"""What a thread reply becomes on the phone: the words the person meant, over the real app.

Signed `message` events go to the app over HTTP; the sandbox records the exact text it was asked
to send, and the fake Slack what the thread was told.
"""

from __future__ import annotations

from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for
from tests.inbound.test_thread_replies import PLAIN, card_sent, relayed

TYPED = (
    "We are open till 5 :+1: :slightly_smiling_face: ask <@U0ALICE> or see "
    "<https://example.com/hours|our hours> &amp; *bold*"
)


def _notes(app: RunningApp, ts: str) -> list[str]:
    return [p["text"] for p in app.fake.thread(CHANNEL, ts)]


def test_a_reply_reaches_the_phone_as_the_person_meant_it(app: RunningApp) -> None:
    app.fake.users["U0ALICE"] = {"real_name": "Alice Example", "display_name": "Alice Example"}
    ts = card_sent(app, f"send {PLAIN} Hi")
    app.reply_in_thread(TYPED, ts)
    wait_for(lambda: relayed(app), what="the relayed SMS")
    assert relayed(app) == [
        (
            PLAIN,
            "We are open till 5 👍 🙂 ask Alice Example or see our hours "
            "(https://example.com/hours) & bold",
        )
    ]
    # Emoji made it Unicode: the thread says so rather than surprising the sender.
    wait_for(lambda: any("Unicode" in n for n in _notes(app, ts)), what="the encoding note")


def test_a_reply_with_a_file_relays_its_text_and_says_the_file_stays(app: RunningApp) -> None:
    ts = card_sent(app, f"send {PLAIN} Hi")
    files = [{"id": "F1", "name": "photo.jpg"}]
    app.reply_in_thread("here is the photo", ts, subtype="file_share", files=files)
    wait_for(lambda: relayed(app), what="the relayed SMS")
    assert relayed(app) == [(PLAIN, "here is the photo")]
    wait_for(
        lambda: any("not sent by SMS" in n for n in _notes(app, ts)), what="the note on the file"
    )


def test_a_reply_also_sent_to_the_channel_is_relayed(app: RunningApp) -> None:
    ts = card_sent(app, f"send {PLAIN} Hi")
    app.reply_in_thread("on my way", ts, subtype="thread_broadcast")
    wait_for(lambda: relayed(app), what="the relayed SMS")
    assert relayed(app) == [(PLAIN, "on my way")]
