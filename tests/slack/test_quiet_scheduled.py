"""SMS_QUIET_HOURS holds scheduled sends too: `/sms send --at` into the quiet hours where the
number is goes out when they end there (the gateway is asked to schedule it for then)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.testing.app import RunningApp
from bot.testing.waiting import wait_for

JOBURG = ZoneInfo("Africa/Johannesburg")
NUMBER = "27821234567"
CARD_CALLS = ("chat.postMessage", "chat.update")


def _window_around(at: datetime) -> tuple[str, datetime]:
    """A quiet window from an hour before `at` to an hour after it (Johannesburg time), and
    when it ends, in UTC."""
    local = at.astimezone(JOBURG)
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    window = f"{start:%H:%M}-{end:%H:%M}"
    return window, end.replace(second=0, microsecond=0).astimezone(UTC)


def test_a_scheduled_send_in_quiet_hours_goes_when_they_end(make_app: Callable) -> None:
    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    window, ends = _window_around(at)
    app: RunningApp = make_app(env={"SMS_QUIET_HOURS": window})
    app.command(f"send --at {at:%Y-%m-%dT%H:%MZ} {NUMBER} see you")
    [message] = wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    [send] = [s for s in app.storage.sends.recent_log(msisdn=NUMBER)]
    assert send.scheduled_at == ends
    assert int(message.params["scheduled_time"]) == int(ends.timestamp())  # Unix seconds
    # The card says why the send is not at the time asked for.
    moved = f"moved from <!date^{int(at.timestamp())}^"

    def cards() -> list[str]:
        shown = [json.dumps(c.params) for m in CARD_CALLS for c in app.fake.calls_to(m)]
        return [card for card in shown if moved in card]

    assert "by quiet hours" in wait_for(cards, 10, "the card saying why")[-1]


def test_outside_quiet_hours_the_time_is_kept(make_app: Callable) -> None:
    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    window, _ = _window_around(at + timedelta(hours=6))
    app: RunningApp = make_app(env={"SMS_QUIET_HOURS": window})
    app.command(f"send --at {at:%Y-%m-%dT%H:%MZ} {NUMBER} see you")
    wait_for(lambda: app.sandbox.messages(), 10, "the SMS")
    [send] = app.storage.sends.recent_log(msisdn=NUMBER)
    assert send.scheduled_at == at


def test_quiet_hours_that_would_move_a_send_past_seven_days_refuse_it_before_any_card(
    make_app: Callable,
) -> None:
    """A time the person may type (within 7 days) that quiet hours push past the gateway's 7
    days is refused up front, in words about the quiet hours, not posted as a failed card
    saying the person's own time was more than 7 days ahead."""
    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=7, minutes=-30)
    window, _ = _window_around(at)
    app: RunningApp = make_app(env={"SMS_QUIET_HOURS": window})
    _, name = app.command(f"send --at {at:%Y-%m-%dT%H:%MZ} {NUMBER} see you")
    reply = app.wait_response(name)
    assert "SMS_QUIET_HOURS" in reply["text"] and "7 days" in reply["text"]
    assert app.fake.calls_to("chat.postMessage") == [] and app.sandbox.messages() == []
