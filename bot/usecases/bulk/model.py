"""The bulk send's plain types: what the Slack side, the command line and the engine share.

A bulk send goes through two steps. `prepare` reads the source (a CSV file, pasted numbers or a
group), checks every row and stores the plan durably, so nothing the preview promised can change
before Send; `start` turns the stored plan into a run (now or `at`). `plan_id` and the run's
`bulk_id` are the same string: a plan is started at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class BulkRefused(Exception):
    """Bad input or a request that cannot be done, in plain words; nothing was stored or sent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class BulkSource:
    """Where the recipients come from: exactly one of `csv_bytes`, `numbers` and `group`."""

    csv_bytes: bytes | None = None  # a CSV file's raw bytes (from Slack's file or the CLI)
    numbers: tuple[str, ...] = ()  # pasted numbers / contact names as typed
    group: str | None = None  # a group name (its members, one row each)
    to_column: str | None = None  # the CSV column holding the number (found by header if None)


@dataclass(frozen=True)
class BulkRowPreview:
    """One message exactly as it will be sent."""

    row: int
    to: str
    text: str


@dataclass(frozen=True)
class BulkSkip:
    """A row that will not be sent, and why: "opted out", "invalid number: …",
    "duplicate of row 3", "too long: …"."""

    row: int
    to: str
    reason: str


@dataclass(frozen=True)
class BulkPlan:
    """Everything shown before Send; stored durably so Send can start it later."""

    plan_id: str
    rows: int
    valid: int
    invalid: int
    duplicates: int
    opted_out: int
    parts: int  # of the worst row
    encoding: str  # of the worst row: "gsm7" | "ucs2"
    credits_estimate: float | None  # None when the gateway cannot tell
    preview: tuple[BulkRowPreview, ...]  # the first few messages exactly as they will be sent
    skipped: tuple[BulkSkip, ...]
    text: str
    starter: str
    channel: str | None


@dataclass(frozen=True)
class BulkProgress:
    """A run's state and tallies: what the progress card and the Home tab show."""

    bulk_id: str
    state: str  # "planned" | "scheduled" | "running" | "paused" | "cancelled" | "done"
    total: int
    sent: int  # handed to the gateway (delivered and failed-after-sending included)
    delivered: int
    failed: int
    skipped: int
    held: int  # waiting for the recipient's quiet hours to end
    pending: int
    starter: str
    channel: str | None
    card_ts: str | None
    at: datetime | None


@dataclass(frozen=True)
class BulkFailure:
    """A row the gateway refused (or whose outcome stayed unknown), for the CLI's JSON."""

    row: int
    to: str
    code: str | None
    description: str
