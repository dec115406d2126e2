"""Opening the bulk form, from `/sms bulk` or the Home tab's "Bulk send" (not a listener: both
call it with the trigger_id of their request, which expires three seconds after it)."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.bulk_form import BulkContext, bulk_form_view
from bot.blocks.errors import error_message
from bot.container import Services
from bot.listeners.common import Replier
from bot.slack.errors import error_code

log = logging.getLogger(__name__)


def template_names(services: Services) -> list[str]:
    """The saved templates the form offers."""
    return [t.name for t in services.storage.templates.all()]


def template_text(services: Services, name: str) -> str | None:
    """A saved template's text; None when there is no such template."""
    found = services.storage.templates.get(name)
    return found.text if found is not None else None


def open_bulk_form(
    services: Services,
    client: WebClient,
    trigger_id: str | None,
    channel: str,
    reply: Replier,
    user: str,
) -> None:
    """Open the form for `user`; its card will go to `channel`. A refusal from Slack is told to
    the person. Their time zone is looked up meanwhile, for reading "Send at"."""
    services.learn_time_zone(user)
    view = bulk_form_view(
        BulkContext(channel), templates=template_names(services), sandbox=services.sandboxed
    )
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        log.warning("views.open of the bulk form failed: %s", error_code(error))
        reply(error_message(f"Could not open the bulk form ({error_code(error)}). Try again."))
