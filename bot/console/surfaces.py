"""The console's way into the Slack surfaces beyond `/sms`: `home` shows your Home tab as text
(its buttons numbered, pressed with `press N` like a card's), `step TO TEXT` runs the Workflow
Builder step "Send an SMS" as a workflow would.

Each sends the app what Slack would (surface_payloads.py: `app_home_opened`, a
`function_executed` event carrying the execution's token), waits for the app's work, and shows
what the stand-in received: the Home view published for you, and how the step was finished
(`functions.completeSuccess` with its outputs, or `completeError` with its words). The card a
step posts appears in the channel like any other.
"""

from __future__ import annotations

import itertools
from typing import Protocol

from bot.console import surface_payloads
from bot.console.display import ButtonRef, Display, control_key
from bot.console.payloads import SlackRequest, User, Workspace, block_action_on_view
from bot.console.render import controls, indent, render_blocks
from bot.console.runtime import Reply, Runtime
from bot.console.slack_standin import SlackStandIn

STEP_CALLBACK = "send_sms"
STEP_TOKEN = "xwfp-console-step"
WORK_WAIT = 15.0
HOME_INDENT = 4
HOME_PLACE = "app-home"  # where a Home button is, for the console's button numbers


class ConsoleSession(Protocol):
    """What these commands use of the console session."""

    runtime: Runtime
    standin: SlackStandIn
    ws: Workspace
    display: Display

    @property
    def user(self) -> User: ...

    def say(self, words: str) -> None: ...

    def send_to_app(self, request: SlackRequest, what: str) -> Reply | None: ...


_executions = itertools.count(1)


def home_command(session: ConsoleSession, text: str) -> None:
    """`home`: open your Home tab and show it."""
    user = session.user
    if session.send_to_app(surface_payloads.app_home_opened(session.ws, user), "Home") is None:
        return
    session.runtime.wait_idle(WORK_WAIT, gateway=False)
    view = session.standin.home_of(user.id)
    if view is None:
        session.say("The app published no Home tab for you.")
        return
    number = session.display.numberer(HOME_PLACE, user.id, False, view)
    lines = render_blocks(view.get("blocks") or [], session.display.style, number)
    session.display.terminal.show([f"Home tab of {user.name}:", *indent(lines, HOME_INDENT)])


def is_home_button(ref: ButtonRef) -> bool:
    return ref.channel == HOME_PLACE


def home_press(session: ConsoleSession, ref: ButtonRef, trigger_id: str) -> SlackRequest | None:
    """The block action of a Home button, as Slack sends it; None when the Home shown now (it
    is republished as things change) no longer has that button."""
    view = session.standin.home_of(ref.ts)
    if view is None:
        return None
    wanted = control_key(HOME_PLACE, ref.ts, ref.control)
    present = [control_key(HOME_PLACE, ref.ts, c) for c in controls(view.get("blocks") or [])]
    if wanted not in present:
        return None
    return block_action_on_view(
        session.ws,
        session.user,
        element=ref.control.element,
        block_id=ref.control.block_id,
        view=view,
        trigger_id=trigger_id,
    )


def step_command(session: ConsoleSession, text: str) -> None:
    """`step TO TEXT`: you run a workflow with "Send an SMS" (Slack vouches for you: `sender`)."""
    parts = text.split(None, 2)
    if len(parts) < 3:
        session.say("Usage: step TO TEXT  (e.g. step +27825550103 Your order is ready)")
        return
    _, to, message = parts
    execution = f"Fx{next(_executions):04d}C"
    request = surface_payloads.function_executed(
        session.ws,
        callback_id=STEP_CALLBACK,
        inputs={"to": to, "text": message, "sender": {"id": session.user.id, "secret": "console"}},
        execution_id=execution,
        bot_access_token=STEP_TOKEN,
    )
    if session.send_to_app(request, "Workflow step") is None:
        return
    session.runtime.wait_idle(WORK_WAIT, gateway=False)
    ends = [e for e in session.standin.step_ends() if e.execution_id == execution]
    if not ends:
        session.say("The step has not finished yet (Slack would keep the workflow waiting).")
    elif ends[0].succeeded:
        outputs = ends[0].outputs or {}
        session.say(
            f"Workflow step completed: apimsgid {outputs.get('apimsgid')}, "
            f"state {outputs.get('state')}"
        )
    else:
        session.say(f"Workflow step failed: {ends[0].error}")
