"""The bulk builders are pure: plans and progress in, Slack JSON out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.bulk_card import (
    BAR_CELLS,
    BULK_CANCEL_ACTION,
    BULK_PAUSE_ACTION,
    BULK_RESUME_ACTION,
    bar,
    handled,
    progress_card,
    result_file,
)
from bot.blocks.bulk_form import (
    BULK_SEND_ACTION,
    BulkContext,
    bulk_form_view,
    bulk_preview_view,
    pasted_numbers,
    read_context,
    read_form,
)
from bot.usecases.bulk import BulkPlan, BulkProgress, BulkRowPreview, BulkSkip


def progress(state: str = "running", **counts: int) -> BulkProgress:
    values = dict(total=50, sent=20, delivered=15, failed=1, skipped=3, held=0, pending=26)
    values.update(counts)
    return BulkProgress(
        bulk_id="b1", state=state, starter="U0ALICE", channel="C1", card_ts=None, at=None, **values
    )


def plan(valid: int = 45, preview_rows: int = 8) -> BulkPlan:
    return BulkPlan(
        plan_id="p1",
        rows=50,
        valid=valid,
        invalid=2,
        duplicates=1,
        opted_out=2,
        parts=2,
        encoding="gsm7",
        credits_estimate=90.0,
        preview=tuple(
            BulkRowPreview(i, "27821234567", f"Hi <b> {i}") for i in range(1, 1 + preview_rows)
        ),
        skipped=(BulkSkip(7, "27830000000", "opted out"),),
        text="Hi {name}",
        starter="U0ALICE",
        channel="C1",
    )


def _actions(blocks: list) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_a_running_card_has_bar_tallies_pause_and_cancel() -> None:
    card = progress_card(progress(), sandbox=True)
    text = json.dumps(card.blocks, ensure_ascii=False)
    assert "<@U0ALICE>" in text and "*20* sent" in text and "*3* skipped" in text
    assert _actions(card.blocks) == [BULK_PAUSE_ACTION, BULK_CANCEL_ACTION]
    assert "Sandbox" in text and "20 sent" in card.text


def test_a_paused_card_offers_resume_and_a_finished_one_nothing() -> None:
    assert _actions(progress_card(progress("paused"), sandbox=False).blocks) == [
        BULK_RESUME_ACTION,
        BULK_CANCEL_ACTION,
    ]
    done = progress_card(progress("done", pending=0), sandbox=False)
    assert _actions(done.blocks) == [] and "thread" in json.dumps(done.blocks)


def test_the_scheduled_card_says_when() -> None:
    at = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    card = progress_card(
        BulkProgress("b", "scheduled", 3, 0, 0, 0, 0, 0, 3, "U1", "C1", None, at), sandbox=False
    )
    assert f"<!date^{int(at.timestamp())}^" in json.dumps(card.blocks)


@given(
    total=st.integers(0, 10_000),
    pending=st.integers(0, 10_000),
    held=st.integers(0, 10_000),
)
def test_the_bar_never_overflows(total: int, pending: int, held: int) -> None:
    shown = progress(total=total, pending=pending, held=held)
    assert 0 <= handled(shown) <= total
    cells = bar(shown).split("`")[1]
    assert len(cells) == BAR_CELLS


def test_the_result_file_name_is_safe_and_unique_per_run() -> None:
    assert result_file(progress()).filename == "bulk-b1-result.csv"
    odd = BulkProgress("../x y", "done", 0, 0, 0, 0, 0, 0, 0, "U", "C", "1.1", None)
    assert result_file(odd).filename == "bulk-xy-result.csv"


def test_the_preview_shows_counts_the_first_messages_escaped_and_send() -> None:
    view = bulk_preview_view(plan(), BulkContext("C1"), sandbox=False)
    text = json.dumps(view, ensure_ascii=False)
    assert "*50 rows*" in text and "*45 to send*" in text and "2 opted out" in text
    assert "90 credits" in text and "2 parts" in text
    assert "&lt;b&gt;" in text and "<b>" not in text  # a row's text is shown, never run
    assert text.count("Row ") == 5  # the first few, well inside a modal's 50 blocks
    send = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert send["action_id"] == BULK_SEND_ACTION and send["value"] == "p1"
    assert "Send 45 SMS" in json.dumps(send)


def test_a_preview_with_nothing_to_send_has_no_send_button() -> None:
    view = bulk_preview_view(plan(valid=0), BulkContext("C1"), sandbox=False)
    assert BULK_SEND_ACTION not in json.dumps(view)


def test_the_context_travels_in_private_metadata() -> None:
    at = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    view = bulk_form_view(BulkContext("C9", at), sandbox=False)
    assert read_context(view) == BulkContext("C9", at)
    assert read_context({"private_metadata": "not json"}) is None


def test_the_form_reads_the_file_and_the_typed_values() -> None:
    state = {
        "values": {
            "bulk_file": {
                "value": {"type": "file_input", "files": [{"id": "F1", "name": "a.csv"}]}
            },
            "bulk_text": {"value": {"type": "plain_text_input", "value": " Hi {name} "}},
            "bulk_template": {"value": {"selected_option": {"value": "welcome"}}},
        }
    }
    values = read_form({"state": state})
    assert values.file_ids == ("F1",) and values.text == "Hi {name}"
    assert values.template == "welcome" and values.numbers == ""


def test_pasted_numbers_split_on_commas_semicolons_and_lines() -> None:
    assert pasted_numbers("+2782, alice;\n\n+2783 ,") == ("+2782", "alice", "+2783")


def test_the_form_offers_templates_when_there_are_some() -> None:
    view = bulk_form_view(BulkContext("C1"), templates=["welcome"], sandbox=False)
    assert "static_select" in json.dumps(view) and "welcome" in json.dumps(view)
    assert "static_select" not in json.dumps(bulk_form_view(BulkContext("C1"), sandbox=False))
