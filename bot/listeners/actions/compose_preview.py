"""The compose modal's live preview: the parts/encoding line follows the text as it is typed.

It acknowledges at once; the views.update runs on the work executor.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk.errors import SlackApiError

from bot.blocks.compose import compose_view, read_channel, read_values
from bot.container import Services
from bot.listeners.common import may_use, services_of, template_names
from bot.slack.errors import error_code

log = logging.getLogger(__name__)


def handle_compose_text(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(refresh_preview, services, body)


def refresh_preview(services: Services, body: dict[str, Any]) -> None:
    """Rebuild the modal with the current values so the parts/encoding line follows the text."""
    view = body.get("view") or {}
    if not view.get("id") or not may_use(services.settings, (body.get("user") or {}).get("id")):
        return  # someone not (or no longer) allowed gets nothing from the app, not even this
    updated = compose_view(
        read_channel(view) or "",
        read_values(view),
        max_parts=services.settings.max_parts,
        sandbox=services.sandboxed,
        templates=template_names(services),
    )
    try:
        # The hash makes Slack refuse an update based on an older state (hash_conflict): a newer
        # keystroke's update then wins, which is what we want.
        services.slack.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as error:
        log.info("compose preview not updated: %s", error_code(error))
