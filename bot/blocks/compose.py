"""The compose modal opened by a bare `/sms`: recipients, text, optional schedule, and a live
preview of the parts and encoding the text will use.

The text input dispatches a block action as the person types (`COMPOSE_TEXT_ACTION`); the handler
answers with `views.update` carrying `compose_view(...)` rebuilt with the current values, so the
preview follows the text. Submission is validated by the handler (errors keyed by block id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.blocks.base import Block, context, escape, plain
from bot.blocks.card import ENCODING_NAMES
from bot.sms.encoding import LIMITS, measure

COMPOSE_CALLBACK = "compose"
RECIPIENTS_BLOCK = "recipients"
TEXT_BLOCK = "text"
WHEN_BLOCK = "when"
PREVIEW_BLOCK = "preview"
VALUE_ACTION = "value"
COMPOSE_TEXT_ACTION = "compose_text"
TEXT_MAX = 2000  # far above any allowed number of parts; Slack needs a bound on the input


@dataclass(frozen=True)
class ComposeValues:
    recipients: str = ""
    text: str = ""
    when: str = ""


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
    channel: str, values: ComposeValues = ComposeValues(), *, max_parts: int, sandbox: bool
) -> dict[str, Any]:
    """The modal. `channel` (where the card goes) travels in private_metadata."""
    blocks: list[Block] = [
        _input(
            RECIPIENTS_BLOCK,
            "To",
            values.recipients,
            "+27821234567, alice",
            hint="Numbers with country code, or contact names, separated by commas.",
        ),
        _input(
            TEXT_BLOCK,
            "Text",
            values.text,
            "Your message",
            multiline=True,
            dispatch=True,
            max_length=TEXT_MAX,
        ),
        {
            "type": "context",
            "block_id": PREVIEW_BLOCK,
            "elements": [{"type": "mrkdwn", "text": preview(values.text, max_parts)}],
        },
        _input(
            WHEN_BLOCK,
            "Send at (optional)",
            values.when,
            "+30m, +1h30m, 14:00 (your time) or 2025-01-31 09:00",
            optional=True,
            hint="Leave empty to send now; at most 7 days ahead.",
        ),
    ]
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


def _input(
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
                return str(action.get("value") or "")
        return ""

    return ComposeValues(value(RECIPIENTS_BLOCK), value(TEXT_BLOCK), value(WHEN_BLOCK))


def read_channel(view: dict[str, Any]) -> str | None:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    channel = data.get("channel") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) and channel else None
