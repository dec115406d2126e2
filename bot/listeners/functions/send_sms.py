"""The `function_executed` event of the "Send an SMS" workflow step.

The listener acknowledges at once and runs the step on the work executor: the gateway call may
take seconds, and Slack redelivers events it does not see acknowledged. The step is finished with
Bolt's `complete(outputs=...)` or `fail(error=...)`, which call functions.completeSuccess /
completeError with the execution's own token (Bolt attaches the event's `bot_access_token`).
A redelivered execution does nothing: the first delivery finishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, Complete, Fail

from bot.container import Services
from bot.listeners.common import services_of
from bot.listeners.errors import SOMETHING_WENT_WRONG
from bot.usecases.workflow_step import StepCompleted, StepRun, run_step

log = logging.getLogger(__name__)

SEND_SMS_FUNCTION = "send_sms"
TO_INPUT, TEXT_INPUT, SENDER_INPUT = "to", "text", "sender"
APIMSGID_OUTPUT, STATE_OUTPUT = "apimsgid", "state"


def handle_send_sms(
    ack: Ack,
    event: dict[str, Any],
    inputs: dict[str, Any],
    complete: Complete,
    fail: Fail,
    context: BoltContext,
) -> None:
    ack()
    services = services_of(context)
    run = StepRun(
        execution_id=str(event.get("function_execution_id") or ""),
        to=_text(inputs.get(TO_INPUT)),
        text=_text(inputs.get(TEXT_INPUT)),
        sender=_user_context_id(inputs.get(SENDER_INPUT)),
        app_user=context.bot_user_id or "",
    )
    services.executor.submit(finish_step, services, run, complete, fail)


def finish_step(services: Services, run: StepRun, complete: Complete, fail: Fail) -> None:
    """Run the step and tell Slack how it ended; a crash still ends the step, in plain words."""
    try:
        result = run_step(services, run)
    except Exception:
        log.exception("workflow step %s failed", run.execution_id)
        _tell(run, lambda: fail(error=SOMETHING_WENT_WRONG))
        return
    if result is None:
        return
    if isinstance(result, StepCompleted):
        outputs = {APIMSGID_OUTPUT: result.apimsgid, STATE_OUTPUT: result.state}
        _tell(run, lambda: complete(outputs=outputs))
    else:
        log.info("workflow step %s refused: %s", run.execution_id, result.error)
        _tell(run, lambda: fail(error=result.error))


def _tell(run: StepRun, finish: Callable[[], object]) -> None:
    """Slack unreachable even after the client's retries: the step stays open in Slack (it
    times out there); the SMS and its card are what they are, so only log it."""
    try:
        finish()
    except Exception as error:
        log.warning("could not finish workflow step %s in Slack: %s", run.execution_id, error)


def _user_context_id(value: object) -> str | None:
    """The user ID of a `slack#/types/user_context` input (`{"id": "U…", "secret": "…"}`), which
    only Slack can fill in; anything else (a plain string) is no vouched-for person."""
    if isinstance(value, dict):
        user = value.get("id")
        if isinstance(user, str) and user.strip():
            return user.strip()
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
