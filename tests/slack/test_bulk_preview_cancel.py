"""Cancel in the bulk preview, over real HTTP: the plan is discarded (never started, no card),
a later Send on the same preview says it was cancelled, and the plan is pruned with other old
rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.domain.bulk import RunState
from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for
from tests.slack.bulk_steps import button, form_state, opened_form, press_in_view, preview, submit


def _modal_saying(app: RunningApp, words: str) -> str:
    def said() -> str | None:
        for call in reversed(app.fake.calls_to("views.update")):
            text = json.dumps(call.params["view"], ensure_ascii=False)
            if words in text:
                return text
        return None

    return wait_for(said, 20, f"the modal saying {words!r}")


def test_cancel_in_the_preview_discards_the_plan_and_a_later_send_says_so(
    app: RunningApp,
) -> None:
    form = opened_form(app)
    submit(app, form, form_state(numbers="+27821234500, +27821234501"))
    shown = preview(app)
    plan_id = button(shown, "bulk_send")["value"]
    assert press_in_view(app, shown, "bulk_discard") == 200
    _modal_saying(app, "Nothing was sent")
    run = app.storage.bulks.get(plan_id)
    assert run is not None and run.state is RunState.DISCARDED  # not left "planned"

    assert press_in_view(app, shown, "bulk_send") == 200  # the preview's Send, pressed late
    said = _modal_saying(app, "cancelled in its preview")
    assert "nothing was sent" in said
    app.wait_idle()
    assert app.storage.bulks.get(plan_id).state is RunState.DISCARDED  # type: ignore[union-attr]
    assert not app.sandbox.messages()
    assert not app.fake.calls_to("chat.postMessage")  # no progress card, ever
    assert not list(app.fake.channel_messages(CHANNEL))

    app.inbound.processor.prune(datetime.now(UTC) + timedelta(days=8))
    assert app.storage.bulks.get(plan_id) is None  # forgotten like other old rows
