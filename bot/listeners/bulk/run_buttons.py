"""Pause, Resume and Cancel on a bulk progress card.

They acknowledge at once; the engine does the rest on the work executor, and only for the person
who started the run or an admin (it refuses anyone else, which they are told ephemerally). The
card follows through the outbox, as for every change of the run. A click is identified by
(message, action, action_ts): Slack redelivering it does nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks.bulk_card import BULK_CANCEL_ACTION, BULK_PAUSE_ACTION, BULK_RESUME_ACTION
from bot.blocks.errors import refused_message
from bot.container import Services
from bot.domain.access import not_allowed_text
from bot.listeners.actions.cancel_button import click_key
from bot.listeners.common import Replier, RespondReplier, may_use, services_of
from bot.listeners.errors import expected, problem_message
from bot.usecases import bulk
from bot.usecases.bulk import BulkProgress

log = logging.getLogger(__name__)

RunAction = Callable[..., BulkProgress]
ACTIONS: dict[str, RunAction] = {
    BULK_PAUSE_ACTION: bulk.pause,
    BULK_RESUME_ACTION: bulk.resume,
    BULK_CANCEL_ACTION: bulk.cancel,
}


def handle_run_button(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    reply = RespondReplier(body.get("response_url"), services.slack)
    services.executor.submit(run_button_clicked, services, body, reply)


def run_button_clicked(services: Services, body: dict[str, Any], reply: Replier) -> None:
    if not services.storage.claims.claim(click_key(body)):
        return
    user = str((body.get("user") or {}).get("id") or "")
    action = (body.get("actions") or [{}])[0]
    act = ACTIONS.get(str(action.get("action_id") or ""))
    bulk_id = str(action.get("value") or "")
    if not may_use(services.settings, user):
        reply(refused_message(not_allowed_text(user)))
        return
    if act is None or not bulk_id:
        return
    try:
        act(services, bulk_id, user=user)
    except Exception as error:  # BulkRefused (not theirs, already ended …): said to them only
        if not expected(error):
            log.exception("bulk button %s failed", action.get("action_id"))
        reply(problem_message(error))
