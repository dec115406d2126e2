"""What happens after a message is accepted: status callbacks per the message's `callback` level,
the phone's replies (MO callbacks), and retries of callbacks the receiver did not take.

All of it runs as scheduler events, on the scheduler's clock, never in the request's thread, so
a slow or failing receiver never slows the gateway's answers.

A message sent by a Portal integration (Platform mode) is reported the Portal's way: JSON in the
shape of its API, posted to the same URLs exactly as given (query string included, so `?token=`
works) without basic credentials, retried after 1, 2, 4, 8 and 16 s, and with the Portal's
warned-of quirks: every `quirk_every`-th callback comes twice, and every `quirk_every`-th
message reports its "sent" status after its final one (deterministic, so tests can rely on it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from bot.gateway.clickatell_http.callbacks import encode_mo_text, format_mo_timestamp
from bot.gateway.clickatell_http.wire import form_body

from . import platform_wire
from .outbox import MO, PLATFORM_RETRY_DELAYS, RETRY_DELAYS, STATUS, CallbackSender, Delivery
from .phone import SANDBOX_TWO_WAY_NUMBER, Reply
from .scheduler import Scheduler
from .state import Message, MoRecord, State, new_id

# §4 `callback`: bit 1 intermediate (003), bit 2 final, bit 4 errors; 7 reports every change,
# including 011 (held for later) and 006 (cancelled), which no single bit names.
INTERMEDIATE_STATUSES = frozenset({"003"})
FINAL_STATUSES = frozenset({"004", "005", "007", "009", "010", "012"})
ERROR_STATUSES = frozenset({"005", "007", "009", "010", "012"})
REPORT_ALL = 7
QUIRK_EVERY = 10  # Platform mode: one callback in ten twice, one message in ten out of order
LATE_SENT = 0.5  # seconds after its final status that an out-of-order "sent" status comes

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
        quirk_every: int = QUIRK_EVERY,
    ):
        self._state = state
        self._scheduler = scheduler
        self._sender = sender
        self._clock = clock
        self._api_id = api_id  # the account's api_id, used when a message has none
        self._log: deque[Delivery] = deque(maxlen=DELIVERY_LOG_SIZE)
        self._log_lock = threading.Lock()
        self._quirk_every = quirk_every
        self._platform_messages = 0
        self._platform_callbacks = 0
        scheduler.register("status", self._on_status)
        scheduler.register("reply", self._on_reply)
        scheduler.register("deliver", self._on_deliver)

    # called by the command handlers ------------------------------------------------------------
    def message_accepted(self, message: Message, reply: Reply | None, handed_on: float) -> None:
        if self._sender.url(STATUS):
            late = message.api in platform_wire.PLATFORM_APIS and self._quirk("messages")
            final_at = max((at for at, _ in message.timeline), default=handed_on)
            for at, status in message.timeline:
                due = final_at + LATE_SENT if late and status in INTERMEDIATE_STATUSES else at
                self._status_event(message, at, status, due)
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
    def _quirk(self, counter: str) -> bool:
        """Whether this Platform message (or callback) is the `quirk_every`-th one."""
        if self._quirk_every <= 0:
            return False
        if counter == "messages":
            self._platform_messages += 1
            return self._platform_messages % self._quirk_every == 0
        self._platform_callbacks += 1
        return self._platform_callbacks % self._quirk_every == 0

    def _status_event(
        self, message: Message, at: float, status: str, due: float | None = None
    ) -> None:
        if wants_status(message.callback, status):
            data = {"apimsgid": message.apimsgid, "at": at, "status": status}
            self._scheduler.schedule(at if due is None else due, "status", data)

    def _on_status(self, data: Mapping[str, Any]) -> None:
        with self._state.lock:
            message = self._state.messages.get(data["apimsgid"])
            # A cancelled message's future statuses were removed: their reports must not go out.
            if message is None or not message.has_entry(data["at"], data["status"]):
                return
            platform = message.api in platform_wire.PLATFORM_APIS
            if platform:
                body = platform_wire.status_callback(message, data["status"], data["at"])
            else:
                body = self._status_form(message, data)
        if platform:
            self._deliver_platform(STATUS, body)
        else:
            self._deliver(STATUS, body, 0)

    def _status_form(self, message: Message, data: Mapping[str, Any]) -> str:
        return form(
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
            platform = message.api in platform_wire.PLATFORM_APIS
            json_body = platform_wire.reply_callback(message, record) if platform else ""
        if platform:
            self._deliver_platform(MO, json_body)
        elif self._sender.url(MO):
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
        platform = bool(data.get("json", False))
        self._deliver(data["channel"], data["body"], int(data["attempt"]), platform=platform)

    def _deliver_platform(self, channel: str, body: str) -> None:
        """A Platform callback, twice when it is the `quirk_every`-th (§9)."""
        twice = self._quirk("callbacks")
        self._deliver(channel, body, 0, platform=True)
        if twice:
            self._deliver(channel, body, len(PLATFORM_RETRY_DELAYS), platform=True)

    def _deliver(self, channel: str, body: str, attempt: int, *, platform: bool = False) -> None:
        url = self._sender.url(channel)
        if url is None:
            return
        ok, outcome = self._sender.post(channel, body, platform=platform)
        now = self._clock()
        with self._log_lock:
            self._log.append(Delivery(channel, url, body, attempt, now, ok, outcome))
        delays = PLATFORM_RETRY_DELAYS if platform else RETRY_DELAYS[channel]
        if not ok and attempt < len(delays):
            data = {"channel": channel, "body": body, "attempt": attempt + 1, "json": platform}
            self._scheduler.schedule(now + delays[attempt], "deliver", data)
