"""Every backend: sends, their recipients, and the one forward-only status path."""

from __future__ import annotations

import pytest

from bot.domain.delivery import OUTCOME_UNKNOWN, UNSETTLED, DeliveryState
from bot.domain.records import CardPlace, NewRecipient, Send, StatusApplied, StatusUpdate
from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.conftest import Backend
from tests.storage.support import at, record, run_threads, status


def test_record_send_keeps_everything_in_order(store: Storage, clock: ManualClock) -> None:
    scheduled = at(3600)
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="Grüße",
        encoding="ucs2",
        parts=2,
        sender="27830000000",
        scheduled_at=scheduled,
        sandbox=True,
        recipients=[
            NewRecipient("27821111111", "c1", contact_name="Bob", apimsgid="a1"),
            NewRecipient("27822222222", "c1", error_code="105", error_description="Invalid"),
            NewRecipient("27820000000", "c1", apimsgid="a0"),
        ],
    )
    assert send.created_at == clock.utc()
    assert (send.text, send.encoding, send.parts, send.sender) == (
        "Grüße",
        "ucs2",
        2,
        "27830000000",
    )
    assert send.scheduled_at == scheduled and send.sandbox and send.asked_at is None
    assert [r.msisdn for r in send.recipients] == ["27821111111", "27822222222", "27820000000"]
    assert send.recipients[0].contact_name == "Bob"
    assert send.recipients[1].apimsgid is None and send.recipients[1].error_code == "105"
    assert store.sends.get(send.id) == send
    assert store.sends.get(9999) is None


def test_the_time_asked_for_is_kept_beside_the_time_quiet_hours_chose(store: Storage) -> None:
    send = record(store, "27821111111", scheduled_at=at(36_000), asked_at=at(3600))
    assert (send.scheduled_at, send.asked_at) == (at(36_000), at(3600))
    assert store.sends.get(send.id) == send


def test_intent_key_makes_record_send_idempotent(store: Storage) -> None:
    first = record(store, "27821111111", intent_key="view-1")
    second = record(store, "27829999999", intent_key="view-1")
    assert second == first
    assert store.sends.by_intent("view-1") == first
    assert len(store.sends.recent_log()) == 1


def test_recipient_result_and_lookups(store: Storage) -> None:
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli9"), NewRecipient("27822222222", "cli9")],
    )
    first, second = send.recipients
    store.sends.record_result(first.id, apimsgid="api-1")
    store.sends.record_result(second.id, apimsgid=None, error_code="114", error_description="x")
    assert store.sends.recipient_by_apimsgid("api-1").id == first.id  # type: ignore[union-attr]
    assert store.sends.recipient_by_climsgid("cli9", "27822222222").error_code == "114"  # type: ignore[union-attr]
    assert store.sends.find_recipient(apimsgid="api-1").id == first.id  # type: ignore[union-attr]
    # Unknown apimsgid (e.g. confirmed by climsgid only): fall back to climsgid + number.
    found = store.sends.find_recipient(apimsgid="nope", climsgid="cli9", msisdn="27821111111")
    assert found is not None and found.id == first.id
    assert store.sends.find_recipient(apimsgid="nope") is None
    assert store.sends.recipient_by_climsgid("cli9", "27820000000") is None


def test_attach_card_and_find_by_card(store: Storage) -> None:
    send = record(store, "27821111111")
    assert store.sends.by_card("C1", "5.5") is None
    store.sends.attach_card(send.id, "C1", "5.5")
    found = store.sends.by_card("C1", "5.5")
    assert found is not None and found.id == send.id and found.card_channel == "C1"


def test_status_moves_only_forward(store: Storage, clock: ManualClock) -> None:
    recipient = record(store, "27821111111").recipients[0]
    assert store.sends.update_status(recipient.id, status("003"), at=at(1))
    assert not store.sends.update_status(recipient.id, status("003"), at=at(2))  # duplicate
    assert store.sends.update_status(recipient.id, status("004"), at=at(3), charge=0.3)
    assert not store.sends.update_status(
        recipient.id, status("003"), at=at(4)
    )  # late 003 after 004
    assert not store.sends.update_status(
        recipient.id, status("007"), at=at(5)
    )  # first final status stays
    stored = store.sends.recipient_by_apimsgid("api-27821111111")
    assert stored is not None
    assert (stored.status, stored.status_at, stored.charge) == ("004", at(3), 0.3)


def test_late_status_still_records_charge(store: Storage) -> None:
    recipient = record(store, "27821111111").recipients[0]
    store.sends.update_status(recipient.id, status("004"))
    assert not store.sends.update_status(recipient.id, status("003"), charge=0.5)
    assert store.sends.recipient_by_apimsgid("api-27821111111").charge == 0.5  # type: ignore[union-attr]


def test_status_fills_missing_apimsgid(store: Storage) -> None:
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli1")],
    )
    rid = send.recipients[0].id
    assert store.sends.update_status(rid, status("003"), apimsgid="late-id")
    store.sends.update_status(rid, status("004"), apimsgid="other")  # never overwrites a known ID
    assert store.sends.recipient_by_apimsgid("late-id").status == "004"  # type: ignore[union-attr]
    assert not store.sends.update_status(9999, status("004"))


def test_concurrent_status_updates_end_on_the_final_status(store: Storage) -> None:
    recipient = record(store, "27821111111").recipients[0]
    statuses = ["003", "004", "003", "002", "008", "003", "011", "003"] * 2
    changed = run_threads(
        len(statuses), lambda i: store.sends.update_status(recipient.id, status(statuses[i]))
    )
    assert store.sends.get(recipient.send_id).recipients[0].status == "004"  # type: ignore[union-attr]
    assert 1 <= sum(bool(c) for c in changed) <= 5


def test_mark_cancelled(store: Storage) -> None:
    send = record(store, "27821111111")
    assert store.sends.mark_cancelled(send.id, at=at(10))
    assert not store.sends.mark_cancelled(send.id)
    assert not store.sends.mark_cancelled(9999)
    assert store.sends.get(send.id).cancelled_at == at(10)  # type: ignore[union-attr]


def test_recent_log_newest_first_and_per_number(store: Storage, clock: ManualClock) -> None:
    old = record(store, "27821111111", "27822222222")
    clock.advance(60)
    new = record(store, "27821111111")
    store.sends.update_status(new.recipients[0].id, status("004"))
    log = store.sends.recent_log()
    assert [(e.send_id, e.msisdn) for e in log] == [
        (new.id, "27821111111"),
        (old.id, "27821111111"),
        (old.id, "27822222222"),
    ]
    assert log[0].status == "004" and log[0].slack_user == "U1" and log[0].text == "hello"
    assert [e.send_id for e in store.sends.recent_log("27822222222")] == [old.id]
    assert len(store.sends.recent_log(limit=1)) == 1
    assert store.sends.recent_log("27829999999") == []


def test_status_is_kept_in_the_shared_vocabulary_beside_the_code(store: Storage) -> None:
    recipient = record(store, "27821111111").recipients[0]
    assert (recipient.status, recipient.state, recipient.status_words) == (None, None, None)
    store.sends.update_status(recipient.id, status("003"), at=at(1))
    stored = store.sends.recipient_by_apimsgid("api-27821111111")
    assert stored is not None
    assert (stored.status, stored.state) == ("003", DeliveryState.SENT)
    assert stored.status_words == status("003").words
    store.sends.update_status(recipient.id, status("010"), at=at(2))
    expired = store.sends.recipient_by_apimsgid("api-27821111111")
    assert expired is not None and expired.state == DeliveryState.EXPIRED


def test_queued_codes_move_forward_in_the_gateways_own_order(store: Storage) -> None:
    """011 (scheduled) before 008 before 002 (both queued): one state, the gateway's order."""
    recipient = record(store, "27821111111").recipients[0]
    assert store.sends.update_status(recipient.id, status("011"))
    assert store.sends.update_status(recipient.id, status("008"))
    assert not store.sends.update_status(recipient.id, status("011"))
    assert store.sends.update_status(recipient.id, status("002"))
    assert not store.sends.update_status(recipient.id, status("008"))
    assert not store.sends.update_status(recipient.id, status("001"))  # unknown replaces nothing


def test_a_batch_of_reports_applies_in_order(store: Storage) -> None:
    send = record(store, "27821111111", "27822222222")
    first, second = send.recipients
    reports = [
        StatusUpdate("api-27821111111", None, "27821111111", status("004"), at(5), charge=0.2),
        StatusUpdate("api-27821111111", None, "27821111111", status("003"), at(4)),  # late
        StatusUpdate(None, "cli1", "27822222222", status("003"), at(6)),  # by climsgid
        StatusUpdate("api-nobody", None, "27829999999", status("004"), at(7)),
    ]
    assert store.sends.apply_reports(reports) == [
        StatusApplied(first.id, send.id, True),
        StatusApplied(first.id, send.id, False),
        StatusApplied(second.id, send.id, True),
        None,
    ]
    stored = store.sends.get(send.id)
    assert stored is not None
    assert [(r.status, r.status_at) for r in stored.recipients] == [("004", at(5)), ("003", at(6))]
    assert stored.recipients[0].charge == 0.2


def test_a_report_fills_a_missing_apimsgid(store: Storage) -> None:
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli7")],
    )
    report = StatusUpdate("late-id", "cli7", "27821111111", status("003"), at(1))
    (applied,) = store.sends.apply_reports([report])
    assert applied is not None and applied.recipient_id == send.recipients[0].id
    assert store.sends.recipient_by_apimsgid("late-id") is not None


def test_card_place_without_loading_recipients(store: Storage) -> None:
    send = record(store, "27821111111", channel="C7")
    assert store.sends.card_place(send.id) == CardPlace("C7", posted=False, is_reply=False)
    store.sends.attach_card(send.id, "C8", "1.5")
    assert store.sends.card_place(send.id) == CardPlace("C8", posted=True, is_reply=False)
    reply = record(store, "27821111111", thread_ts="1.5")
    assert store.sends.card_place(reply.id) == CardPlace("C1", posted=False, is_reply=True)
    assert store.sends.card_place(9999) is None


def test_a_card_posted_by_the_outbox_is_attached_once(store: Storage) -> None:
    send = record(store, "27821111111")
    store.sends.set_card_item(send.id, 41)
    store.sends.card_posted(40, "C1", "9.9")  # another item: not this send's card
    assert store.sends.get(send.id).card_ts is None  # type: ignore[union-attr]
    store.sends.card_posted(41, "C2", "10.1")
    store.sends.card_posted(41, "C3", "11.1")  # already attached: kept
    found = store.sends.get(send.id)
    assert found is not None and (found.card_channel, found.card_ts) == ("C2", "10.1")
    assert store.sends.by_card("C2", "10.1") == found


def _unsettled(store: Storage, *recipients: NewRecipient, code: str = OUTCOME_UNKNOWN) -> Send:
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=list(recipients),
    )
    for recipient in send.recipients:
        store.sends.record_result(
            recipient.id,
            apimsgid=None,
            error_code=code,
            error_description="Outcome unknown",
        )
    return send


@pytest.mark.parametrize("code", [OUTCOME_UNKNOWN, UNSETTLED])
def test_a_report_settles_an_unknown_outcome(store: Storage, code: str) -> None:
    send = _unsettled(store, NewRecipient("27821111111", "cli8"), code=code)
    report = StatusUpdate("portal-id", "cli8", "27821111111", status("003"), at(1))
    (applied,) = store.sends.apply_reports([report])
    assert applied is not None and applied.changed
    (recipient,) = store.sends.get(send.id).recipients  # type: ignore[union-attr]
    assert (recipient.error_code, recipient.error_description) == (None, None)
    assert (recipient.apimsgid, recipient.status) == ("portal-id", "003")


def test_a_status_applied_one_at_a_time_settles_an_unknown_outcome_too(store: Storage) -> None:
    send = _unsettled(store, NewRecipient("27821111111", "cli9"), code=UNSETTLED)
    (unsettled,) = send.recipients
    assert store.sends.update_status(unsettled.id, status("004"), apimsgid="portal-id")
    (recipient,) = store.sends.get(send.id).recipients  # type: ignore[union-attr]
    assert (recipient.error_code, recipient.error_description) == (None, None)
    assert (recipient.apimsgid, recipient.status) == ("portal-id", "004")


def test_a_refusal_is_not_settled_by_a_report(store: Storage) -> None:
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli6", error_code="105", error_description="x")],
    )
    store.sends.apply_reports([StatusUpdate(None, "cli6", "27821111111", status("007"), at(1))])
    (recipient,) = store.sends.get(send.id).recipients  # type: ignore[union-attr]
    assert recipient.error_code == "105"


def test_a_report_without_a_number_matches_a_client_id_only_one_recipient_has(
    store: Storage,
) -> None:
    send = _unsettled(
        store,
        NewRecipient("27821111111", "solo1"),
        NewRecipient("27822222222", "shared"),
        NewRecipient("27823333333", "shared"),
    )
    solo, *_ = send.recipients
    reports = [
        StatusUpdate("m1", "solo1", "", status("004"), at(1)),
        StatusUpdate("m2", "shared", "", status("004"), at(1)),  # names none of them alone
    ]
    first, second = store.sends.apply_reports(reports)
    assert first is not None and first.recipient_id == solo.id
    assert second is None
    found = store.sends.find_recipient(climsgid="solo1")
    assert found is not None and found.id == solo.id
    assert store.sends.find_recipient(climsgid="shared") is None
    # A person who quotes the shared client ID means every message sent under it.
    shared = store.sends.recipients_by_climsgid("shared")
    assert [r.msisdn for r in shared] == ["27822222222", "27823333333"]
    assert [r.id for r in store.sends.recipients_by_climsgid("solo1")] == [solo.id]
    assert store.sends.recipients_by_climsgid("nobody") == []


# ---- who sent what: the Cancel rule and the log per channel, settling interrupted sends


def _unanswered(store: Storage, channel: str = "C1", **kwargs: object) -> Send:
    """A send recorded before its gateway call, whose call never answered (no outcome)."""
    return store.sends.record(
        slack_user="U1",
        channel=channel,
        text="cut off",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27821111111", "cli-cut"), NewRecipient("27822222222", "cli-cut")],
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_send_is_found_by_either_message_id(store: Storage) -> None:
    older = record(store, "27821111111")
    send = store.sends.record(
        slack_user="U2",
        channel="C2",
        text="t",
        encoding="gsm7",
        parts=1,
        recipients=[NewRecipient("27823333333", "cli-7", apimsgid="api-7")],
    )
    assert store.sends.by_message_id("api-7") == send
    assert store.sends.by_message_id("cli-7") == send
    assert store.sends.by_message_id("api-27821111111") == older
    assert store.sends.by_message_id("nothing-like-it") is None


def test_the_log_of_one_channel(store: Storage) -> None:
    record(store, "27821111111", channel="C1")
    record(store, "27822222222", channel="CPRIVATE")
    record(store, "27823333333", channel="C1")
    assert [e.msisdn for e in store.sends.recent_log(channel="C1")] == [
        "27823333333",
        "27821111111",
    ]
    assert [e.msisdn for e in store.sends.recent_log("27822222222", channel="C1")] == []
    assert [e.channel for e in store.sends.recent_log(channel="CPRIVATE")] == ["CPRIVATE"]
    assert len(store.sends.recent_log()) == 3


def test_unsettled_lists_sends_a_crash_cut_off(backend: Backend, clock: ManualClock) -> None:
    with backend.open(clock) as crashed:  # the instance that recorded them, gone after this
        cut_off = _unanswered(crashed)
        record(crashed, "27829999999")  # answered
        _unanswered(crashed, thread_ts="1700000000.000100")  # a relayed reply: the relay's
        cancelled = _unanswered(crashed)
        assert crashed.sends.mark_cancelled(cancelled.id)
        half = _unanswered(crashed)
        crashed.sends.record_result(half.recipients[0].id, apimsgid="api-half")
    clock.advance(60)
    with backend.open(clock) as later:
        assert [s.id for s in later.sends.unsettled(at(30))] == [cut_off.id, half.id]
        assert later.sends.unsettled(at(-1)) == []  # created before that: none
        assert later.sends.unsettled(at(30))[0] == later.sends.get(cut_off.id)
        for recipient in cut_off.recipients:
            later.sends.record_result(recipient.id, apimsgid=None, error_description="not sent")
        later.sends.update_status(half.recipients[1].id, status("004"))
        assert later.sends.unsettled(at(30)) == []
