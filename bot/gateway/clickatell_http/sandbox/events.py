"""What happens after a message is accepted: status callbacks per the message's `callback` level,
the phone's replies (MO callbacks), and retries of callbacks the receiver did not take.

All of it runs as scheduler events, on the scheduler's clock, never in the request's thread, so
a slow or failing receiver never slows the gateway's answers.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from bot.gateway.clickatell_http.callbacks import encode_mo_text, format_mo_timestamp
from bot.gateway.clickatell_http.wire import form_body

from .outbox import MO, RETRY_DELAYS, STATUS, CallbackSender, Delivery
from .phone import SANDBOX_TWO_WAY_NUMBER, Reply
from .scheduler import Scheduler
from .state import Message, MoRecord, State, new_id

# §4 `callback`: bit 1 intermediate (003), bit 2 final, bit 4 errors; 7 reports every change,
# including 011 (held for later) and 006 (cancelled), which no single bit names.
INTERMEDIATE_STATUSES = frozenset({"003"})
FINAL_STATUSES = frozenset({"004", "005", "007", "009", "010", "012"})
ERROR_STATUSES = frozenset({"005", "007", "009", "010", "012"})
REPORT_ALL = 7

DELIVERY_LOG_SIZE = 10_000


def wants_status(level: int, status: str) -> bool:
    if level == REPORT_ALL:
        return True
    return bool(
        (level & 1 and status in INTERMEDIATE_STATUSES)
        or (level & 2 and status in FINAL_STATUSES)
        or (level & 4 and status in ERROR_STATUSES)
    )


def form(pairs: list[tuple[str, str | bytes]]) -> str:
    """A form body with every byte outside the unreserved set percent-encoded (spaces as %20,
    so a UTF-16BE 0x20 byte can never be mistaken for a `+`): the client's encoder, since
    callbacks carry no recipient lists whose commas would stay literal."""
    return form_body(pairs).decode("ascii")


def reply_address(sender: str | None) -> str:
    """The number a phone's reply goes to: the message's sender when it is a number."""
    if sender and sender.isdigit():
        return sender
    return SANDBOX_TWO_WAY_NUMBER


class EventRunner:
    def __init__(
        self,
        state: State,
        scheduler: Scheduler,
        sender: CallbackSender,
        clock: Callable[[], float],
        api_id: str,
    ):
        self._state = state
        self._scheduler = scheduler
        self._sender = sender
        self._clock = clock
        self._api_id = api_id  # the account's api_id, used when a message has none
        self._log: deque[Delivery] = deque(maxlen=DELIVERY_LOG_SIZE)
        self._log_lock = threading.Lock()
        scheduler.register("status", self._on_status)
        scheduler.register("reply", self._on_reply)
        scheduler.register("deliver", self._on_deliver)

    # called by the command handlers ------------------------------------------------------------
    def message_accepted(self, message: Message, reply: Reply | None, handed_on: float) -> None:
        if self._sender.url(STATUS):
            for at, status in message.timeline:
                self._status_event(message, at, status)
        if reply is not None:
            for part in reply.parts:
                at = handed_on + reply.offset
                data = {
                    "apimsgid": message.apimsgid,
                    "at": at,
                    "text": part.text,
                    "udh": part.udh,
                    "charset": reply.charset,
                }
                self._scheduler.schedule(at, "reply", data)

    def message_cancelled(self, message: Message, at: float) -> None:
        if self._sender.url(STATUS):
            self._status_event(message, at, "006")

    def deliveries(self) -> list[Delivery]:
        with self._log_lock:
            return list(self._log)

    # events ---------------------------------------------------------------------------------
    def _status_event(self, message: Message, at: float, status: str) -> None:
        if wants_status(message.callback, status):
            data = {"apimsgid": message.apimsgid, "at": at, "status": status}
            self._scheduler.schedule(at, "status", data)

    def _on_status(self, data: Mapping[str, Any]) -> None:
        with self._state.lock:
            message = self._state.messages.get(data["apimsgid"])
            # A cancelled message's future statuses were removed: their reports must not go out.
            if message is None or not message.has_entry(data["at"], data["status"]):
                return
            body = form(
                [
                    ("api_id", message.api_id or self._api_id),
                    ("apiMsgId", message.apimsgid),
                    ("cliMsgId", message.climsgid or ""),
                    ("to", message.to),
                    ("from", message.sender or ""),
                    ("timestamp", str(int(data["at"]))),
                    ("status", data["status"]),
                    ("charge", f"{message.charge:.6f}"),
                ]
            )
        self._deliver(STATUS, body, 0)

    def _on_reply(self, data: Mapping[str, Any]) -> None:
        with self._state.lock:
            message = self._state.messages.get(data["apimsgid"])
            if message is None or message.cancelled:
                return
            record = MoRecord(
                momsgid=new_id(),
                sender=message.to,
                to=reply_address(message.sender),
                text=data["text"],
                charset=data["charset"],
                udh=data["udh"],
                at=float(data["at"]),
                apimsgid=message.apimsgid,
            )
            self._state.add_reply(record)
            api_id = message.api_id or self._api_id
        if self._sender.url(MO):
            self._deliver(MO, self._mo_body(record, api_id), 0)

    def _mo_body(self, record: MoRecord, api_id: str) -> str:
        return form(
            [
                ("api_id", api_id),
                ("moMsgId", record.momsgid),
                ("from", record.sender),
                ("to", record.to),
                ("timestamp", format_mo_timestamp(record.at)),
                ("text", encode_mo_text(record.text, record.charset)),
                ("charset", record.charset),
                ("udh", record.udh),
            ]
        )

    def _on_deliver(self, data: Mapping[str, Any]) -> None:
        self._deliver(data["channel"], data["body"], int(data["attempt"]))

    def _deliver(self, channel: str, body: str, attempt: int) -> None:
        url = self._sender.url(channel)
        if url is None:
            return
        ok, outcome = self._sender.post(channel, body)
        now = self._clock()
        with self._log_lock:
            self._log.append(Delivery(channel, url, body, attempt, now, ok, outcome))
        delays = RETRY_DELAYS[channel]
        if not ok and attempt < len(delays):
            data = {"channel": channel, "body": body, "attempt": attempt + 1}
            self._scheduler.schedule(now + delays[attempt], "deliver", data)
