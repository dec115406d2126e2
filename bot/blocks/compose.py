"""The compose modal opened by a bare `/sms`: recipients, text, optional schedule, and a live
preview of the parts and encoding the text will use.

The text input dispatches a block action as the person types (`COMPOSE_TEXT_ACTION`); the handler
answers with `views.update` carrying `compose_view(...)` rebuilt with the current values, so the
preview follows the text. Submission is validated by the handler (errors keyed by block id).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks.base import Block, context, escape, plain
from bot.blocks.card import ENCODING_NAMES
from bot.sms.encoding import LIMITS, measure

COMPOSE_CALLBACK = "compose"
RECIPIENTS_BLOCK = "recipients"
TEXT_BLOCK = "text"
WHEN_BLOCK = "when"
TEMPLATE_BLOCK = "template"
TEMPLATES_SHOWN = 100  # Slack's limit on a select's options
PREVIEW_BLOCK = "preview"
VALUE_ACTION = "value"
COMPOSE_TEXT_ACTION = "compose_text"
TEXT_MAX = 2000  # far above any allowed number of parts; Slack needs a bound on the input


@dataclass(frozen=True)
class ComposeValues:
    recipients: str = ""
    text: str = ""
    when: str = ""
    template: str = ""  # a saved template's name, used instead of the text


def preview(text: str, max_parts: int) -> str:
    """'57 characters · 1 part · GSM 7-bit', with a warning when over the limit."""
    if not text:
        return "Type the text to see how many SMS parts it uses."
    encoding, length, parts = measure(text)
    unit = "characters" if encoding == "gsm7" else "UCS-2 units"
    limits = LIMITS[encoding]
    per = limits.single if parts <= 1 else limits.multi
    words = (
        f"{length} {unit} · {parts} part{'s' if parts != 1 else ''} "
        f"({per} per part) · {ENCODING_NAMES[encoding]}"
    )
    if parts > max_parts:
        words = f":warning: {words} — over the limit of {max_parts} parts; shorten it"
    elif encoding == "ucs2":
        words += " (a character outside the GSM alphabet makes the whole text Unicode)"
    return escape(words)


def compose_view(
    channel: str,
    values: ComposeValues = ComposeValues(),
    *,
    max_parts: int,
    sandbox: bool,
    templates: Sequence[str] = (),
) -> dict[str, Any]:
    """The modal. `channel` (where the card goes) travels in private_metadata. With saved
    `templates` (names) a select offers them; then the text is optional (one or the other)."""
    blocks: list[Block] = [
        text_input(
            RECIPIENTS_BLOCK,
            "To",
            values.recipients,
            "+27821234567, alice",
            hint="Numbers with country code, or contact names, separated by commas.",
        ),
        text_input(
            TEXT_BLOCK,
            "Text",
            values.text,
            "Your message",
            multiline=True,
            dispatch=True,
            max_length=TEXT_MAX,
            optional=bool(templates),
        ),
        {
            "type": "context",
            "block_id": PREVIEW_BLOCK,
            "elements": [{"type": "mrkdwn", "text": preview(values.text, max_parts)}],
        },
        when_input(WHEN_BLOCK, values.when, "Leave empty to send now; at most 7 days ahead."),
    ]
    if templates:
        blocks.insert(2, template_select(templates, values.template))
    if sandbox:
        blocks.append(context(":test_tube: Sandbox gateway: no real SMS is sent."))
    return {
        "type": "modal",
        "callback_id": COMPOSE_CALLBACK,
        "private_metadata": json.dumps({"channel": channel}),
        "title": plain("Send an SMS", 24),
        "submit": plain("Send", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def template_select(
    names: Sequence[str],
    chosen: str,
    *,
    block_id: str = TEMPLATE_BLOCK,
    hint: str = "{name} and {first_name} are filled in from each recipient's contact.",
) -> Block:
    """Saved templates to send instead of the text, filled in per recipient when sent (the bulk
    form offers them too, with its own block and hint)."""
    options = [{"text": plain(name, 75), "value": name[:150]} for name in names[:TEMPLATES_SHOWN]]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": VALUE_ACTION,
        "placeholder": plain("Pick a template instead of typing"),
        "options": options,
    }
    initial = next((o for o in options if o["value"] == chosen), None)
    if initial is not None:
        element["initial_option"] = initial
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain("Or a template"),
        "element": element,
        "optional": True,
        "hint": plain(hint),
    }


def when_input(block_id: str, value: str, hint: str) -> Block:
    """The optional time to send at (the compose and bulk forms)."""
    placeholder = "+30m, +1h30m, 14:00 (your time) or 2025-01-31 09:00"
    return text_input(block_id, "Send at (optional)", value, placeholder, optional=True, hint=hint)


def text_input(
    block_id: str,
    label: str,
    value: str,
    placeholder: str,
    *,
    multiline: bool = False,
    dispatch: bool = False,
    optional: bool = False,
    hint: str | None = None,
    max_length: int | None = None,
) -> Block:
    """A plain-text input block (the bulk form's too); `dispatch`: tells the app per keystroke."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": COMPOSE_TEXT_ACTION if dispatch else VALUE_ACTION,
        "multiline": multiline,
        "placeholder": plain(placeholder),
    }
    if value:
        element["initial_value"] = value
    if max_length:
        element["max_length"] = max_length
    if dispatch:
        element["dispatch_action_config"] = {"trigger_actions_on": ["on_character_entered"]}
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if dispatch:
        block["dispatch_action"] = True
    if hint:
        block["hint"] = plain(hint)
    return block


def read_values(view: dict[str, Any]) -> ComposeValues:
    """The current inputs from a view's state (view_submission or block_actions payload)."""
    state = (view.get("state") or {}).get("values") or {}

    def value(block_id: str) -> str:
        actions = state.get(block_id) or {}
        for action in actions.values():
            if isinstance(action, dict):
                chosen = action.get("selected_option")
                if isinstance(chosen, dict):  # the template select
                    return str(chosen.get("value") or "")
                return str(action.get("value") or "")
        return ""

    return ComposeValues(
        value(RECIPIENTS_BLOCK), value(TEXT_BLOCK), value(WHEN_BLOCK), value(TEMPLATE_BLOCK)
    )


def read_channel(view: dict[str, Any]) -> str | None:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    channel = data.get("channel") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) and channel else None
