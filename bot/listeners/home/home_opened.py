"""`app_home_opened`: the person opened a tab of the app; the Home tab is published for them.

Bolt acknowledges events before the listener runs; rendering reads storage and asks the gateway
for the balance, so it runs on the work executor. The Messages tab opening needs nothing.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from bot.listeners.common import services_of


def handle_home_opened(event: dict[str, Any], context: BoltContext) -> None:
    user = event.get("user")
    if event.get("tab", "home") != "home" or not isinstance(user, str) or not user:
        return
    services = services_of(context)
    services.executor.submit(services.home.opened, user)
