"""The console session: reads what you type and plays Slack towards the app.

You type as in Slack (`/sms send …`), press buttons (`press N`), reply in conversation threads
(`reply …`); the session turns each into the request Slack would send (payloads.py) and sends it
to the real app; a modal the app opens becomes a short series of questions, submitted as Slack
submits it. What the bot does in return reaches the stand-in and is shown by the display
(display.py) as it happens.
"""

from __future__ import annotations

import itertools
import queue
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bot.console import payloads, surfaces
from bot.console.display import VIEW_CHANNEL, ButtonRef, Display, Form, Shown, control_key
from bot.console.payloads import User
from bot.console.render import (
    Control,
    Style,
    controls,
    indent,
    render_message,
    text_object,
    view_fields,
    view_notes,
    view_title,
)
from bot.console.runtime import BOT_NAME, CHANNEL, Reply, Runtime
from bot.console.slack_standin import BOT_USER
from bot.console.terminal import Terminal

PROMPT = "you> "
FORM_PROMPT_INDENT = "  "
CANCEL_WORD = "!cancel"
TRIGGER_WAIT = 3.0  # Slack's trigger_id lives 3 seconds: a modal opens within that or never
PREVIEW_WAIT = 2.0  # how long a form waits for the app's live preview of a typed value
DEFAULT_WAIT = 10.0  # `wait` and end of input: at most this long for outstanding work
ACK_LIMIT = 3.0  # Slack's acknowledgement deadline
FORM_COMMANDS = ("", "bulk")  # /sms and /sms bulk open a modal
FILE_LIMIT = 10 * 1024 * 1024  # Slack's limit for a file input
LINE_SETTLE = 0.15  # scripted input: quiet this long after a line's work before the next line

HELP = """\
Type /sms commands as in Slack (/sms help lists them all), and:
  press N              press the button shown as [N] (a card's Cancel, a Home tab button)
  reply TEXT           reply in the latest conversation thread: texted to the phone
  reply #N TEXT        reply in the thread of message #N
                       (a reply starting with "note:" stays in Slack)
  edit #N TEXT         edit your reply #N;  delete #N  deletes it
  wait [SECONDS]       wait until the app has finished its work (at most 10 s by default)
  user [ID]            show or change who you are (default U0CONSOLE, an admin)
  home                 open your App Home tab and show it (its buttons: press N)
  step TO TEXT         run the Workflow Builder step "Send an SMS" (you run the workflow)
  help                 this help;  quit (or end of input) leaves
Bare /sms opens the compose form: answer each field (an empty answer skips an optional one,
!cancel closes the form). Messages are numbered #N; thread replies are indented under
"in thread #N"; card updates show "#N updated:" with what changed."""


_PRESS = re.compile(r"press\s+\[?(\d+)\]?\s*$", re.IGNORECASE)
_REPLY = re.compile(r"reply(?:\s+#(\d+))?(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_EDIT = re.compile(r"edit\s+#?(\d+)\s+(.+)$", re.IGNORECASE | re.DOTALL)
_DELETE = re.compile(r"delete\s+#?(\d+)\s*$", re.IGNORECASE)
_WAIT = re.compile(r"wait(?:\s+(\d+(?:\.\d+)?))?\s*$", re.IGNORECASE)
_USER = re.compile(r"user(?:\s+(\S+))?\s*$", re.IGNORECASE)


class Console:
    """Input lines in, Slack's requests to the app out; the display shows what comes back."""

    def __init__(self, runtime: Runtime, terminal: Terminal, style: Style):
        self.runtime = runtime
        self.standin = runtime.standin
        self.ws = runtime.workspace
        self.terminal = terminal
        self.display = Display(terminal, style)
        self._urls = itertools.count(1)
        self._sent = 0  # requests sent to the app so far
        self.standin.subscribe(self.display.on_activity)

    @property
    def user(self) -> User:
        return self.display.user

    @property
    def style(self) -> Style:
        return self.display.style

    def say(self, words: str) -> None:
        self.display.say(words)

    # ================================================================== the loop
    def run(self) -> int:
        while True:
            self._run_opened_forms()
            line = self.terminal.read(PROMPT)
            if line is None:
                break
            sent_before = self._sent
            if not self.handle(line):
                break
            if not self.terminal.interactive and self._sent != sent_before:
                # Scripted: let the work this line started (not the gateway's later reports)
                # show before the next line is echoed, so the transcript reads in order.
                self.runtime.wait_idle(self._command_wait(), gateway=False, settle=LINE_SETTLE)
        self.finish()
        return 0

    def _command_wait(self) -> float:
        return float(self.runtime.settings.clickatell_timeout) + 5.0

    def finish(self) -> None:
        """Leave: wait (bounded) until what was started has reached Slack."""
        still = self.runtime.wait_idle(DEFAULT_WAIT)
        if still:
            self.say(f"Leaving with work outstanding: {', '.join(still)}.")

    def handle(self, line: str) -> bool:
        """Act on one input line; False means leave."""
        text = line.strip()
        if not text:
            return True
        word = text.split(None, 1)[0].lower()
        if word in ("quit", "exit"):
            return False
        if word == "help":
            self.terminal.show(HELP.split("\n"))
        elif text.startswith("/"):
            self.slash(text)
        else:
            handler = self._commands().get(word)
            if handler is None:
                self.say(f"Not understood: {text!r}. Type help for what the console understands.")
            else:
                handler(text)
        return True

    def _commands(self) -> dict[str, Callable[[str], None]]:
        return {
            "press": self._press_command,
            "reply": self._reply_command,
            "edit": self._edit_command,
            "delete": self._delete_command,
            "wait": self._wait_command,
            "user": self._user_command,
            "home": lambda text: surfaces.home_command(self, text),
            "step": lambda text: surfaces.step_command(self, text),
        }

    # ================================================================== slash commands
    def slash(self, text: str) -> None:
        command, _, rest = text.partition(" ")
        if command.lower() != "/sms":
            self.say(f"Only /sms is installed in this workspace, not {command}.")
            return
        trigger = self.ws.trigger_id()
        request = payloads.slash_command(
            self.ws,
            self.user,
            rest.strip(),
            response_url=self._response_url(channel=CHANNEL),
            trigger_id=trigger,
        )
        reply = self._send(request, "/sms")
        if reply is not None and reply.status == 200:
            self._show_ack(reply, "/sms")
        if rest.strip().lower() in FORM_COMMANDS:
            self._run_form_for(trigger)

    def _response_url(self, channel: str | None = None, message_ts: str | None = None) -> str:
        name = f"r{next(self._urls)}"
        return self.standin.response_url(
            name, channel=channel, message_ts=message_ts, user=self.user.id
        )

    def send_to_app(self, request: payloads.SlackRequest, what: str) -> Reply | None:
        """Send a request Slack would send (the surfaces' commands use it too)."""
        return self._send(request, what)

    def _send(self, request: payloads.SlackRequest, what: str) -> Reply | None:
        """Send a request to the app; show what Slack would show when it fails."""
        self._sent += 1
        try:
            reply = self.runtime.send(request)
        except Exception as error:  # the app is down or hung: Slack would say so
            self._slack_says(what, "dispatch_failed", f"the app did not answer: {error}")
            return None
        if reply.status != 200:
            self._slack_says(what, "dispatch_failed", f"the app answered HTTP {reply.status}")
        elif reply.seconds > ACK_LIMIT:
            self._slack_says(
                what, "operation_timeout", f"the app took {reply.seconds:.1f} s to acknowledge"
            )
        return reply

    def _slack_says(self, what: str, error: str, why: str) -> None:
        self.display.ephemeral([f'{what} failed with the error "{error}" ({why})'])

    def _show_ack(self, reply: Reply, what: str) -> None:
        """The acknowledgement's body: Slack shows it to the person as an ephemeral message."""
        data = reply.json()
        if data is None:
            text = reply.body.decode("utf-8", "replace").strip()
            data = {"text": text} if text else None
        if not data or not (data.get("text") or data.get("blocks")):
            return
        numberer = self.display.numberer(CHANNEL, "ack", True, data)
        lines = render_message(data, self.style, numberer)
        if data.get("response_type") == "in_channel":
            heading = f"{BOT_NAME} (response to {what}, in the channel):"
            self.terminal.show([heading, *indent(lines, 3)])
        else:
            self.display.ephemeral(lines)

    # ================================================================== forms (modals)
    def _run_form_for(self, trigger: str) -> None:
        """Wait for the modal the app opens with this trigger (Slack: within 3 s), then run it."""
        self.display.awaiting_view = True
        try:
            _, view = self.display.views.get(timeout=TRIGGER_WAIT)
        except queue.Empty:
            return
        finally:
            self.display.awaiting_view = False
        self.run_form(view)

    def _run_opened_forms(self) -> None:
        while True:
            try:
                _, view = self.display.views.get_nowait()
            except queue.Empty:
                return
            self.run_form(view)

    def run_form(self, view: dict[str, Any]) -> None:
        if not view.get("submit") or not view_fields(view, self.style):
            # A modal that only shows something (the templates, a bulk preview): shown, its
            # buttons numbered and pressed like any other.
            self.display.show_view(view)
            return
        form = Form(view)
        self.display.form = form
        try:
            self._fill_and_submit(form)
        finally:
            self.display.form = None

    def _fill_and_submit(self, form: Form) -> None:
        title = view_title(form.view, self.style)
        self.terminal.show(
            [
                f"{BOT_NAME} opened a form: {self.style.bold(title)} "
                f"(answer each field; {CANCEL_WORD} closes it)"
            ]
        )
        values: dict[str, str | None] = {}
        fields = view_fields(form.view, self.style)
        todo = [f.block_id for f in fields]
        for _attempt in range(5):
            for block_id in todo:
                if not self._ask(form, block_id, values):
                    self.say("Form closed; nothing was submitted.")
                    return
            submitted = self._submit(form, values)
            if submitted is None:
                return
            todo = submitted
            if not todo:
                return
        self.say("Form closed after too many rejected answers.")

    def _ask(self, form: Form, block_id: str, values: dict[str, str | None]) -> bool:
        fields = {f.block_id: f for f in view_fields(form.view, self.style)}
        item = fields.get(block_id)
        if item is None:
            return True
        if item.kind == "file_input":
            return self._ask_file(item.label, block_id, values)
        if item.kind not in ("plain_text_input", "static_select"):
            self.say(f"{item.label}: a {item.kind} cannot be filled in here; left as it is.")
            return True
        if item.hint:
            self.terminal.show([FORM_PROMPT_INDENT + self.style.dim(item.hint)])
        if item.options:
            self.terminal.show([FORM_PROMPT_INDENT + "Choose one of: " + ", ".join(item.options)])
        optional = " (optional)" if item.optional and "optional" not in item.label else ""
        label = f"{FORM_PROMPT_INDENT}{item.label}{optional}: "
        while True:
            answer = self.terminal.read(label)
            if answer is None or answer.strip() == CANCEL_WORD:
                return False
            answer = answer.strip()
            if item.options and answer:  # a select: one of its options (any case)
                chosen = [o for o in item.options if o.casefold() == answer.casefold()]
                if not chosen:
                    self.say(f"{answer!r} is not one of the choices")
                    continue
                answer = chosen[0]
            if answer or item.optional:
                break
            self.say(f"{item.label} is required")
        values[block_id] = answer or None
        if item.dispatches and answer:
            self._dispatch(form, item.block_id, item.action_id, answer, values)
        notes = view_notes(form.view, self.style, after=block_id)
        self.terminal.show(indent(notes, len(FORM_PROMPT_INDENT)))
        return True

    def _ask_file(self, label: str, block_id: str, values: dict[str, str | None]) -> bool:
        """A file input: a path on this machine, shared with the stand-in as Slack shares the
        file a person picks (the app then reads it through files.info, as in Slack)."""
        while True:
            answer = self.terminal.read(f"{FORM_PROMPT_INDENT}{label} (a path; optional): ")
            if answer is None or answer.strip() == CANCEL_WORD:
                return False
            if not answer.strip():
                return True
            path = Path(answer.strip()).expanduser()
            try:
                content = path.read_bytes()[: FILE_LIMIT + 1]
            except OSError as error:
                self.say(f"cannot read {path}: {error.strerror or error}")
                continue
            values[block_id] = self.standin.share_file(path.name, content)["id"]
            return True

    def _dispatch(
        self, form: Form, block_id: str, action_id: str, value: str, values: dict[str, str | None]
    ) -> None:
        """A dispatching input (e.g. the text, for its parts preview): tell the app as Slack
        does, and take its views.update if it answers within PREVIEW_WAIT."""
        request = payloads.block_action_in_view(
            self.ws,
            self.user,
            view=payloads.echoed_view(self.ws, form.view, values),
            block_id=block_id,
            action_id=action_id,
            value=value,
            trigger_id=self.ws.trigger_id(),
        )
        reply = self._send(request, "the form")
        if reply is None or reply.status != 200:
            return
        try:
            updated = form.updates.get(timeout=PREVIEW_WAIT)
        except queue.Empty:
            return
        while not form.updates.empty():  # several quick updates: the last one counts
            updated = form.updates.get_nowait()
        form.view = updated

    def _submit(self, form: Form, values: dict[str, str | None]) -> list[str] | None:
        """Submit; the block IDs to ask again when the app rejects answers, None when closed."""
        while not form.updates.empty():  # a live preview later than PREVIEW_WAIT: Slack shows it
            form.view = form.updates.get_nowait()
        request = payloads.view_submission(
            self.ws,
            self.user,
            view=payloads.echoed_view(self.ws, form.view, values),
            trigger_id=self.ws.trigger_id(),
        )
        reply = self._send(request, "Submitting the form")
        if reply is None or reply.status != 200:
            return None
        data = reply.json() or {}
        action = data.get("response_action")
        if action == "errors" and isinstance(data.get("errors"), Mapping):
            labels = {f.block_id: f.label for f in view_fields(form.view, self.style)}
            errors = data["errors"]
            lines = [f"{labels.get(k, k)}: {v}" for k, v in errors.items()]
            self.terminal.show([f"{BOT_NAME} rejected the form:", *indent(lines, 3)])
            return [k for k in labels if k in errors]
        if action in ("update", "push") and isinstance(data.get("view"), Mapping):
            self.display.form_answered(form, {**data["view"], "id": form.view.get("id")})
            return []
        return []

    # ================================================================== buttons
    def _press_command(self, text: str) -> None:
        match = _PRESS.match(text)
        if not match:
            self.say("Usage: press N   (N is the number shown as [N] on a button)")
            return
        self.press(int(match.group(1)))

    def press(self, number: int) -> None:
        ref = self.display.button(number)
        if ref is None:
            self.say(f"There is no button [{number}].")
            return
        if ref.channel == VIEW_CHANNEL:  # a button in a modal (a preview's Send)
            self._press_in_view(number, ref)
            return
        if surfaces.is_home_button(ref):
            self._press_on_home(number, ref)
            return
        message = self._current(ref)
        if message is None:
            self.say(f"Button [{number}] is no longer there (its message changed).")
            return
        if not self._confirmed(ref.control):
            self.say("Not pressed.")
            return
        request = payloads.block_action_on_message(
            self.ws,
            self.user,
            element=ref.control.element,
            block_id=ref.control.block_id,
            channel=ref.channel,
            message=message,
            response_url=self._response_url(
                channel=ref.channel, message_ts=None if ref.ephemeral else ref.ts
            ),
            trigger_id=self.ws.trigger_id(),
            ephemeral=ref.ephemeral,
        )
        self._send(request, f"[{number}] {ref.control.label}")

    def _press_in_view(self, number: int, ref: ButtonRef) -> None:
        if not self._confirmed(ref.control):
            self.say("Not pressed.")
            return
        request = payloads.block_action_on_view(
            self.ws,
            self.user,
            view=payloads.echoed_view(self.ws, ref.message, {}),
            element=ref.control.element,
            block_id=ref.control.block_id,
            trigger_id=self.ws.trigger_id(),
        )
        self._send(request, f"[{number}] {ref.control.label}")

    def _press_on_home(self, number: int, ref: ButtonRef) -> None:
        request = surfaces.home_press(self, ref, self.ws.trigger_id())
        if request is None:
            self.say(f"Button [{number}] is no longer on your Home tab; type home to see it.")
        elif self._confirmed(ref.control):
            self._send(request, f"[{number}] {ref.control.label}")
        else:
            self.say("Not pressed.")

    def _current(self, ref: ButtonRef) -> Mapping[str, Any] | None:
        """The message the button is on, if the button is still on it."""
        if ref.ephemeral:
            return ref.message
        try:
            message = self.standin.message(ref.channel, ref.ts)
        except KeyError:
            return None
        wanted = control_key(ref.channel, ref.ts, ref.control)
        present = [
            control_key(ref.channel, ref.ts, c) for c in controls(message.get("blocks") or [])
        ]
        return message if wanted in present else None

    def _confirmed(self, control: Control) -> bool:
        """A button with a `confirm` dialog asks first, as Slack does."""
        dialog = control.element.get("confirm")
        if not isinstance(dialog, Mapping):
            return True
        title = text_object(dialog.get("title"), self.style)
        words = text_object(dialog.get("text"), self.style)
        yes = text_object(dialog.get("confirm"), self.style) or "Yes"
        no = text_object(dialog.get("deny"), self.style) or "No"
        self.terminal.show([f"{title} {words}".strip(), f"  y = {yes}, n = {no}"])
        answer = self.terminal.read(f"{FORM_PROMPT_INDENT}y/n: ")
        return (answer or "").strip().lower() in ("y", "yes")

    # ================================================================== thread replies
    def _reply_command(self, text: str) -> None:
        match = _REPLY.match(text)
        words = (match.group(2) or "").strip() if match else ""
        if not match or not words:
            self.say("Usage: reply TEXT (latest conversation) or reply #N TEXT (thread of #N)")
            return
        target = int(match.group(1)) if match.group(1) else None
        self.reply(words, target)

    def reply(self, text: str, target: int | None = None) -> None:
        thread = self._thread_for(target)
        if thread is None:
            return
        channel, root = thread
        stored = self.standin.post_user_message(
            channel,
            self.user.id,
            payloads.slack_escape(text),
            root,
            **payloads.user_message_fields(self.ws, text),
        )
        parent = self.display.shown_at(channel, root)
        parent_user = parent.author if parent else BOT_USER
        event = payloads.message_event(stored, channel, parent_user)
        self._send(payloads.event_callback(self.ws, event), "Your reply")

    def _thread_for(self, target: int | None) -> tuple[str, str] | None:
        if target is None:
            latest = self.display.latest_thread
            if latest is None:
                self.say("No conversation yet: send an SMS first (/sms send NUMBER TEXT).")
            return latest
        shown = self.display.message(target)
        if shown is None:
            self.say(f"There is no message #{target}.")
            return None
        return shown.channel, shown.thread_ts or shown.ts

    def _own_message(self, number: int) -> Shown | None:
        shown = self.display.message(number)
        if shown is None or shown.author != self.user.id:
            self.say(f"#{number} is not a message of yours.")
            return None
        return shown

    def _edit_command(self, text: str) -> None:
        match = _EDIT.match(text)
        if not match:
            self.say("Usage: edit #N TEXT")
            return
        shown = self._own_message(int(match.group(1)))
        if shown is None:
            return
        new_text = match.group(2).strip()
        try:
            previous = self.standin.message(shown.channel, shown.ts)
        except KeyError:
            self.say(f"#{shown.number} was deleted.")
            return
        current = self.standin.edit_user_message(
            shown.channel,
            shown.ts,
            payloads.slack_escape(new_text),
            blocks=payloads.user_message_fields(self.ws, new_text)["blocks"],
        )
        event = payloads.message_changed_event(
            previous, current, shown.channel, self.standin.new_ts()
        )
        self._send(payloads.event_callback(self.ws, event), "Your edit")

    def _delete_command(self, text: str) -> None:
        match = _DELETE.match(text)
        if not match:
            self.say("Usage: delete #N")
            return
        shown = self._own_message(int(match.group(1)))
        if shown is None:
            return
        try:
            previous = self.standin.delete_user_message(shown.channel, shown.ts)
        except KeyError:
            self.say(f"#{shown.number} was deleted already.")
            return
        event = payloads.message_deleted_event(previous, shown.channel, self.standin.new_ts())
        self._send(payloads.event_callback(self.ws, event), "Deleting")

    # ================================================================== wait, user
    def _wait_command(self, text: str) -> None:
        match = _WAIT.match(text)
        if not match:
            self.say("Usage: wait [SECONDS]")
            return
        seconds = min(float(match.group(1) or DEFAULT_WAIT), 600.0)
        still = self.runtime.wait_idle(seconds)
        if still:
            self.say(f"Still busy after {seconds:g} s: {', '.join(still)}.")

    def _user_command(self, text: str) -> None:
        match = _USER.match(text)
        wanted = match.group(1) if match else None
        if wanted is None:
            self.say(f"You are {self.user.name} ({self.user.id}).")
            return
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", wanted):
            self.say("A Slack user ID looks like U0123ABCD.")
            return
        user = self.display.act_as(wanted)
        self.say(f"You are now {user.name} ({user.id}).")
