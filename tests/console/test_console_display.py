"""The console's display of modals: an update the app makes while its answer to a submission is
still on the way is shown after that answer, never lost (a bulk preview once vanished so)."""

from __future__ import annotations

import io
from typing import Any

from bot.blocks.bulk_form import BulkContext, bulk_form_view, bulk_preparing_view
from bot.console.display import Display, Form
from bot.console.render import Style
from bot.console.slack_standin import Activity, Call
from bot.console.terminal import Terminal

VIEW_ID = "V0FORM"


def a_display() -> tuple[Display, io.StringIO]:
    out = io.StringIO()
    return Display(Terminal(io.StringIO(), out, interactive=False), Style()), out


def view_updated(view: dict[str, Any]) -> Activity:
    call = Call("views.update", {"view_id": VIEW_ID}, None, "/api/views.update")
    return Activity(kind="view_update", call=call, ok=True, answer={"ok": True}, view=view)


def preview(words: str) -> dict[str, Any]:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": words}}
    return {
        "id": VIEW_ID,
        "type": "modal",
        "title": {"type": "plain_text", "text": "Bulk SMS"},
        "blocks": [section],
    }


def test_an_update_racing_ahead_of_the_submissions_answer_is_shown_after_it() -> None:
    display, out = a_display()
    where = BulkContext("C0SMS")
    form = Form({**bulk_form_view(where, sandbox=True), "id": VIEW_ID})
    display.form = form
    display.on_activity(view_updated(preview("3 rows: 2 to send")))  # before the answer
    assert out.getvalue() == ""
    display.form_answered(form, {**bulk_preparing_view(where, "the file"), "id": VIEW_ID})
    shown = out.getvalue()
    assert "Reading the file" in shown and "3 rows: 2 to send" in shown
    assert shown.index("Reading the file") < shown.index("3 rows: 2 to send")
    assert display.views.empty()


def test_an_update_after_the_answer_is_shown_at_once() -> None:
    display, out = a_display()
    where = BulkContext("C0SMS")
    form = Form({**bulk_form_view(where, sandbox=True), "id": VIEW_ID})
    display.form = form
    display.form_answered(form, {**bulk_preparing_view(where, "the file"), "id": VIEW_ID})
    display.on_activity(view_updated(preview("3 rows: 2 to send")))
    assert out.getvalue().index("Reading the file") < out.getvalue().index("3 rows: 2 to send")


def test_the_form_again_after_a_raced_update_is_asked_again() -> None:
    """A problem found after the acknowledgement comes back as the form (it has fields): it is
    handed to the session to fill in, not printed."""
    display, _ = a_display()
    where = BulkContext("C0SMS")
    form = Form({**bulk_form_view(where, sandbox=True), "id": VIEW_ID})
    display.form = form
    again = {**bulk_form_view(where, problem="The file is empty.", sandbox=True), "id": VIEW_ID}
    display.on_activity(view_updated(again))
    display.form_answered(form, {**bulk_preparing_view(where, "the file"), "id": VIEW_ID})
    _, asked = display.views.get_nowait()
    assert asked["blocks"] == again["blocks"]
