"""Block Kit and mrkdwn, readable in a terminal: pure functions from Slack payloads to lines.

What Slack would show is shown, the way Slack reads it:
- mrkdwn: *bold*, _italic_, ~strike~ (ANSI on a terminal, plain words in a pipe), `code` and
  ```blocks``` without their backticks, `>` quotes as a bar, <url|text> links as "text (url)",
  <@U…>/<#C…>/<!channel> mentions as @name/#name/@channel, <!date^…> in this machine's time
  zone (Slack shows each reader their own), :emoji: codes as the emoji; the
  entities &lt; &gt; &amp; last, so text that was escaped is shown literally (never re-parsed).
- blocks: header, section (text, fields, accessory), context, divider, actions, image, input,
  rich_text; anything else as a short placeholder rather than nothing.
- controls: every button is numbered by the caller (`number(control)`) and shown as `[N] Label`,
  which the console presses with `press N`.

Nothing here keeps state: the console decides numbers, remembers what it showed and calls these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Block = Mapping[str, Any]

EMOJI: dict[str, str] = {
    "incoming_envelope": "📨",
    "envelope": "✉️",
    "email": "📧",
    "test_tube": "🧪",
    "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛",
    "clock3": "🕒",
    "alarm_clock": "⏰",
    "outbox_tray": "📤",
    "inbox_tray": "📥",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "ballot_box_with_check": "☑️",
    "x": "❌",
    "no_entry_sign": "🚫",
    "no_entry": "⛔",
    "warning": "⚠️",
    "speech_balloon": "💬",
    "arrow_forward": "▶️",
    "information_source": "ℹ️",
    "bust_in_silhouette": "👤",
    "busts_in_silhouette": "👥",
    "iphone": "📱",
    "mobile_phone": "📱",
    "moneybag": "💰",
    "satellite_antenna": "📡",
    "memo": "📝",
    "pencil2": "✏️",
    "wastebasket": "🗑️",
    "eyes": "👀",
    "+1": "👍",
    "thumbsup": "👍",
    "rotating_light": "🚨",
    "question": "❓",
    "exclamation": "❗",
    "heavy_exclamation_mark": "❗",
    "repeat": "🔁",
    "link": "🔗",
    "mailbox": "📫",
    "calendar": "📅",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "red_circle": "🔴",
    "white_circle": "⚪",
    "arrows_counterclockwise": "🔄",
    "leftwards_arrow_with_hook": "↩️",
    "speech_left": "🗨️",
    "tada": "🎉",
}

# ANSI select graphic rendition codes: (on, off)
_BOLD = ("\033[1m", "\033[22m")
_ITALIC = ("\033[3m", "\033[23m")
_STRIKE = ("\033[9m", "\033[29m")
_DIM = ("\033[2m", "\033[22m")
_RED = ("\033[31m", "\033[39m")
_GREEN = ("\033[32m", "\033[39m")


@dataclass(frozen=True)
class Style:
    """How to draw: ANSI attributes (terminals only), Unicode (emoji, bars) or ASCII, and the
    names to show for user and channel IDs."""

    ansi: bool = False
    unicode: bool = True
    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)

    def wrap(self, sgr: tuple[str, str], text: str) -> str:
        return f"{sgr[0]}{text}{sgr[1]}" if self.ansi and text else text

    def bold(self, text: str) -> str:
        return self.wrap(_BOLD, text)

    def dim(self, text: str) -> str:
        return self.wrap(_DIM, text)

    @property
    def bar(self) -> str:
        return "│" if self.unicode else "|"

    @property
    def rule(self) -> str:
        return "─" * 40 if self.unicode else "-" * 40


@dataclass(frozen=True)
class Control:
    """Something a person can press: a button in a block (`block_id` as posted)."""

    block_id: str | None
    element: Mapping[str, Any]

    @property
    def label(self) -> str:
        text = self.element.get("text")
        return str(text.get("text", "")) if isinstance(text, Mapping) else str(text or "")


Numberer = Callable[[Control], int]


def _no_number(control: Control) -> int:
    return 0


# --------------------------------------------------------------------------- mrkdwn

_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_CONTROL = re.compile(r"<([^<>\n]+)>")
_BOLD_RE = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITALIC_RE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")
_STRIKE_RE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")
_EMOJI_RE = re.compile(r":([a-z0-9_+\-']+):")
_SPECIAL = {"channel": "@channel", "here": "@here", "everyone": "@everyone"}


def unescape(text: str) -> str:
    """Slack's three entities back to characters: &lt; &gt; &amp; (the last one last)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emoji(text: str, style: Style) -> str:
    if not style.unicode:
        return text
    return _EMOJI_RE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def _control(inner: str, style: Style) -> str:
    """One <…> control sequence as Slack displays it."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        user = target[1:]
        return "@" + (label or style.users.get(user, user))
    if target.startswith("#"):
        channel = target[1:]
        return "#" + (label or style.channels.get(channel, channel))
    if target.startswith("!date^"):  # Slack shows it in the reader's zone: this machine's
        return _local_date(target, label)
    if target.startswith("!"):
        word = target[1:].split("^", 1)[0]
        if word in _SPECIAL:
            return _SPECIAL[word]
        return label or f"@{word}"
    if label and label != target:
        return f"{label} ({target})"
    return target


def _local_date(target: str, fallback: str) -> str:
    stamp = target.split("^")[1]
    try:
        return f"{datetime.fromtimestamp(int(stamp)):%Y-%m-%d %H:%M}"
    except (ValueError, OverflowError, OSError):
        return fallback


def _inline(text: str, style: Style) -> str:
    """Formatting outside code: control sequences, emphasis, emoji; entities last."""
    text = _CONTROL.sub(lambda m: _control(m.group(1), style), text)
    text = _BOLD_RE.sub(lambda m: style.wrap(_BOLD, m.group(1)), text)
    text = _ITALIC_RE.sub(lambda m: style.wrap(_ITALIC, m.group(1)), text)
    text = _STRIKE_RE.sub(lambda m: style.wrap(_STRIKE, m.group(1)), text)
    return unescape(emoji(text, style))


def _spans(text: str, style: Style) -> str:
    """Inline code is shown as is (no formatting inside), the rest formatted."""
    out: list[str] = []
    last = 0
    for match in _CODE.finditer(text):
        out.append(_inline(text[last : match.start()], style))
        out.append(unescape(match.group(1)))
        last = match.end()
    out.append(_inline(text[last:], style))
    return "".join(out)


def _quoted(line: str, style: Style) -> str:
    if line.startswith(">"):
        return f"{style.bar} {_spans(line[1:].lstrip(' '), style)}".rstrip()
    return _spans(line, style)


def mrkdwn(text: str, style: Style = Style()) -> str:
    """mrkdwn text as a terminal shows it (lines joined by newlines)."""
    out: list[str] = []
    last = 0
    for match in _FENCE.finditer(text):
        out.append(
            "\n".join(_quoted(line, style) for line in text[last : match.start()].split("\n"))
        )
        out.append(unescape(match.group(1).strip("\n")))
        last = match.end()
    out.append("\n".join(_quoted(line, style) for line in text[last:].split("\n")))
    return "".join(out)


def text_object(obj: Any, style: Style = Style()) -> str:
    """A Block Kit text object (mrkdwn or plain_text), or a bare string (mrkdwn)."""
    if isinstance(obj, str):
        return mrkdwn(obj, style)
    if not isinstance(obj, Mapping):
        return ""
    raw = str(obj.get("text", ""))
    if obj.get("type") == "plain_text":
        # plain_text is never formatted; Slack still turns the three entities into characters
        # and, when "emoji" is not false, :codes: into emoji.
        shown = unescape(raw)
        return emoji(shown, style) if obj.get("emoji", True) is not False else shown
    return mrkdwn(raw, style)


# --------------------------------------------------------------------------- blocks


def _element(element: Any, block_id: str | None, style: Style, number: Numberer) -> str:
    """An interactive or context element, inline."""
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "button":
        control = Control(block_id, element)
        label = f"[{number(control)}] {text_object(element.get('text'), style)}"
        colour = {"danger": _RED, "primary": _GREEN}.get(str(element.get("style")))
        label = style.wrap(colour, label) if colour else style.bold(label)
        return f"{label} ({element['url']})" if element.get("url") else label
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in ("mrkdwn", "plain_text"):
        return text_object(element, style)
    if kind in ("static_select", "overflow", "multi_static_select", "radio_buttons", "checkboxes"):
        options = [text_object(o.get("text"), style) for o in element.get("options") or []]
        return f"(menu: {' / '.join(options)})" if options else "(menu)"
    placeholder = element.get("placeholder")
    shown = f": {text_object(placeholder, style)}" if placeholder else ""
    return f"({kind}{shown})"


def _section(block: Block, style: Style, number: Numberer) -> list[str]:
    lines: list[str] = []
    if block.get("text"):
        lines.extend(text_object(block["text"], style).split("\n"))
    for item in block.get("fields") or []:
        lines.extend(text_object(item, style).split("\n"))
    accessory = block.get("accessory")
    if accessory:
        lines.append(_element(accessory, block.get("block_id"), style, number))
    return lines


def _context(block: Block, style: Style, number: Numberer) -> list[str]:
    parts = [_element(e, block.get("block_id"), style, number) for e in block.get("elements") or []]
    joined = "  ·  ".join(p for p in parts if p)
    return [style.dim(line) for line in joined.split("\n")] if joined else []


def _actions(block: Block, style: Style, number: Numberer) -> list[str]:
    parts = [_element(e, block.get("block_id"), style, number) for e in block.get("elements") or []]
    return ["   ".join(p for p in parts if p)]


def _rich_text(block: Block, style: Style) -> list[str]:
    """Rich text (what people's messages carry): the words, links and mentions, unformatted."""
    words: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, Mapping):
            return
        kind = node.get("type")
        if kind == "text":
            words.append(str(node.get("text", "")))
        elif kind == "link":
            words.append(str(node.get("text") or node.get("url", "")))
        elif kind == "user":
            words.append("@" + style.users.get(node.get("user_id", ""), node.get("user_id", "")))
        elif kind == "emoji":
            words.append(emoji(f":{node.get('name', '')}:", style))
        walk(node.get("elements"))

    walk(block.get("elements"))
    return "".join(words).split("\n")


def _input(block: Block, style: Style) -> list[str]:
    label = text_object(block.get("label"), style)
    element = block.get("element") or {}
    value = element.get("initial_value") or ""
    optional = " (optional)" if block.get("optional") else ""
    return [f"{label}{optional}: {value}".rstrip()]


def render_block(block: Block, style: Style = Style(), number: Numberer = _no_number) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [style.bold(text_object(block.get("text"), style))]
    if kind == "section":
        return _section(block, style, number)
    if kind == "context":
        return _context(block, style, number)
    if kind == "divider":
        return [style.dim(style.rule)]
    if kind == "actions":
        return _actions(block, style, number)
    if kind == "image":
        title = text_object(block.get("title"), style) if block.get("title") else ""
        return [f"[image: {title or block.get('alt_text', '')}]"]
    if kind == "rich_text":
        return _rich_text(block, style)
    if kind == "input":
        return _input(block, style)
    return [f"[{kind} block]"]


def render_blocks(
    blocks: Iterable[Block], style: Style = Style(), number: Numberer = _no_number
) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Mapping):
            lines.extend(render_block(block, style, number))
    return lines


def render_message(
    message: Mapping[str, Any], style: Style = Style(), number: Numberer = _no_number
) -> list[str]:
    """A message's body: its blocks when it has any (Slack then shows only those), else its text."""
    blocks = message.get("blocks")
    if isinstance(blocks, Sequence) and not isinstance(blocks, str) and blocks:
        return render_blocks(blocks, style, number)
    text = str(message.get("text") or "")
    files = [f for f in message.get("files") or [] if isinstance(f, Mapping)]
    clip = emoji(":paperclip:", style)
    shared = [f"{clip} {f.get('name')} ({f.get('size', 0)} bytes)" for f in files]
    return (mrkdwn(text, style).split("\n") if text else []) + shared


def controls(blocks: Iterable[Block]) -> list[Control]:
    """Every button in `blocks`, in display order (what `number` will be asked about)."""
    found: list[Control] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("type") == "section" and block.get("accessory"):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, Mapping) and element.get("type") == "button":
                found.append(Control(block.get("block_id"), element))
    return found


# --------------------------------------------------------------------------- modals


@dataclass(frozen=True)
class Field:
    """One input of a modal, as the console asks for it."""

    block_id: str
    action_id: str
    label: str
    kind: str  # the element type, e.g. plain_text_input
    optional: bool = False
    hint: str = ""
    placeholder: str = ""
    initial: str = ""
    dispatches: bool = False  # typing in it sends a block_actions (Slack: dispatch_action)
    options: tuple[str, ...] = ()  # a static_select's option values


def view_fields(view: Mapping[str, Any], style: Style = Style()) -> list[Field]:
    fields: list[Field] = []
    for block in view.get("blocks") or []:
        if not isinstance(block, Mapping) or block.get("type") != "input":
            continue
        element = block.get("element") or {}
        fields.append(
            Field(
                block_id=str(block.get("block_id") or ""),
                action_id=str(element.get("action_id") or ""),
                label=text_object(block.get("label"), style),
                kind=str(element.get("type") or ""),
                optional=bool(block.get("optional")),
                hint=text_object(block.get("hint"), style) if block.get("hint") else "",
                placeholder=(
                    text_object(element.get("placeholder"), style)
                    if element.get("placeholder")
                    else ""
                ),
                initial=str(element.get("initial_value") or ""),
                dispatches=bool(
                    block.get("dispatch_action") or element.get("dispatch_action_config")
                ),
                options=tuple(
                    str(o.get("value") or "")
                    for o in element.get("options") or []
                    if isinstance(o, Mapping)
                ),
            )
        )
    return fields


def view_title(view: Mapping[str, Any], style: Style = Style()) -> str:
    return text_object(view.get("title"), style) or "Form"


def view_notes(
    view: Mapping[str, Any], style: Style = Style(), after: str | None = None
) -> list[str]:
    """The modal's non-input blocks (previews, notes). With `after`, only those following the
    input with that block_id and before the next input (what belongs to that field)."""
    blocks = [b for b in view.get("blocks") or [] if isinstance(b, Mapping)]
    if after is not None:
        ids = [b.get("block_id") for b in blocks]
        if after not in ids:
            return []
        start = ids.index(after) + 1
        end = next((i for i in range(start, len(blocks)) if blocks[i].get("type") == "input"), None)
        blocks = blocks[start:end]
    return render_blocks([b for b in blocks if b.get("type") != "input"], style)


# --------------------------------------------------------------------------- layout


def indent(lines: Iterable[str], width: int) -> list[str]:
    pad = " " * width
    return [f"{pad}{line}" if line else "" for line in lines]


def changed_lines(old: Sequence[str], new: Sequence[str]) -> list[str]:
    """Lines of `new` that `old` did not show (in order): what an update changed."""
    remaining = list(old)
    changed: list[str] = []
    for line in new:
        if line in remaining:
            remaining.remove(line)
        else:
            changed.append(line)
    return changed
