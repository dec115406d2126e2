"""The bulk form (`/sms bulk`, or Home's "Bulk send"): a modal that takes the recipients (a CSV
file, a group, or pasted numbers), the text (typed, or a saved template), and an optional time;
then, in the same modal, the preview of what would be sent, with Send and Cancel.

Views, in order: `bulk_form_view` (submitted as `BULK_FORM_CALLBACK`), `bulk_preparing_view`
(shown while the file is read and checked), `bulk_preview_view` (Send: `BULK_SEND_ACTION`, Cancel:
`BULK_DISCARD_ACTION`, the plan's ID as the buttons' value), and `bulk_done_view` (a closing word).
Where the card goes, and the chosen time, travel in `private_metadata`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.blocks.base import Block, clip, context, escape, local_time, plain, quote, section
from bot.blocks.card import ENCODING_NAMES
from bot.blocks.compose import template_select, text_input, when_input
from bot.sms.numbers import display_number
from bot.usecases.bulk import BulkPlan

BULK_FORM_CALLBACK = "bulk_form"
BULK_PREVIEW_CALLBACK = "bulk_preview"
BULK_SEND_ACTION = "bulk_send"
BULK_DISCARD_ACTION = "bulk_discard"
FILE_BLOCK = "bulk_file"
GROUP_BLOCK = "bulk_group"
NUMBERS_BLOCK = "bulk_numbers"
TEMPLATE_BLOCK = "bulk_template"
TEXT_BLOCK = "bulk_text"
WHEN_BLOCK = "bulk_when"
VALUE_ACTION = "value"
TEXT_MAX = 2000
NUMBERS_MAX = 3000  # pasted numbers: a few hundred; longer lists belong in a CSV file
SKIPS_LISTED = 10
WHEN_HINT = "Leave empty to send as soon as you press Send; at most 7 days ahead."
PREVIEW_SHOWN = 5  # with the counts and buttons, well inside a modal's 50 blocks
TITLE = "Bulk SMS"


@dataclass(frozen=True)
class BulkFormValues:
    file_ids: tuple[str, ...] = ()
    group: str = ""
    numbers: str = ""
    template: str = ""
    text: str = ""
    when: str = ""


@dataclass(frozen=True)
class BulkContext:
    """What travels in the views' private_metadata."""

    channel: str
    at: datetime | None = None

    def dump(self) -> str:
        at = self.at.isoformat() if self.at else None
        return json.dumps({"channel": self.channel, "at": at})


def read_context(view: dict[str, Any]) -> BulkContext | None:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
        channel = data.get("channel") if isinstance(data, dict) else None
        at = datetime.fromisoformat(data["at"]) if data.get("at") else None
    except (ValueError, TypeError, AttributeError):
        return None
    if not isinstance(channel, str) or not channel:
        return None
    return BulkContext(channel, at if at is None or at.tzinfo else None)


# --------------------------------------------------------------------------- the form


def bulk_form_view(
    context_: BulkContext,
    values: BulkFormValues = BulkFormValues(),
    *,
    templates: Sequence[str] = (),
    problem: str | None = None,
    sandbox: bool,
) -> dict[str, Any]:
    """The form; `templates` are the saved templates' names; `problem` what went wrong with the
    last submission (shown on top, the person's values kept; a file must be chosen again)."""
    blocks: list[Block] = []
    if problem:
        blocks.append(section(f":warning: {escape(problem)}"))
    blocks += [
        section(
            "One SMS per recipient, from *a CSV file*, *a group* or *pasted numbers* (one of "
            "them). You see a preview and the counts before anything is sent."
        ),
        _file_input(),
        text_input(GROUP_BLOCK, "…or a group", values.group, "team-leads", optional=True),
        text_input(
            NUMBERS_BLOCK,
            "…or numbers",
            values.numbers,
            "+27821234567, +27831234567, alice",
            optional=True,
            multiline=True,
            max_length=NUMBERS_MAX,
            hint="Numbers with country code, or contact names, separated by commas or lines.",
        ),
    ]
    if templates:
        hint = "{name} and {first_name} come from contacts, {column} from the CSV file."
        blocks.append(
            template_select(templates, values.template, block_id=TEMPLATE_BLOCK, hint=hint)
        )
    blocks += [
        text_input(
            TEXT_BLOCK,
            "Text" if not templates else "Text (or choose a template)",
            values.text,
            "Hi {name}, your order {order} is ready.",
            optional=bool(templates),
            multiline=True,
            max_length=TEXT_MAX,
            hint="{name} and {first_name} come from contacts; any CSV column works as {column}.",
        ),
        when_input(WHEN_BLOCK, values.when, WHEN_HINT),
    ]
    if sandbox:
        blocks.append(context(":test_tube: Sandbox gateway: no real SMS is sent."))
    return _modal(BULK_FORM_CALLBACK, context_, blocks, submit="Preview")


def _file_input() -> Block:
    return {
        "type": "input",
        "block_id": FILE_BLOCK,
        "label": plain("A CSV file"),
        "optional": True,
        "element": {
            "type": "file_input",
            "action_id": VALUE_ACTION,
            "filetypes": ["csv"],
            "max_files": 1,
        },
        "hint": plain(
            "A header row; the number column is found by its name (number, phone, mobile, to…)."
        ),
    }


def read_form(view: dict[str, Any]) -> BulkFormValues:
    """The form's inputs from a view_submission's state."""
    state = (view.get("state") or {}).get("values") or {}

    def element(block_id: str) -> dict[str, Any]:
        found = (state.get(block_id) or {}).get(VALUE_ACTION)
        return found if isinstance(found, dict) else {}

    files = element(FILE_BLOCK).get("files") or []
    file_ids = tuple(str(f["id"]) for f in files if isinstance(f, dict) and f.get("id"))
    selected = element(TEMPLATE_BLOCK).get("selected_option") or {}
    return BulkFormValues(
        file_ids=file_ids,
        group=str(element(GROUP_BLOCK).get("value") or "").strip(),
        numbers=str(element(NUMBERS_BLOCK).get("value") or "").strip(),
        template=str(selected.get("value") or "") if isinstance(selected, dict) else "",
        text=str(element(TEXT_BLOCK).get("value") or "").strip(),
        when=str(element(WHEN_BLOCK).get("value") or "").strip(),
    )


def pasted_numbers(raw: str) -> tuple[str, ...]:
    """Pasted recipients: separated by commas, semicolons or lines."""
    items = raw.replace(";", ",").replace("\n", ",").split(",")
    return tuple(item.strip() for item in items if item.strip())


# --------------------------------------------------------------------------- while it is read


def bulk_preparing_view(context_: BulkContext, what: str) -> dict[str, Any]:
    blocks = [section(f":hourglass_flowing_sand: Reading {escape(what)} and checking every row…")]
    return _modal(BULK_PREVIEW_CALLBACK, context_, blocks)


# --------------------------------------------------------------------------- the preview


def bulk_preview_view(plan: BulkPlan, context_: BulkContext, *, sandbox: bool) -> dict[str, Any]:
    """The counts, the first messages exactly as they will be sent, what is skipped and why,
    and Send (with the count) and Cancel."""
    blocks: list[Block] = [section(counts_words(plan)), section(size_words(plan))]
    if context_.at is not None:
        blocks.append(section(f":clock3: To be sent {local_time(context_.at)}."))
    if plan.preview:
        shown = len(plan.preview[:PREVIEW_SHOWN])
        blocks.append(section(f"*The first {shown} as they will be sent:*"))
    for row in plan.preview[:PREVIEW_SHOWN]:
        heading = f"Row {row.row} · *{escape(display_number(row.to))}*"
        blocks.append(section(f"{heading}\n{quote(clip(row.text, 600))}"))
    if plan.skipped:
        blocks.append(context(skipped_words(plan)))
    blocks.append(_preview_actions(plan))
    if sandbox:
        blocks.append(context(":test_tube: Sandbox gateway: no real SMS is sent."))
    return _modal(BULK_PREVIEW_CALLBACK, context_, blocks)


def counts_words(plan: BulkPlan) -> str:
    rows = f"*{plan.rows} row{'s' if plan.rows != 1 else ''}*"
    parts = [f"*{plan.valid} to send*"]
    for count, words in (
        (plan.invalid, "invalid"),
        (plan.duplicates, "duplicate" if plan.duplicates == 1 else "duplicates"),
        (plan.opted_out, "opted out"),
    ):
        if count:
            parts.append(f"{count} {words}")
    return f"{rows}: " + " · ".join(parts)


def size_words(plan: BulkPlan) -> str:
    parts = f"{plan.parts} part{'s' if plan.parts != 1 else ''}"
    encoding = ENCODING_NAMES.get(plan.encoding, plan.encoding)
    words = f"The longest message uses {parts} ({escape(encoding)})"
    if plan.credits_estimate is None:
        return words + "; the gateway gives no price in advance."
    amount = f"{plan.credits_estimate:,.2f}".rstrip("0").rstrip(".")
    return words + f"; about *{amount} credits* in all."


def skipped_words(plan: BulkPlan) -> str:
    listed = [
        f"row {s.row} ({escape(display_number(s.to)) if s.to else 'empty'}): {escape(s.reason)}"
        for s in plan.skipped[:SKIPS_LISTED]
    ]
    more = len(plan.skipped) - SKIPS_LISTED
    tail = f"; and {more} more (all listed in the result file)" if more > 0 else ""
    return clip("Skipped, never sent: " + "; ".join(listed) + tail, 2900)


def _preview_actions(plan: BulkPlan) -> Block:
    cancel = {
        "type": "button",
        "action_id": BULK_DISCARD_ACTION,
        "text": plain("Cancel"),
        "value": plan.plan_id,
    }
    if plan.valid <= 0:
        return {"type": "actions", "block_id": "bulk-preview", "elements": [cancel]}
    count = f"{plan.valid} SMS"
    send = {
        "type": "button",
        "action_id": BULK_SEND_ACTION,
        "text": plain(f"Send {count}"),
        "style": "primary",
        "value": plan.plan_id,
        "confirm": {
            "title": plain("Send them?"),
            "text": {"type": "mrkdwn", "text": f"{count} will be sent; this cannot be undone."},
            "confirm": plain("Send"),
            "deny": plain("Not yet"),
        },
    }
    return {"type": "actions", "block_id": "bulk-preview", "elements": [send, cancel]}


# --------------------------------------------------------------------------- the end


def bulk_done_view(context_: BulkContext, words: str) -> dict[str, Any]:
    """A closing word in the modal (Send pressed, or Cancel, or a problem)."""
    return _modal(BULK_PREVIEW_CALLBACK, context_, [section(words)])


def _modal(
    callback: str, context_: BulkContext, blocks: list[Block], submit: str | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback,
        "private_metadata": context_.dump(),
        "title": plain(TITLE, 24),
        "close": plain("Close" if submit is None else "Cancel", 24),
        "blocks": blocks[:50],
    }
    if submit:
        view["submit"] = plain(submit, 24)
    return view
