"""The inbox worker and conversation routing, deterministic: a fake clock, no threads."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.inbound import Inbound, Options
from bot.inbound.processor import KEEP_CLAIMS
from bot.storage import StorageError, StorageUnavailable
from tests.inbound.rig import CHANNEL, SMS_CHANNEL, Rig

PHONE = "27821234567"


def updates(rig: Rig) -> list[dict]:
    return [c.params for c in rig.fake.calls_to("chat.update")]


def blocks_text(params: dict) -> str:
    return json.dumps(params.get("blocks"), ensure_ascii=False)


# ---------------------------------------------------------------- delivery reports


def test_status_moves_only_forward(rig: Rig) -> None:
    send = rig.card(PHONE)
    apimsgid = send.recipients[0].apimsgid
    rig.status(apimsgid, "004", to=PHONE)
    rig.settle()
    rig.clock.advance(10)
    rig.status(apimsgid, "003", to=PHONE)  # late, after 004
    rig.settle()
    assert rig.storage.sends.get(send.id).recipients[0].status == "004"
    assert len(updates(rig)) == 1  # the late 003 changed nothing, so no update either
    assert "Received by recipient" in blocks_text(updates(rig)[-1])


def test_status_found_by_climsgid_before_the_apimsgid_was_stored(rig: Rig) -> None:
    send = rig.card(PHONE)
    recipient = send.recipients[0]
    rig.storage.sends.record_result(recipient.id, apimsgid=None)  # the answer is not in yet
    params_id = "f" * 32
    from bot.testing.callbacks import form, status_params

    params = status_params(params_id, "003", to=PHONE, climsgid=recipient.climsgid)
    rig.storage.inbox.store("status", f"{params_id}:003", form(params))
    rig.settle()
    stored = rig.storage.sends.get(send.id).recipients[0]
    assert (stored.status, stored.apimsgid) == ("003", params_id)


def test_reports_of_a_big_send_make_one_update_per_card_interval(rig: Rig) -> None:
    numbers = [f"2782{i:07d}" for i in range(500)]
    send = rig.card(*numbers)
    times: list[float] = []
    original = rig.outbox._call

    def timed(method: str, **params: object) -> object:
        times.append(rig.clock.now)
        return original(method, **params)

    rig.outbox._call = timed  # type: ignore[method-assign]
    for recipient in send.recipients:
        rig.status(recipient.apimsgid, "003", to=recipient.msisdn)
    rig.process()
    assert rig.storage.outbox.count() == 1  # 500 reports, one coalesced update waiting
    rig.drain()
    rig.clock.advance(1)
    for recipient in send.recipients:
        rig.status(recipient.apimsgid, "004", to=recipient.msisdn)
    rig.settle()
    assert len(updates(rig)) == 2
    assert times[1] - times[0] >= 3.0  # at most one update per 3 s per card
    assert "500 received" in blocks_text(updates(rig)[-1])


def test_reports_for_more_cards_than_are_remembered_update_every_card(
    rig: Rig, monkeypatch
) -> None:
    """What the processor knows of each send is a bounded cache shared with the card updates:
    a long-running process does not keep an entry per send, and a forgotten one is read again."""
    monkeypatch.setattr("bot.inbound.CARD_CACHE_SIZE", 3)
    sends = [rig.card(f"278212345{n:02d}") for n in range(8)]
    for rounds, code in enumerate(("003", "004")):
        for send in sends:
            recipient = send.recipients[0]
            rig.status(recipient.apimsgid, code, to=recipient.msisdn)
        rig.settle()
        rig.clock.advance(5)
        assert len(rig.inbound._cards) <= 3
        assert len(updates(rig)) == 8 * (rounds + 1)  # every card, each round
    assert {u["ts"] for u in updates(rig)} == {s.card_ts for s in sends}


def test_reports_for_a_send_whose_card_is_not_posted_load_it_once_per_batch(
    rig: Rig, monkeypatch
) -> None:
    """A card can wait in the outbox (Slack down) or never be posted (not in the channel) while
    its SMS go out: its reports must not load the whole send (every recipient) one by one."""
    send = rig.uncarded(*[f"2782{i:07d}" for i in range(200)])
    loads = []
    original = rig.storage.sends.get
    monkeypatch.setattr(rig.storage.sends, "get", lambda i: loads.append(i) or original(i))
    for recipient in send.recipients:
        rig.status(recipient.apimsgid, "003", to=recipient.msisdn)
    assert rig.processor.run_once().processed == 200  # one batch
    assert loads.count(send.id) == 0  # is it a reply, where is its card: no recipient loaded
    assert {r.status for r in rig.storage.sends.get(send.id).recipients} == {"003"}


def test_status_for_a_message_we_never_sent_is_retried_then_dropped(rig: Rig) -> None:
    rig.status("9" * 32, "004")
    for wait in (1.0, 3.0, 10.0):  # the processor's retry delays
        rig.process()
        (row,) = rig.storage.inbox.unprocessed()
        rig.process()  # not due yet: nothing changes
        assert rig.storage.inbox.unprocessed()[0].attempts == row.attempts
        rig.clock.advance(wait)
    rig.process()
    assert rig.storage.inbox.unprocessed() == []  # dropped after the last retry
    assert rig.storage.outbox.count() == 0


def test_a_row_that_fails_does_not_hold_up_the_others(rig: Rig, monkeypatch) -> None:
    original = rig.inbound.router.deliver

    def deliver(sms):  # type: ignore[no-untyped-def]
        if sms.msisdn == "27820000001":
            raise RuntimeError("boom")
        return original(sms)

    monkeypatch.setattr(rig.inbound.router, "deliver", deliver)
    rig.mo("27820000001", "poison")
    rig.mo("27820000002", "fine")
    rig.process()
    pending = rig.storage.inbox.unprocessed()
    assert [r.attempts for r in pending] == [1]  # the poison row, counted and kept
    assert rig.storage.outbox.count() == 1  # the good one went on


# ---------------------------------------------------------------- conversations


def test_sms_from_a_new_number_starts_a_conversation(rig: Rig) -> None:
    rig.storage.contacts.save("Bob", PHONE)
    rig.mo(PHONE, "first")
    rig.mo(PHONE, "second")  # arrives before the root is posted
    rig.settle()
    root, reply = rig.fake.posts(SMS_CHANNEL)
    assert "New SMS conversation" in blocks_text(root) and "Bob" in blocks_text(root)
    assert "+27 82 123 4567" in blocks_text(root) and "first" in blocks_text(root)
    root_ts = rig.storage.outbox.result(1)
    assert reply["thread_ts"] == root_ts and "second" in blocks_text(reply)


def test_sms_goes_into_the_newest_card_thread_within_seven_days(rig: Rig) -> None:
    rig.card(PHONE)
    newest = rig.card(PHONE)
    rig.clock.advance(timedelta(days=6).total_seconds())
    rig.mo(PHONE, "answer")
    rig.settle()
    (post,) = rig.fake.posts(CHANNEL)[2:]
    assert post["thread_ts"] == newest.card_ts


def test_sms_processed_late_goes_to_the_card_it_can_answer(rig: Rig) -> None:
    """Processed after a backlog: a card sent after the SMS arrived cannot be what it answers."""
    answered = rig.card(PHONE)
    rig.clock.advance(5)
    rig.mo(PHONE, "answer")  # arrives (stored), not processed yet
    rig.clock.advance(5)
    rig.card(PHONE)  # the next card to the same phone, sent meanwhile
    rig.settle()
    (post,) = rig.fake.posts(CHANNEL)[2:]
    assert post["thread_ts"] == answered.card_ts


@pytest.mark.parametrize("backlog", [False, True])
def test_where_an_sms_goes_does_not_depend_on_when_it_is_processed(rig: Rig, backlog) -> None:
    """SMS A answers card 1; card 2 goes out; SMS B answers card 2. Processed as they come or
    all together after a backlog, they land in the same threads (activity counts from arrival)."""
    first = rig.card(PHONE)
    rig.clock.advance(5)
    rig.mo(PHONE, "answer A")
    if not backlog:
        rig.settle()
    rig.clock.advance(5)
    second = rig.card(PHONE, channel=SMS_CHANNEL)
    rig.clock.advance(5)
    rig.mo(PHONE, "answer B")
    rig.clock.advance(5)
    rig.settle()
    threads = {
        p["text"][-8:]: p.get("thread_ts") for p in rig.fake.posts() if "answer" in p["text"]
    }
    assert threads == {"answer A": first.card_ts, "answer B": second.card_ts}


def test_the_seven_days_count_to_the_sms_arrival_not_its_processing(rig: Rig) -> None:
    card = rig.card(PHONE)
    rig.clock.advance(timedelta(days=7).total_seconds() - 60)
    rig.mo(PHONE, "just in time")
    rig.clock.advance(120)  # processed after the 7 days
    rig.settle()
    assert rig.fake.posts()[-1].get("thread_ts") == card.card_ts


@pytest.mark.parametrize("completed", [True, False])
def test_a_multi_part_sms_goes_to_the_card_it_answers_even_if_a_part_comes_late(
    rig: Rig, completed: bool
) -> None:
    """Part 1 arrives; a new card goes out; part 2 comes a minute later (a gateway retry) or
    never (posted incomplete after 10 minutes): the SMS answers the card it arrived after."""
    answered = rig.card(PHONE)
    rig.clock.advance(5)
    rig.mo(PHONE, "part one ", udh="0500030A0201")
    rig.clock.advance(5)
    rig.card(PHONE)
    rig.clock.advance(60)
    if completed:
        rig.mo(PHONE, "part two", udh="0500030A0202")
    else:
        rig.settle()
        rig.clock.advance(11 * 60)
    rig.settle()
    (post,) = [p for p in rig.fake.posts(CHANNEL) if p.get("thread_ts")]
    assert post["thread_ts"] == answered.card_ts


def test_after_seven_days_a_new_conversation_starts(rig: Rig) -> None:
    rig.card(PHONE)
    rig.clock.advance(timedelta(days=8).total_seconds())
    rig.mo(PHONE, "late answer")
    rig.settle()
    (post,) = rig.fake.posts(SMS_CHANNEL)
    assert "thread_ts" not in post and "late answer" in blocks_text(post)


def test_phone_text_is_shown_literally(rig: Rig) -> None:
    text = "<!channel> hi <@U024BE7LH> see <https://evil.example|bank> & *bold* :x:"
    rig.mo(PHONE, text)
    rig.settle()
    (post,) = rig.fake.posts(SMS_CHANNEL)
    sections = [b for b in post["blocks"] if b["type"] == "section"]
    body = sections[1]["text"]
    assert body["type"] == "plain_text" and body["emoji"] is False  # no mrkdwn, no emoji codes
    assert body["text"] == (
        "&lt;!channel&gt; hi &lt;@U024BE7LH&gt; see &lt;https://evil.example|bank&gt; "
        "&amp; *bold* :x:"
    )
    assert post["mrkdwn"] is False  # the notification text is not formatted either
    raw = json.dumps(post, ensure_ascii=False)
    for control in ("<!channel>", "<@U024BE7LH>", "<https://evil"):
        assert control not in raw


@pytest.mark.parametrize(
    "udh", ["0500034203{seq:02X}", "06080412AB03{seq:02X}"], ids=["8bit", "16bit"]
)
def test_parts_in_any_order_are_reassembled(rig: Rig, udh: str) -> None:
    pieces = {1: "Привет, ", 2: "как дела? ", 3: "Пока 📱"}
    for seq in (3, 1, 2):
        rig.mo(PHONE, pieces[seq], charset="UTF-16BE", udh=udh.format(seq=seq))
        rig.process()
    rig.settle()
    (post,) = rig.fake.posts(SMS_CHANNEL)
    assert "Привет, как дела? Пока 📱" in blocks_text(post)


def test_parts_still_missing_after_ten_minutes_are_posted_incomplete(rig: Rig) -> None:
    rig.mo(PHONE, "one ", udh="0500030903" + "01")
    rig.mo(PHONE, "three", udh="0500030903" + "03")
    rig.process()
    rig.clock.advance(9 * 60)
    rig.settle()
    assert rig.fake.posts() == []
    rig.clock.advance(61)
    rig.settle()
    (post,) = rig.fake.posts(SMS_CHANNEL)
    assert "one […]three" in blocks_text(post)
    assert "Incomplete" in blocks_text(post) and "part 2 of 3" in blocks_text(post)


# ---------------------------------------------------------------- opt-out


# Which words are keywords, in any case and punctuation, is tested in tests/domain/.


@pytest.mark.parametrize("text", ["Stop.", "stop please", "STOP ALL", "OptOut", "revoke"])
def test_the_first_word_decides_an_opt_out(rig: Rig, text: str) -> None:
    rig.card(PHONE)
    rig.mo(PHONE, text)
    rig.settle()
    assert rig.storage.opt_outs.is_opted_out(PHONE)


def test_a_keyword_later_in_a_sentence_is_just_text(rig: Rig) -> None:
    rig.card(PHONE)
    rig.mo(PHONE, "please don't stop")
    rig.settle()
    assert not rig.storage.opt_outs.is_opted_out(PHONE)


def test_stop_records_an_opt_out_and_start_reverses_it(rig: Rig) -> None:
    rig.card(PHONE)
    rig.mo(PHONE, "  Unsubscribe ")
    rig.settle()
    assert rig.storage.opt_outs.is_opted_out(PHONE)
    note = blocks_text(rig.fake.posts(CHANNEL)[-1])
    assert "opted out (texted UNSUBSCRIBE)" in note
    rig.clock.advance(60)
    rig.mo(PHONE, "start")
    rig.settle()
    assert not rig.storage.opt_outs.is_opted_out(PHONE)
    assert "texted START" in blocks_text(rig.fake.posts(CHANNEL)[-1])


# ---------------------------------------------------------------- low balance


def test_low_balance_alerts_once_until_it_recovers(rig: Rig) -> None:
    watcher = rig.inbound.balance
    rig.gateway.credit = 4.5
    assert watcher.check() is True
    assert watcher.check() is False  # not repeated
    rig.gateway.credit = 50
    assert watcher.check() is False
    rig.gateway.credit = 3
    assert watcher.check() is True
    rig.settle()
    alerts = rig.fake.posts(SMS_CHANNEL)
    assert len(alerts) == 2 and "Low SMS credit" in blocks_text(alerts[0])


def test_low_balance_threshold_comes_from_the_settings(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_LOW_BALANCE", "99")  # not read behind the settings' back
    settings = replace(rig.services.settings, low_balance=3.0)
    inbound = Inbound(replace(rig.services, settings=settings), Options(start=False))
    try:
        assert inbound.balance.threshold == 3.0
    finally:
        inbound.relay.stop()


def test_reports_of_one_message_in_one_batch_end_at_the_highest(rig: Rig) -> None:
    first, second = rig.card(PHONE), rig.card("27821234568")
    a, b = first.recipients[0].apimsgid, second.recipients[0].apimsgid
    rig.status(a, "004", to=PHONE)
    rig.status(a, "003", to=PHONE)  # older news, later in the same batch
    rig.status(b, "003", to="27821234568")
    rig.status(b, "004", to="27821234568")
    rig.settle()
    assert rig.storage.sends.get(first.id).recipients[0].status == "004"
    assert rig.storage.sends.get(second.id).recipients[0].status == "004"
    assert len(updates(rig)) == 2  # one per card


# ---------------------------------------------------------------- storage errors


def _failing(error: Exception):
    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    return fail


def test_a_database_that_cannot_answer_now_holds_every_row_untouched(rig: Rig, monkeypatch) -> None:
    """StorageUnavailable (locked, disk full): not the row's fault, so nothing is counted
    against it; the worker pauses and tries again."""
    send = rig.card(PHONE)
    rig.status(send.recipients[0].apimsgid, "004", to=PHONE)
    locked = StorageUnavailable("database is locked")
    monkeypatch.setattr(rig.storage.sends, "apply_reports", _failing(locked))
    with pytest.raises(StorageUnavailable):
        rig.processor.run_once()
    (row,) = rig.storage.inbox.unprocessed()
    assert row.attempts == 0


def test_a_storage_error_of_the_data_counts_against_its_row(rig: Rig, monkeypatch) -> None:
    """Any other StorageError (a constraint the data breaks) is the row's: recorded and retried
    later, while the worker goes on."""
    send = rig.card(PHONE)
    rig.status(send.recipients[0].apimsgid, "004", to=PHONE)
    broken = StorageError("constraint failed")
    monkeypatch.setattr(rig.storage.sends, "apply_reports", _failing(broken))
    assert rig.processor.run_once().processed == 0
    (row,) = rig.storage.inbox.unprocessed()
    assert row.attempts == 1 and row.last_error == "StorageError: constraint failed"


# ---------------------------------------------------------------- pruning


def test_slack_claims_are_pruned_with_the_inbox_and_outbox(rig: Rig) -> None:
    """Slack's idempotency claims (event, trigger and message ids) are kept far longer than
    Slack ever redelivers, then forgotten by the periodic prune, so the table stops growing."""
    assert rig.storage.claims.claim("slash:old-trigger")
    rig.clock.advance(KEEP_CLAIMS.total_seconds() - 3600)
    assert rig.storage.claims.claim("slash:recent-trigger")
    rig.clock.advance(2 * 3600)  # the first claim is past the retention, the second is not
    rig.processor.step()  # the periodic work: prunes on its first step, then hourly
    assert rig.storage.claims.count() == 1
    assert not rig.storage.claims.claim("slash:recent-trigger")  # still a duplicate
    assert rig.storage.claims.claim("slash:old-trigger")  # forgotten: a new claim


def test_the_first_reply_to_a_card_mentions_who_sent_it(rig: Rig) -> None:
    send = rig.card(PHONE)
    rig.mo(PHONE, "got it")
    rig.mo(PHONE, "thanks again")
    rig.settle()
    first, second = rig.fake.thread(CHANNEL, send.card_ts)
    assert f"<@{send.slack_user}>" in json.dumps(first["blocks"])
    assert f"<@{send.slack_user}>" not in json.dumps(second["blocks"])
