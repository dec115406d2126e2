"""Send (and Cancel) in the bulk preview.

Send acknowledges at once; starting the run (`bulk.start`: now, or at the time chosen in the form)
runs on the work executor, and the modal then says where the progress card is. Only the first
click on a plan's Send does anything (a claim), and the engine starts a plan at most once anyway.
The progress card itself is posted by the outbox when the engine reports the run's first progress.
Cancel discards the plan (`bulk.discard`): nothing of it is ever sent, no card is posted, and a
later Send on the same preview says it was cancelled.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.blocks.base import escape
from bot.blocks.bulk_form import BulkContext, bulk_done_view, read_context
from bot.container import Services
from bot.listeners.bulk.form_submitted import show_view
from bot.listeners.common import may_use, services_of
from bot.listeners.errors import SOMETHING_WENT_WRONG
from bot.usecases import bulk
from bot.usecases.bulk import BulkRefused

log = logging.getLogger(__name__)


def handle_bulk_send(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(send_clicked, services, body)


def handle_bulk_discard(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    ack()
    services = services_of(context)
    services.executor.submit(discard_clicked, services, body)


def discard_clicked(services: Services, body: dict[str, Any]) -> None:
    view = body.get("view") or {}
    user = str((body.get("user") or {}).get("id") or "")
    plan_id = str(((body.get("actions") or [{}])[0]).get("value") or "")
    where = read_context(view) or BulkContext("")
    words = "Nothing was sent. Open the form again with /sms bulk."
    if plan_id:
        try:
            bulk.discard(services, plan_id, user=user)
        except BulkRefused as refused:
            words = f":no_entry: {escape(refused.reason)}"
        except Exception:
            log.exception("discarding bulk plan %s failed", plan_id)
            words = f":warning: {escape(SOMETHING_WENT_WRONG)}"
    show_view(services, str(view.get("id") or ""), bulk_done_view(where, words))


def send_clicked(services: Services, body: dict[str, Any]) -> None:
    view = body.get("view") or {}
    user = str((body.get("user") or {}).get("id") or "")
    plan_id = str(((body.get("actions") or [{}])[0]).get("value") or "")
    where = read_context(view) or BulkContext("")
    if not may_use(services.settings, user) or not plan_id:
        return  # the form was theirs; someone no longer allowed gets nothing started
    if not services.storage.claims.claim(f"bulk-send:{plan_id}"):
        return  # a second click on Send (or Slack redelivering it): the first one answers
    try:
        progress = bulk.start(services, plan_id, user=user, at=where.at)
    except BulkRefused as refused:
        words = f":no_entry: {escape(refused.reason)}"
    except Exception:
        log.exception("starting bulk run %s failed", plan_id)
        words = f":warning: {escape(SOMETHING_WENT_WRONG)}"
    else:
        place = f"<#{progress.channel}>" if progress.channel else "the channel"
        when = "is scheduled" if progress.state == "scheduled" else "has started"
        words = f":outbox_tray: The bulk send {when}: its progress card is in {place}."
    show_view(services, str(view.get("id") or ""), bulk_done_view(where, words))
