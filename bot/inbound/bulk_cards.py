"""What the outbox needs to show bulk runs in Slack: a run's progress and its result, rendered.

The engine (bot/usecases/bulk) queues `OutboxKind.BULK_PROGRESS` whenever a run's tallies change
(coalesced: one pending item per run) and `BULK_RESULT` once when it ends; the outbox's handlers
(bot/inbound/outbox.py) do the Slack calls — the card posted once and then updated in place, paced;
the result CSV uploaded in the card's thread — and ask this board for the content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.blocks.base import Message
from bot.blocks.bulk_card import ResultFile, progress_card, result_file
from bot.usecases import bulk
from bot.usecases.bulk import BulkProgress, BulkRefused
from bot.usecases.ports import AppPorts


@dataclass(frozen=True)
class BulkResult:
    file: ResultFile
    content: bytes


class BulkBoard:
    def __init__(
        self, ports: AppPorts, *, sandboxed: bool, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self._ports = ports
        self._sandboxed = sandboxed
        self.on_change = on_change  # the Home tab shows running bulk sends

    def progress(self, bulk_id: str) -> BulkProgress | None:
        """The run as it stands; None when there is no such run (any more)."""
        try:
            return bulk.progress(self._ports, bulk_id)
        except BulkRefused:
            return None

    def card(self, progress: BulkProgress) -> Message:
        return progress_card(progress, sandbox=self._sandboxed)

    def result(self, progress: BulkProgress) -> BulkResult:
        return BulkResult(result_file(progress), bulk.result_csv(self._ports, progress.bulk_id))

    def card_posted(self, bulk_id: str, channel: str, ts: str) -> None:
        self._ports.storage.bulks.set_card(bulk_id, channel, ts)

    def changed(self) -> None:
        self.on_change()
