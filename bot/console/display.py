"""What the bot does in Slack, shown as it happens: the stand-in's observer.

Every channel message gets a number (#N) and is printed with its author; a thread reply is
indented under "in thread #N"; an update prints "#N updated:" with the lines that changed; an
ephemeral message is marked "(only visible to you)"; reactions name the message they are on.
Buttons are numbered `[N]` (the same button keeps its number across updates). The display also
remembers what it showed, so the session can press a button, reply in a thread or edit a reply by
number, and it hands modals the app opens (and their updates) to the session's forms.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.console.payloads import User
from bot.console.render import (
    Control,
    Style,
    changed_lines,
    emoji,
    indent,
    render_message,
    view_fields,
    view_title,
)
from bot.console.runtime import BOT_NAME, CHANNEL, CHANNEL_NAME, CONSOLE_USER
from bot.console.slack_standin import BOT_USER, Activity
from bot.console.terminal import Terminal

VIEW_CHANNEL = "~view"  # where a modal's buttons are filed (their "ts" is the view's ID)
TOP_INDENT = 3  # body of a channel message
VIEW_INDENT = 4  # body of a modal that only shows something
THREAD_INDENT = 5  # body of a thread reply: further in, under its parent


@dataclass
class Shown:
    """A channel message the console has shown (numbered)."""

    number: int
    channel: str
    ts: str
    thread_ts: str | None
    author: str  # user ID (BOT_USER for the bot)
    lines: list[str]

    @property
    def indent(self) -> int:
        return THREAD_INDENT if self.thread_ts else TOP_INDENT


@dataclass(frozen=True)
class ButtonRef:
    channel: str
    ts: str
    control: Control
    ephemeral: bool
    message: Mapping[str, Any]  # as shown (ephemeral messages cannot be read back)


@dataclass
class Form:
    """A modal being filled in: the app may update it (views.update) while we ask."""

    view: dict[str, Any]
    updates: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)


ButtonKey = tuple[str, str, str | None, str, str]


def control_key(channel: str, ts: str, control: Control) -> ButtonKey:
    element = control.element
    return (
        channel,
        ts,
        control.block_id,
        str(element.get("action_id", "")),
        str(element.get("value", "")),
    )


class Display:
    def __init__(self, terminal: Terminal, style: Style):
        self.terminal = terminal
        self.user = CONSOLE_USER
        self._names: dict[str, str] = {CONSOLE_USER.id: CONSOLE_USER.name, BOT_USER: BOT_NAME}
        self._base_style = style
        self.style = self._styled()
        self._lock = threading.RLock()
        self._numbers = itertools.count(1)
        self._shown: dict[tuple[str, str], Shown] = {}
        self._by_number: dict[int, Shown] = {}
        self._buttons: dict[int, ButtonRef] = {}
        self._button_numbers: dict[ButtonKey, int] = {}
        self._button_counter = itertools.count(1)
        self._latest_thread: tuple[str, str] | None = None
        # modals the app opened, with the trigger_id they were opened with
        self.views: queue.Queue[tuple[str | None, dict[str, Any]]] = queue.Queue()
        self.form: Form | None = None  # the modal being filled in
        self.awaiting_view = False  # a bare /sms is waiting for its modal

    def _styled(self) -> Style:
        return Style(
            ansi=self._base_style.ansi,
            unicode=self._base_style.unicode,
            users=dict(self._names),
            channels={CHANNEL: CHANNEL_NAME},
        )

    # -- what the session asks ------------------------------------------------------------------
    def act_as(self, user_id: str) -> User:
        with self._lock:
            name = self._names.get(user_id, user_id.lower())
            self._names[user_id] = name
            self.user = User(user_id, name)
            self.style = self._styled()
            return self.user

    def button(self, number: int) -> ButtonRef | None:
        with self._lock:
            return self._buttons.get(number)

    def message(self, number: int) -> Shown | None:
        with self._lock:
            return self._by_number.get(number)

    def shown_at(self, channel: str, ts: str) -> Shown | None:
        with self._lock:
            return self._shown.get((channel, ts))

    @property
    def latest_thread(self) -> tuple[str, str] | None:
        """(channel, root ts) of the conversation that moved last."""
        with self._lock:
            return self._latest_thread

    def say(self, words: str) -> None:
        """A note from the console itself (not from Slack or the bot)."""
        self.terminal.show([self.style.dim(f"({words})")])

    def ephemeral(self, lines: list[str], user: Any = None, parent: Shown | None = None) -> None:
        heading = self._ephemeral_heading(user, parent)
        self.terminal.show([heading, *indent(lines, THREAD_INDENT if parent else TOP_INDENT)])

    # -- the stand-in's observer ----------------------------------------------------------------
    def on_activity(self, activity: Activity) -> None:
        """Render what just happened in Slack (called on the stand-in's request threads)."""
        if not activity.ok:
            if activity.kind != "other":
                error = activity.answer.get("error", "failed")
                self.say(f"{BOT_NAME} called {activity.call.method}: {error}")
            return
        render = {
            "post": self._on_post,
            "user_message": self._on_post,
            "update": self._on_update,
            "user_edit": self._on_update,
            "delete": self._on_delete,
            "user_delete": self._on_delete,
            "ephemeral": self._on_ephemeral,
            "reaction_added": self._on_reaction,
            "reaction_removed": self._on_reaction,
            "view_open": self._on_view_open,
            "view_push": self._on_view_open,
            "view_update": self._on_view_update,
        }.get(activity.kind)
        if render is not None:
            with self._lock:
                render(activity)

    def _on_post(self, activity: Activity) -> None:
        message = activity.message or {}
        channel, ts = str(activity.channel), str(activity.ts)
        thread_ts = message.get("thread_ts") if message.get("thread_ts") != ts else None
        author = str(message.get("user") or BOT_USER)
        number = next(self._numbers)
        parent = self._shown.get((channel, thread_ts)) if thread_ts else None
        lines = render_message(message, self.style, self.numberer(channel, ts, False, message))
        shown = Shown(number, channel, ts, thread_ts, author, lines)
        self._shown[(channel, ts)] = shown
        self._by_number[number] = shown
        if channel == CHANNEL:
            self._latest_thread = (channel, thread_ts or ts)
        where = f", in thread #{parent.number}" if parent else ""
        if thread_ts and parent is None:
            where = ", in a thread"
        elsewhere = "" if channel == CHANNEL else f" in {self._channel_name(channel)}"
        heading = f"#{number} {self._name(author)}{elsewhere}{where}:"
        self.terminal.show([heading, *indent(lines, shown.indent)])

    def _on_update(self, activity: Activity) -> None:
        key = (str(activity.channel), str(activity.ts))
        shown = self._shown.get(key)
        if shown is None:
            self._on_post(activity)
            return
        message = activity.message or {}
        lines = render_message(message, self.style, self.numberer(key[0], key[1], False, message))
        changed = changed_lines(shown.lines, lines)
        shown.lines = lines
        if not changed:
            return
        what = "edited" if activity.kind == "user_edit" else "updated"
        self.terminal.show([f"#{shown.number} {what}:", *indent(changed, shown.indent)])

    def _on_delete(self, activity: Activity) -> None:
        shown = self._shown.get((str(activity.channel), str(activity.ts)))
        if shown is not None:
            self.terminal.show([f"#{shown.number} deleted."])

    def _on_ephemeral(self, activity: Activity) -> None:
        message = activity.message or {}
        channel, ts = str(activity.channel or CHANNEL), str(activity.ts)
        lines = render_message(message, self.style, self.numberer(channel, ts, True, message))
        parent = self._shown.get((channel, str(message.get("thread_ts"))))
        self.ephemeral(lines, message.get("user"), parent)

    def _ephemeral_heading(self, user: Any, parent: Shown | None = None) -> str:
        whom = "you" if user in (None, self.user.id) else self._name(str(user))
        where = f", in thread #{parent.number}" if parent else ""
        return f"{self.style.dim(f'(only visible to {whom})')} {BOT_NAME}{where}:"

    def _on_reaction(self, activity: Activity) -> None:
        shown = self._shown.get((str(activity.channel), str(activity.ts)))
        target = f"#{shown.number}" if shown else "a message"
        shortcode = f":{activity.reaction or ''}:"
        drawn = emoji(shortcode, self.style)
        face = f"{drawn} {shortcode}" if drawn != shortcode else shortcode
        verb = "reacted to" if activity.kind == "reaction_added" else "removed a reaction from"
        self.terminal.show([f"{BOT_NAME} {verb} {target}: {face}"])

    def _on_view_open(self, activity: Activity) -> None:
        if activity.view is None:
            return
        trigger = activity.call.params.get("trigger_id")
        self.views.put((str(trigger) if trigger else None, dict(activity.view)))
        if not self.awaiting_view and self.terminal.interactive:
            # Not the answer to a bare /sms: the form starts at the next input line.
            self.say(f"{BOT_NAME} opened a form; press Enter to fill it in")

    def _on_view_update(self, activity: Activity) -> None:
        form = self.form
        view = activity.view or {}
        if form is not None and view.get("id") == form.view.get("id") and view_fields(form.view):
            form.updates.put(dict(view))
        else:
            self._show_or_ask(view)

    def form_answered(self, form: Form, view: dict[str, Any]) -> None:
        """The app answered a submission with a new view (`response_action: update`). Work it
        started right after acknowledging may have updated the modal before this answer reached
        us; those updates are queued on the form and come after the answer, in order."""
        with self._lock:
            form.view = view
            self.form = None  # answered: what comes next is a new view, not this form's update
            raced = []
            while not form.updates.empty():
                raced.append(form.updates.get_nowait())
            for shown in (view, *raced):
                self._show_or_ask(shown)

    def _show_or_ask(self, view: Mapping[str, Any]) -> None:
        if view_fields(view):
            self.views.put((None, dict(view)))  # a form to fill in (again: it says why on top)
        else:
            self.show_view(view)

    def show_view(self, view: Mapping[str, Any]) -> None:
        """A modal that asks nothing (a preview, a closing word): its text, its buttons
        numbered, pressed as buttons in that modal."""
        view_id = str(view.get("id") or "")
        message = {"text": "", "blocks": view.get("blocks") or []}
        lines = render_message(
            message, self.style, self.numberer(VIEW_CHANNEL, view_id, True, view)
        )
        title = self.style.bold(view_title(view, self.style))
        self.terminal.show([f"{BOT_NAME} shows {title}:", *indent(lines, VIEW_INDENT)])

    # -- helpers --------------------------------------------------------------------------------
    def _name(self, user: str) -> str:
        return self._names.get(user, f"@{user}")

    def _channel_name(self, channel: str) -> str:
        return f"#{CHANNEL_NAME}" if channel == CHANNEL else channel

    def numberer(
        self, channel: str, ts: str, ephemeral: bool, message: Mapping[str, Any]
    ) -> Callable[[Control], int]:
        """Numbers for the buttons of one message: the same button keeps its number across
        updates; a new button gets the next number."""

        def number(control: Control) -> int:
            key = control_key(channel, ts, control)
            with self._lock:
                found = self._button_numbers.get(key)
                if found is None:
                    found = next(self._button_counter)
                    self._button_numbers[key] = found
                self._buttons[found] = ButtonRef(channel, ts, control, ephemeral, dict(message))
                return found

        return number
