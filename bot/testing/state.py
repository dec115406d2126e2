"""The app's durable state as tests and benchmarks read it (and seed it), through `Storage`.

Every read the tests and benchmarks make of the app's database goes through this module, and so
does the one way they put state there (`send_with_card`): the storage interface is being split
into repositories, and re-pointing them is then an edit of this file alone. Fault-injection tests
that hold the file's lock or fill the disk talk to SQLite on purpose and do not belong here.

`AppState` wraps a `Storage`: the running app's own (`RunningApp.state`), or one opened on the
file of an app in another process (`AppState.opened(path)`; SQLite's WAL lets it read beside the
app). Where `Storage` has a method for a question, that method answers it. The few questions it
has no method for yet (totals per table, every row of a table) run their SELECT inside the
Storage's own read snapshot (`_rows`), so no test or benchmark opens a connection of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bot.storage import LogEntry, NewRecipient, Send, Storage

# What a refused command must leave exactly as it was (claims, inbox and outbox are bookkeeping:
# a refusal may claim the request's ID and queue the refusal itself).
STATE_TABLES = ("sends", "recipients", "contacts", "opt_outs", "conversations", "mo_parts")
# A processing note that is not an error: a report that came before its send was stored.
NOT_KNOWN_YET = "message not known (yet)"
_EVERYTHING = 1_000_000_000  # a `limit` that means "all of them"


class AppState:
    """Questions about one database, answered through one `Storage`."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @classmethod
    @contextmanager
    def opened(cls, path: str | Path) -> Iterator[AppState]:
        """The state of the database at `path` (another process's app), closed on leaving."""
        with Storage(path) as storage:
            yield cls(storage)

    # -- the inbox and the outbox ---------------------------------------------------------------
    def backlog(self) -> tuple[int, int]:
        """(callbacks not processed yet, Slack/gateway work still pending)."""
        unprocessed = len(self.storage.fetch_unprocessed(limit=_EVERYTHING))
        return unprocessed, self.storage.pending_outbox()

    def outbox_pending(self) -> int:
        """Slack/gateway work still to do."""
        return self.storage.pending_outbox()

    def idle(self) -> bool:
        """Every stored callback processed and every outbox item done (or given up)."""
        return not self.storage.fetch_unprocessed(limit=1) and self.storage.pending_outbox() == 0

    def inbox_settled(self) -> bool:
        """Every stored callback has been through the processor at least once."""
        waiting = self.storage.fetch_unprocessed(limit=_EVERYTHING)
        return all(item.attempts > 0 for item in waiting)

    def inbox_total(self) -> int:
        """Callbacks stored so far, processed or not."""
        return int(self._rows("SELECT count(*) FROM inbox")[0][0])

    def inbox_by_kind(self) -> Counter[str]:
        """Callbacks stored so far per kind ("status", "mo"), processed or not."""
        return Counter(dict(self._rows("SELECT kind, count(*) FROM inbox GROUP BY kind")))

    def inbox_failures(self) -> list[str]:
        """Processing errors recorded on callbacks, besides 'not one of ours (yet)'."""
        rows = self._rows("SELECT last_error FROM inbox WHERE last_error IS NOT NULL")
        return [row[0] for row in rows if row[0] != NOT_KNOWN_YET]

    def outbox_by_state(self) -> Counter[str]:
        """Outbox items per state: pending, done, failed."""
        return Counter(dict(self._rows("SELECT state, count(*) FROM outbox GROUP BY state")))

    # -- sends, claims, everything --------------------------------------------------------------
    def recipients(self) -> list[LogEntry]:
        """Every recipient of every send (with its gateway message ID, status and error)."""
        return self.storage.recent_log(limit=_EVERYTHING)

    def claims(self) -> int:
        """Request IDs claimed so far (slash trigger_ids, event_ids, ...)."""
        return int(self._rows("SELECT count(*) FROM claims")[0][0])

    def snapshot(self, tables: Sequence[str] = STATE_TABLES) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of `tables`, in a stable order: equal snapshots mean nothing changed."""
        return {table: sorted(self._rows(f"SELECT * FROM {table}"), key=repr) for table in tables}

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        """A read `Storage` has no method for yet, in its own read snapshot."""
        with self.storage._read() as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]


def send_with_card(
    storage: Storage,
    slack: WebClient,
    channel: str,
    recipients: Sequence[NewRecipient],
    *,
    user: str = "U0ALICE",
    text: str = "Hello",
) -> Send:
    """A recorded send whose card is posted, as `/sms send` leaves it: how rigs, the kill-burst
    test and the callback benchmark put sends in the database without typing commands."""
    send = storage.record_send(
        slack_user=user, channel=channel, text=text, encoding="gsm7", parts=1, recipients=recipients
    )
    response = slack.chat_postMessage(channel=channel, text="card")
    storage.attach_card(send.id, channel, response["ts"])
    stored = storage.get_send(send.id)
    assert stored is not None
    return stored
