"""Everything the simulated gateway remembers: sessions, messages, batches, credit, vouchers and
the phones' replies. Thread-safe (one re-entrant lock, which command handlers hold for a whole
command) and free of HTTP and of clocks: callers pass the time in. Snapshots are plain JSON so a
short-lived in-process sandbox (the CLI's) can remember messages between invocations.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

BATCH_LIFETIME = 24 * 3600.0  # batches expire 24 hours after startbatch
CHARGE_WINDOW = 15 * 24 * 3600.0  # getmsgcharge answers only for messages under 15 days old
SNAPSHOT_VERSION = 1


def new_id() -> str:
    """Session, message and batch IDs: 32 lower-case hex digits, like the real gateway's."""
    return secrets.token_hex(16)


@dataclass
class Session:
    id: str
    api_id: str
    last_used: float


@dataclass
class Message:
    apimsgid: str
    climsgid: str | None
    to: str
    sender: str | None
    text: str
    unicode: bool
    parts: int
    charge: float
    created: float
    callback: int
    api_id: str
    params: dict[str, str]
    # (time, status) in time order; the status at any moment is the last entry not in the future,
    # so statuses move with the clock even when no scheduler runs (querymsg is always current).
    timeline: list[list[Any]] = field(default_factory=list)
    api: str = "legacy"  # the API it came by: "legacy", or a Portal integration "one"/"rest"/"http"

    def status_at(self, now: float) -> str:
        status = "001"
        for at, code in self.timeline:
            if at > now:
                break
            status = code
        return status

    @property
    def cancelled(self) -> bool:
        return any(code == "006" for _, code in self.timeline)

    def has_entry(self, at: float, status: str) -> bool:
        return [at, status] in self.timeline


@dataclass
class Batch:
    id: str
    template: str
    unicode: bool
    params: dict[str, str]  # the startbatch parameters, applied to every item
    created: float
    api_id: str


@dataclass
class MoRecord:
    """One inbound SMS part as the sandbox sent (or tried to send) it to the MO URL."""

    momsgid: str
    sender: str  # the phone
    to: str  # the two-way number it texted
    text: str
    charset: str
    udh: str
    at: float
    apimsgid: str  # the message it answers


class State:
    def __init__(self, balance: float):
        self.lock = threading.RLock()
        self.balance = float(balance)
        self.sessions: dict[str, Session] = {}
        self.messages: dict[str, Message] = {}
        self.by_climsgid: dict[str, list[str]] = {}
        self.batches: dict[str, Batch] = {}
        self.vouchers: set[str] = set()
        self.replies: list[MoRecord] = []
        self.reference = secrets.randbelow(256)  # next 8-bit concatenation reference

    # sessions ---------------------------------------------------------------------------------
    def open_session(self, api_id: str, now: float, ttl: float) -> Session:
        with self.lock:
            self._forget_sessions(now, ttl)
            session = Session(new_id(), api_id, now)
            self.sessions[session.id] = session
            return session

    def use_session(self, session_id: str, now: float, ttl: float) -> Session | None:
        """The session, its idle time reset; None when unknown or idle for more than `ttl`."""
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_used > ttl:
                del self.sessions[session_id]
                return None
            session.last_used = now
            return session

    def _forget_sessions(self, now: float, ttl: float) -> None:
        for key in [k for k, s in self.sessions.items() if now - s.last_used > ttl]:
            del self.sessions[key]

    # credit -----------------------------------------------------------------------------------
    def debit(self, amount: float) -> bool:
        """Take `amount` credits; False (and nothing taken) when the balance does not cover it."""
        with self.lock:
            if amount > self.balance + 1e-9:
                return False
            self.balance = round(self.balance - amount, 6)
            return True

    def credit(self, amount: float) -> None:
        with self.lock:
            self.balance = round(self.balance + amount, 6)

    def redeem(self, voucher: str, amount: float) -> bool:
        """Add `amount` for a voucher never redeemed before; False when it was."""
        with self.lock:
            if voucher in self.vouchers:
                return False
            self.vouchers.add(voucher)
            self.credit(amount)
            return True

    # messages ---------------------------------------------------------------------------------
    def add_message(self, message: Message) -> None:
        with self.lock:
            self.messages[message.apimsgid] = message
            if message.climsgid:
                self.by_climsgid.setdefault(message.climsgid, []).append(message.apimsgid)

    def find(self, apimsgid: str | None, climsgid: str | None) -> list[Message]:
        """Messages by API ID, else all messages sent with a client ID (one per recipient)."""
        with self.lock:
            if apimsgid is not None:
                message = self.messages.get(apimsgid)
                return [message] if message else []
            return [self.messages[i] for i in self.by_climsgid.get(climsgid or "", [])]

    def next_reference(self) -> int:
        with self.lock:
            self.reference = (self.reference + 1) % 256
            return self.reference

    # batches ----------------------------------------------------------------------------------
    def add_batch(self, batch: Batch) -> None:
        with self.lock:
            self.batches[batch.id] = batch

    def batch(self, batch_id: str, now: float) -> Batch | None:
        """The batch, or None when unknown, ended or older than 24 hours."""
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is not None and now - batch.created > BATCH_LIFETIME:
                del self.batches[batch_id]
                return None
            return batch

    def end_batch(self, batch_id: str) -> None:
        with self.lock:
            self.batches.pop(batch_id, None)

    # replies ----------------------------------------------------------------------------------
    def add_reply(self, record: MoRecord) -> None:
        with self.lock:
            self.replies.append(record)

    # persistence ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": SNAPSHOT_VERSION,
                "balance": self.balance,
                "sessions": [asdict(s) for s in self.sessions.values()],
                "messages": [asdict(m) for m in self.messages.values()],
                "batches": [asdict(b) for b in self.batches.values()],
                "vouchers": sorted(self.vouchers),
                "replies": [asdict(r) for r in self.replies],
                "reference": self.reference,
            }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> State:
        """The inverse of `snapshot`; raises ValueError for anything that is not one, saying
        what is wrong in words that follow "… is not a sandbox state file: "."""
        if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"it holds no version {SNAPSHOT_VERSION} sandbox snapshot")
        try:
            state = cls(float(data["balance"]))
            for item in data["sessions"]:
                session = Session(**item)
                state.sessions[session.id] = session
            for item in data["messages"]:
                state.add_message(Message(**item))
            for item in data["batches"]:
                state.add_batch(Batch(**item))
            state.vouchers = set(data["vouchers"])
            state.replies = [MoRecord(**item) for item in data["replies"]]
            state.reference = int(data["reference"]) % 256
        except KeyError as exc:
            raise ValueError(f"its {exc.args[0]} field is missing") from None
        except (TypeError, ValueError, AttributeError):
            raise ValueError("a field holds the wrong kind of value") from None
        return state
