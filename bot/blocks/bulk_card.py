"""The bulk progress card: the one channel message that shows a bulk run and is updated in place.

`progress_card(progress)` renders a run as it stands: who started it, a text bar, the tallies
(sent, delivered, failed, skipped, held, waiting), what state it is in, and Pause / Resume /
Cancel while it can still change (the buttons carry the run's ID; who may press them is decided
when they are pressed). `result_file` names the result CSV posted in the card's thread at the end,
and `progress_lines` is the short form the Home tab shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.blocks.base import Block, Message, context, local_time, plain, section
from bot.usecases.bulk import BulkProgress

BULK_PAUSE_ACTION = "bulk_pause"
BULK_RESUME_ACTION = "bulk_resume"
BULK_CANCEL_ACTION = "bulk_cancel"
BAR_CELLS = 20
FINAL = frozenset({"cancelled", "done"})

_STATES = {
    "planned": ":memo: Not started yet",
    "scheduled": ":clock3: Scheduled",
    "running": ":outbox_tray: Sending",
    "paused": ":double_vertical_bar: Paused: nothing more is sent until it is resumed",
    "cancelled": ":no_entry_sign: Cancelled: rows not yet sent were not sent",
    "done": ":white_check_mark: Done",
}


def handled(progress: BulkProgress) -> int:
    """Rows that need nothing more from the run: everything but those waiting or held."""
    return max(0, min(progress.total, progress.total - progress.pending - progress.held))


def bar(progress: BulkProgress) -> str:
    """'██████░░░░░░░░░░░░░░ 30%' — how many rows the run has handled."""
    share = handled(progress) / progress.total if progress.total else 1.0
    filled = round(share * BAR_CELLS)
    return f"`{'█' * filled}{'░' * (BAR_CELLS - filled)}` {round(share * 100)}%"


def tallies(progress: BulkProgress) -> str:
    counts = [
        ("sent", progress.sent),
        ("delivered", progress.delivered),
        ("failed", progress.failed),
        ("skipped", progress.skipped),
        ("held for quiet hours", progress.held),
        ("waiting", progress.pending),
    ]
    return " · ".join(f"*{n}* {words}" for words, n in counts)


def state_words(progress: BulkProgress) -> str:
    words = _STATES.get(progress.state, progress.state)
    if progress.state == "scheduled" and progress.at is not None:
        words += f" for {local_time(progress.at)}"
    return words


def progress_card(progress: BulkProgress, *, sandbox: bool) -> Message:
    starter = f"<@{progress.starter}>" if progress.starter else "the command line"
    heading = f"*Bulk SMS* by {starter} · {progress.total} row{'s' if progress.total != 1 else ''}"
    blocks: list[Block] = [
        section(f"{heading}\n{state_words(progress)}"),
        section(f"{bar(progress)}  ({handled(progress)} of {progress.total})"),
        context(tallies(progress)),
    ]
    buttons = control_buttons(progress)
    if buttons:
        blocks.append({"type": "actions", "block_id": "bulk-controls", "elements": buttons})
    if progress.state in FINAL:
        blocks.append(context("The result, one line per row, is in this message's thread."))
    if sandbox:
        blocks.append(context(":test_tube: Sandbox gateway: no real SMS is sent."))
    fallback = (
        f"Bulk SMS by {starter}: {progress.sent} sent, {progress.delivered} delivered, "
        f"{progress.failed} failed, {progress.skipped} skipped of {progress.total} "
        f"({progress.state})"
    )
    return Message(fallback, blocks)


def control_buttons(progress: BulkProgress) -> list[dict[str, Any]]:
    if progress.state in FINAL:
        return []
    buttons = []
    if progress.state in ("running", "scheduled"):
        buttons.append(_button(BULK_PAUSE_ACTION, "Pause", progress.bulk_id))
    if progress.state == "paused":
        buttons.append(_button(BULK_RESUME_ACTION, "Resume", progress.bulk_id, style="primary"))
    cancel = _button(BULK_CANCEL_ACTION, "Cancel", progress.bulk_id, style="danger")
    cancel["confirm"] = {
        "title": plain("Cancel the bulk send?"),
        "text": {"type": "mrkdwn", "text": "Rows not yet sent will not be sent."},
        "confirm": plain("Cancel it"),
        "deny": plain("Keep sending"),
    }
    buttons.append(cancel)
    return buttons


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": plain(label),
        "value": value,
    }
    if style:
        button["style"] = style
    return button


# --------------------------------------------------------------------------- the result file


@dataclass(frozen=True)
class ResultFile:
    filename: str
    title: str
    comment: str


def result_file(progress: BulkProgress) -> ResultFile:
    """The result CSV's name (unique per run: how a repeated upload is recognised), its title
    and the words posted with it."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "", progress.bulk_id)[:40] or "run"
    comment = (
        f"Result of the bulk send: {progress.sent} sent, {progress.delivered} delivered, "
        f"{progress.failed} failed, {progress.skipped} skipped. One line per row: number, text "
        "sent, message ID, final state or reason."
    )
    return ResultFile(f"bulk-{safe}-result.csv", "Bulk SMS result", comment)


# --------------------------------------------------------------------------- the Home tab


def progress_lines(progress: BulkProgress) -> str:
    """A running bulk send in two lines, for the Home tab."""
    return f"{state_words(progress)} · {bar(progress)}\n{tallies(progress)}"
