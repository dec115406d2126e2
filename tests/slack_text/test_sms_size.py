"""Encoding and parts of a converted reply, in words for its thread."""

from __future__ import annotations

from bot.slack.sms_size import SmsSize, measure_sms, unicode_characters


def test_a_short_gsm_reply_needs_no_note():
    size = measure_sms("See you at 5")
    assert size == SmsSize("gsm7", 12, 1, ())
    assert size.thread_note() is None
    assert size.refusal(max_parts=3) is None


def test_an_emoji_makes_it_unicode_and_the_note_names_it():
    size = measure_sms("See you at 5 👍")
    assert (size.encoding, size.parts, size.unicode_characters) == ("ucs2", 1, ("👍",))
    assert size.thread_note() == "Sent as Unicode (UCS-2), because of 👍: 1 SMS part."


def test_a_long_gsm_reply_reports_its_parts():
    size = measure_sms("x" * 161)
    assert size.thread_note() == "Sent as GSM-7: 2 SMS parts."


def test_toned_and_joined_emoji_are_named_whole_once():
    assert unicode_characters("👋🏼 hi 👋🏼 🤦🏽‍♂️ ’") == ("👋🏼", "🤦🏽‍♂️", "’")
    assert unicode_characters("plain £ text") == ()
    assert unicode_characters("€5") == ("€",)  # GSM, but not Latin-1: the gateway needs UCS-2


def test_many_culprits_are_summarised():
    size = measure_sms("αβγδεζη")
    assert (
        size.thread_note()
        == "Sent as Unicode (UCS-2), because of α β γ δ ε and 2 more: 1 SMS part."
    )


def test_over_the_limit_is_refused_with_the_reason():
    gsm = measure_sms("x" * 500)
    assert gsm.refusal(max_parts=3) == (
        "Not sent: this reply needs 4 SMS parts as GSM-7, and the limit is 3. "
        "To send it, shorten it and reply again."
    )
    emoji = measure_sms("🙂" + "x" * 200)
    assert emoji.refusal(max_parts=3) == (
        "Not sent: this reply needs 4 SMS parts as Unicode (UCS-2), because of 🙂, "
        "and the limit is 3. To send it, shorten it or leave out 🙂 and reply again."
    )
    assert emoji.refusal(max_parts=4) is None
