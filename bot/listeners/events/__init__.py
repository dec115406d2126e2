"""Events API: `message` events (thread replies, relayed as SMS by the inbound work).

Bolt acknowledges events itself before the listener runs. The listener hands the whole envelope
(`body`: `event`, `event_id`, ...) to `Services.on_message_event` on the work executor; with no
handler installed the events are ignored. Bolt already drops the bot's own messages.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.listeners.common import services_of


def register(app: App) -> None:
    app.event("message")(handle_message)


def handle_message(body: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    handler = services.on_message_event
    if handler is not None:
        services.executor.submit(handler, body)
