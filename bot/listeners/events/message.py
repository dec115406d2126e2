"""A `message` event: perhaps a thread reply to relay as SMS.

Bolt acknowledges events itself before the listener runs. The listener hands the whole envelope
(`body`: `event`, `event_id`, ...) to the inbound side's relay on the work executor, which decides
whether it is a reply in a conversation thread. Bolt already drops the bot's own messages.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from bot.listeners.common import services_of


def handle_message(body: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    services.executor.submit(services.on_message_event, body)
