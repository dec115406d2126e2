"""What the Slack stand-in keeps of the app's surfaces beyond messages: each person's Home tab
(`views.publish`) and how each workflow step ended (`functions.completeSuccess` /
`functions.completeError`).

The answers follow Slack's: `views.publish` takes a `home` view for a `user_id` and answers with
the view as stored (its `id` and a new `hash`; a stale `hash` is refused with `hash_conflict`);
the two function methods need a `function_execution_id` (`invalid_arguments` without one), and
the success's `outputs` arrive as JSON text in the form, as slack_sdk sends them.
`SlackStandIn` (slack_standin.py) holds one `SurfaceRecords` and routes the methods here; its lock
is held around every call, so these records need none of their own.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

HOME_METHODS = ("views.publish",)
STEP_METHODS = ("functions.completeSuccess", "functions.completeError")


@dataclass(frozen=True)
class StepEnd:
    """How Slack was told a workflow step ended: `outputs` on success, else `error`."""

    execution_id: str
    outputs: dict[str, Any] | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


class SurfaceRecords:
    def __init__(self) -> None:
        self.homes: dict[str, dict[str, Any]] = {}  # user ID -> the Home view shown now
        self.step_ends: list[StepEnd] = []  # in the order Slack was told
        self._ids = itertools.count(1)

    def home_of(self, user: str) -> dict[str, Any] | None:
        return self.homes.get(user)

    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user, view = str(params.get("user_id") or ""), _json(params.get("view"))
        if not user:
            return {"ok": False, "error": "user_not_found"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        current = self.homes.get(user)
        expected = params.get("hash")
        if expected and current is not None and expected != current.get("hash"):
            return {"ok": False, "error": "hash_conflict"}
        number = next(self._ids)
        view_id = current["id"] if current is not None else f"VH{number:07d}"
        stored = {**view, "id": view_id, "hash": f"h{view_id}.{number}"}
        self.homes[user] = stored
        return {"ok": True, "view": stored}

    def end_step(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        execution = str(params.get("function_execution_id") or "")
        if not execution:
            return {"ok": False, "error": "invalid_arguments"}
        if method == "functions.completeSuccess":
            outputs = _json(params.get("outputs"))
            if not isinstance(outputs, dict):
                return {"ok": False, "error": "invalid_arguments"}
            self.step_ends.append(StepEnd(execution, outputs, None))
        else:
            self.step_ends.append(StepEnd(execution, None, str(params.get("error") or "")))
        return {"ok": True}


def _json(value: object) -> object:
    """Form bodies carry objects as JSON text; JSON bodies carry them as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value
