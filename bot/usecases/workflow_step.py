"""The Workflow Builder step "Send an SMS" (function `send_sms`): one SMS under `/sms send`'s rules.

A workflow runs the step with its inputs (`to`, `text`, and `sender`); Slack wants the step
finished with outputs (`apimsgid`, `state`) or with an error a person can act on. This use case
turns one execution into exactly one of those, and sends at most once per execution: Slack
redelivers an event it thinks was lost, so the execution ID is claimed before anything happens.

Who sends. The `function_executed` event names no person: not the workflow's author, not who ran
it. A user ID the builder types into an input would be a claim anyone building a workflow could
make for a colleague, so it is not trusted. What Slack does vouch for is a `user_context` input
(`sender`): a builder cannot set it; Slack fills it in with the person who started the workflow
(or pressed a button in an earlier step). So:
- with `SMS_ALLOWED_USERS` set, the step sends only for a vouched-for person who is allowed (or an
  admin), in their name; a run with no such person (a scheduled workflow with no button step) is
  refused in plain words. The workflow's author is held to the allow-list by Slack itself: the
  README has the operator restrict who may use the step to the same people (Slack's step access),
  since the app cannot see the author;
- with every member allowed, it sends in the vouched-for person's name, or the app's
  (`app_user`) when the workflow has no person behind it.
Opted-out numbers and text over `SMS_MAX_PARTS` parts are refused before any gateway call, as
always; the card goes to `SMS_CHANNEL`, so replies from the phone thread under it as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain import access
from bot.domain.delivery import DeliveryState
from bot.domain.records import Recipient
from bot.usecases.ports import AppPorts
from bot.usecases.sending import Refusal, SendIntent, SendOutcome, execute, prepare

log = logging.getLogger(__name__)

NO_SENDER = (
    "Only some people may send SMS here (SMS_ALLOWED_USERS), and Slack did not say who runs this "
    "workflow (a workflow started on a schedule or by an event has no one behind it). Start it "
    "from a link or a button, or add a step where someone presses a button before this one."
)
NO_CHANNEL = "sms-bot has no SMS_CHANNEL to post the card in; ask whoever runs it to set one."
ONE_RECIPIENT = (
    "The step sends to one number or contact at a time; use one step per recipient, or "
    "/sms send for several."
)


@dataclass(frozen=True)
class StepRun:
    """One execution of the step, as Slack delivered it."""

    execution_id: str  # Slack's function_execution_id: the same on every redelivery
    to: str
    text: str
    sender: str | None  # who runs the workflow, as Slack vouches for it (user_context), if any
    app_user: str  # the app's own user ID: who sends when every member may and none is named


@dataclass(frozen=True)
class StepCompleted:
    apimsgid: str
    state: str  # the shared delivery vocabulary: queued, scheduled, sent, delivered...


@dataclass(frozen=True)
class StepFailed:
    error: str  # plain words for the person whose workflow stopped


StepResult = StepCompleted | StepFailed


def run_step(services: AppPorts, run: StepRun) -> StepResult | None:
    """Send the step's SMS; None when this execution was handled before (a redelivery)."""
    if not services.storage.claims.claim(f"step:{run.execution_id}"):
        log.info("repeated workflow step execution %s ignored", run.execution_id)
        return None
    try:
        intent = _intent(services, run)
        prepared = prepare(services, intent)
    except Refusal as refusal:
        return StepFailed(refusal.reason)
    outcome = execute(services, prepared)
    if outcome is None:  # claimed above, so only a bug could bring us here
        return StepFailed("This step was already sent once; it was not sent again.")
    return _result(outcome)


def _intent(services: AppPorts, run: StepRun) -> SendIntent:
    settings = services.settings
    sender = (run.sender or "").strip() or None
    if sender is None and settings.allowed_users:
        raise Refusal(NO_SENDER)
    if not settings.sms_channel:
        raise Refusal(NO_CHANNEL)
    to = run.to.strip()
    if "," in to:
        raise Refusal(ONE_RECIPIENT)
    if sender is not None and not access.may_use(settings.allowed_users, settings.admins, sender):
        raise Refusal(access.not_allowed_text(sender))
    return SendIntent(
        user=sender or run.app_user,
        channel=settings.sms_channel,
        to=(to,) if to else (),
        text=run.text,
        intent_key=f"function:{run.execution_id}",
    )


def _result(outcome: SendOutcome) -> StepResult:
    """Completed when the gateway took the message, else failed with what went wrong."""
    if outcome.failure is not None:
        return StepFailed(outcome.failure_words or str(outcome.failure))
    recipient = _sent_recipient(outcome)
    if recipient is None or not recipient.apimsgid:
        problem = outcome.refused[0].words if outcome.refused else "The gateway did not take it."
        return StepFailed(f"Nothing was sent: {problem}")
    return StepCompleted(recipient.apimsgid, _state(recipient))


def _sent_recipient(outcome: SendOutcome) -> Recipient | None:
    """The message the outputs describe: the first one sent (a group's opted-out or refused
    members are shown on the card, and the step completes when anyone got it)."""
    return next((r for r in outcome.send.recipients if not r.error_code), None)


def _state(recipient: Recipient) -> str:
    """Where the message is: the stored state, or queued when the gateway took it without one."""
    return str(recipient.state or DeliveryState.QUEUED)
