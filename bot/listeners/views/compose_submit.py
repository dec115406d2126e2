"""View submissions: the compose modal's Send.

The inputs are checked before the acknowledgement, because that is the only moment the modal can
still show errors next to its fields (`response_action="errors"`); the checks need no gateway call.
Then the modal closes and the send runs on the work executor, keyed by the view's ID so a modal
submitted twice sends once.
"""

from __future__ import annotations

import logging
from datetime import tzinfo
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks.compose import (
    RECIPIENTS_BLOCK,
    TEMPLATE_BLOCK,
    TEXT_BLOCK,
    WHEN_BLOCK,
    read_channel,
    read_values,
)
from bot.container import Services
from bot.domain.templates import TemplateError
from bot.listeners.common import EphemeralReplier, send_and_report, services_of
from bot.listeners.errors import template_problem
from bot.usecases.sending import Refusal, SendIntent, prepare
from bot.when import parse_when, zone_matters

log = logging.getLogger(__name__)

FIELD_BLOCKS = {
    "recipients": RECIPIENTS_BLOCK,
    "text": TEXT_BLOCK,
    "when": WHEN_BLOCK,
    "template": TEMPLATE_BLOCK,
}
ERROR_MAX = 150  # Slack shows short field errors; longer ones are cut
ZONE_WAIT = 1.5  # seconds for Slack to tell the user's time zone, within the 3 s to acknowledge
ZONE_LATE = "Slack did not say your time zone in time: try again, or write +2h or 14:00+02:00."


def handle_compose_submit(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    view = body.get("view") or {}
    user = str((body.get("user") or {}).get("id") or "")
    channel = read_channel(view) or user  # no channel known: the card goes to their DM
    values = read_values(view)
    try:
        zone = _zone(services, user) if zone_matters(values.when) else None
        at = parse_when(values.when, services.clock(), zone) if values.when.strip() else None
    except (ValueError, TimeoutError) as error:
        ack(response_action="errors", errors={WHEN_BLOCK: _short(str(error) or ZONE_LATE)})
        return
    template = values.template.strip() or None
    if bool(template) == bool(values.text.strip()):
        words = "Type a text or pick a template" + (", not both." if template else ".")
        ack(response_action="errors", errors={TEXT_BLOCK: words})
        return
    intent = SendIntent(
        user=user,
        channel=channel,
        to=tuple(item.strip() for item in values.recipients.split(",") if item.strip()),
        text=values.text,
        intent_key=f"view:{view.get('id') or body.get('trigger_id')}",
        at=at,
        template=template,
    )
    try:
        prepared = prepare(services, intent)
    except Refusal as refusal:
        block = FIELD_BLOCKS.get(refusal.field, RECIPIENTS_BLOCK)
        ack(response_action="errors", errors={block: _short(refusal.reason)})
        return
    except TemplateError as error:  # a field nothing fills in: shown beside the select
        ack(response_action="errors", errors={TEMPLATE_BLOCK: _short(template_problem(error))})
        return
    ack()
    reply = EphemeralReplier(services.slack, services.pace, channel, user)
    services.executor.submit(send_and_report, services, prepared, reply)


def _zone(services: Services, user: str) -> tzinfo | None:
    """The user's time zone, learnt when the form opened (else asked now, within a bound: the
    acknowledgement cannot wait); TimeoutError when Slack does not say in time."""
    return services.quick.submit(services.time_zone, user).result(timeout=ZONE_WAIT)


def _short(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
