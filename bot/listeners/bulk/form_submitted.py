"""The bulk form's submission ("Preview").

What needs no file is checked before the acknowledgement, so the modal can still show it next to
its field (no source, two sources, no text, a bad time, a person not allowed). Then the modal is
replaced by "Reading…" and the rest runs on the work executor: the CSV is downloaded from Slack,
the engine checks every row and stores the plan (`bulk.prepare`), and the modal is updated with
the preview and Send — or with the form again, the problem said on top in plain words.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk.errors import SlackApiError

from bot.blocks.bulk_form import (
    FILE_BLOCK,
    TEXT_BLOCK,
    WHEN_BLOCK,
    BulkContext,
    BulkFormValues,
    bulk_form_view,
    bulk_preparing_view,
    bulk_preview_view,
    pasted_numbers,
    read_context,
    read_form,
)
from bot.container import Services
from bot.domain.access import not_allowed_text
from bot.listeners.bulk.opening import template_names, template_text
from bot.listeners.common import may_use, services_of
from bot.listeners.errors import SOMETHING_WENT_WRONG
from bot.listeners.views.compose_submit import ZONE_LATE, ZONE_WAIT
from bot.slack.errors import error_code
from bot.slack.files import FileUnavailable, download
from bot.usecases import bulk
from bot.usecases.bulk import BulkRefused, BulkSource
from bot.when import parse_when, zone_matters

log = logging.getLogger(__name__)

ERROR_MAX = 150  # Slack shows short field errors


def handle_bulk_submit(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    services = services_of(context)
    view = body.get("view") or {}
    user = str((body.get("user") or {}).get("id") or "")
    values = read_form(view)
    errors = _field_errors(services, user, values)
    try:
        at = _when(services, user, values.when)
    except (ValueError, TimeoutError) as error:
        errors = errors or {WHEN_BLOCK: str(error) or ZONE_LATE}
    if errors:
        ack(response_action="errors", errors={k: _short(v) for k, v in errors.items()})
        return
    where = read_context(view) or BulkContext(services.settings.sms_channel or user)
    where = dataclasses.replace(where, at=at)
    ack(response_action="update", view=bulk_preparing_view(where, _what(values)))
    services.executor.submit(show_preview, services, str(view.get("id") or ""), user, where, values)


def _field_errors(services: Services, user: str, values: BulkFormValues) -> dict[str, str]:
    if not may_use(services.settings, user):
        return {FILE_BLOCK: not_allowed_text(user)}
    given = [bool(values.file_ids), bool(values.group), bool(values.numbers)]
    if not any(given):
        return {FILE_BLOCK: "Choose a CSV file, or name a group, or paste numbers."}
    if sum(given) > 1:
        return {FILE_BLOCK: "Use one of them: a CSV file, a group, or pasted numbers."}
    if not values.text and not values.template:
        return {TEXT_BLOCK: "Type the text (or choose a template)."}
    return {}


def _when(services: Services, user: str, when: str) -> datetime | None:
    """The form's time, read in the person's own time zone as every "Send at" is (learnt when
    the form opened; asked within a bound otherwise: the acknowledgement cannot wait)."""
    if not when:
        return None
    zone = None
    if zone_matters(when):
        zone = services.quick.submit(services.time_zone, user).result(timeout=ZONE_WAIT)
    return parse_when(when, services.clock(), zone)


def _what(values: BulkFormValues) -> str:
    if values.file_ids:
        return "the file"
    return f"the group {values.group}" if values.group else "the numbers"


def show_preview(
    services: Services, view_id: str, user: str, where: BulkContext, values: BulkFormValues
) -> None:
    """Read the source, let the engine check and store the plan, and show the preview."""
    try:
        source = _source(services, values)
        plan = bulk.prepare(
            services, source, _text(services, values), starter=user, channel=where.channel
        )
    except (FileUnavailable, BulkRefused) as problem:
        show_view(services, view_id, _form_again(services, where, values, problem.reason))
        return
    except Exception:
        log.exception("preparing a bulk send failed")
        show_view(services, view_id, _form_again(services, where, values, SOMETHING_WENT_WRONG))
        return
    show_view(services, view_id, bulk_preview_view(plan, where, sandbox=services.sandboxed))


def _source(services: Services, values: BulkFormValues) -> BulkSource:
    if values.file_ids:
        shared = download(services.slack, values.file_ids[0])
        return BulkSource(csv_bytes=shared.content)
    if values.group:
        return BulkSource(group=values.group)
    return BulkSource(numbers=pasted_numbers(values.numbers))


def _text(services: Services, values: BulkFormValues) -> str:
    """The typed text, or the chosen template's (the typed text wins when both are given)."""
    if values.text or not values.template:
        return values.text
    text = template_text(services, values.template)
    if text is None:
        raise BulkRefused(f"There is no template named {values.template} any more.")
    return text


def _form_again(
    services: Services, where: BulkContext, values: BulkFormValues, problem: str
) -> dict[str, Any]:
    kept = dataclasses.replace(values, file_ids=())  # a file input cannot be filled in again
    return bulk_form_view(
        dataclasses.replace(where, at=None),
        kept,
        templates=template_names(services),
        problem=problem,
        sandbox=services.sandboxed,
    )


def show_view(services: Services, view_id: str, view: dict[str, Any]) -> None:
    try:
        services.slack.views_update(view_id=view_id, view=view)
    except SlackApiError as error:  # e.g. the person closed the modal meanwhile
        log.info("bulk modal not updated: %s", error_code(error))
    except Exception as error:
        log.warning("bulk modal not updated: %s", error)


def _short(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
