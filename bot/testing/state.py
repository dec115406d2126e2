"""The app's durable state as tests and benchmarks read it (and seed it), through the storage port.

Every read the tests and benchmarks make of the app's database goes through this module, and so
does the one way they put state there (`send_with_card`), each through the repositories of a
`Storage` (bot/storage/base.py): no table names, no SQL, so the same questions hold for any
backend. Fault-injection tests that hold the file's lock or fill the disk talk to SQLite on
purpose and do not belong here.

`AppState` wraps a `Storage`: the running app's own (`RunningApp.state`), or one opened on the
database of an app in another process (`AppState.opened(path)`; SQLite's WAL lets it read beside
the app).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

from slack_sdk import WebClient

from bot.domain.records import CALLBACK_KINDS, LogEntry, NewRecipient, OutboxState, Send
from bot.storage import Storage, open_storage

# A processing note that is not an error: a report that came before its send was stored.
NOT_KNOWN_YET = "message not known (yet)"
_EVERYTHING = 1_000_000_000  # a `limit` that means "all of them"
_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)  # every waiting SMS part is older than this


class AppState:
    """Questions about one database, answered by the repositories of one `Storage`."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    @classmethod
    @contextmanager
    def opened(cls, path: str | Path) -> Iterator[AppState]:
        """The state of the database at `path` (another process's app), closed on leaving."""
        with open_storage(path) as storage:
            yield cls(storage)

    # -- the inbox and the outbox ---------------------------------------------------------------
    def backlog(self) -> tuple[int, int]:
        """(callbacks not processed yet, Slack/gateway work still pending)."""
        return self.storage.inbox.count(unprocessed=True), self.storage.outbox.count("pending")

    def outbox_pending(self) -> int:
        """Slack/gateway work still to do."""
        return self.storage.outbox.count("pending")

    def idle(self) -> bool:
        """Every stored callback processed and every outbox item done (or given up)."""
        return not self.storage.inbox.unprocessed(limit=1) and self.outbox_pending() == 0

    def inbox_settled(self) -> bool:
        """Every stored callback has been through the processor at least once."""
        waiting = self.storage.inbox.unprocessed(limit=_EVERYTHING)
        return all(item.attempts > 0 for item in waiting)

    def inbox_total(self) -> int:
        """Callbacks stored so far, processed or not."""
        return self.storage.inbox.count()

    def inbox_by_kind(self) -> Counter[str]:
        """Callbacks stored so far per kind ("status", "mo"), processed or not; kinds that never
        came are left out."""
        return +Counter({kind: self.storage.inbox.count(kind=kind) for kind in CALLBACK_KINDS})

    def inbox_failures(self) -> list[str]:
        """Processing errors recorded on callbacks, besides 'not one of ours (yet)'."""
        failed = self.storage.inbox.failures(limit=_EVERYTHING)
        return [
            item.last_error
            for item in failed
            if item.last_error is not None and item.last_error != NOT_KNOWN_YET
        ]

    def outbox_by_state(self) -> Counter[str]:
        """Outbox items per state (pending, done, failed); states no item is in are left out."""
        states: tuple[OutboxState, ...] = get_args(OutboxState)
        return +Counter({state: self.storage.outbox.count(state) for state in states})

    # -- sends, claims, everything --------------------------------------------------------------
    def recipients(self) -> list[LogEntry]:
        """Every recipient of every send (with its gateway message ID, status and error)."""
        return self.storage.sends.recent_log(limit=_EVERYTHING)

    def claims(self) -> int:
        """Request IDs claimed so far (slash trigger_ids, event_ids, ...)."""
        return self.storage.claims.count()

    def snapshot(self) -> dict[str, list[Any]]:
        """What a refused command must leave exactly as it was: the sends with their
        recipients, the contacts, the opt-outs, the conversations and the waiting SMS parts
        (claims, inbox and outbox are bookkeeping: a refusal may claim the request's ID and
        queue the refusal itself). Equal snapshots mean nothing of that changed."""
        storage = self.storage
        sends = {entry.send_id for entry in self.recipients()}
        conversations = storage.conversations.recent(limit=_EVERYTHING)
        return {
            "sends": [storage.sends.get(send_id) for send_id in sorted(sends)],
            "contacts": storage.contacts.all(),
            "opt_outs": storage.opt_outs.all(),
            "conversations": sorted(conversations, key=lambda c: c.id),
            "mo_parts": storage.mo_parts.stale(timedelta(0), now=_END_OF_TIME),
        }


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
    send = storage.sends.record(
        slack_user=user, channel=channel, text=text, encoding="gsm7", parts=1, recipients=recipients
    )
    response = slack.chat_postMessage(channel=channel, text="card")
    storage.sends.attach_card(send.id, channel, response["ts"])
    stored = storage.sends.get(send.id)
    assert stored is not None
    return stored
