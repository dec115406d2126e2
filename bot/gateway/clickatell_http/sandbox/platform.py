"""The sandbox's Platform mode: the Clickatell Portal's three integrations on the legacy API's
port (clickatell-platform.md §9).

    POST /v1/message             One API send, at most 200 messages     Authorization: KEY
    GET  /v1/message/{id}        One API status query                   Authorization: KEY
    GET  /v1/balance             One API balance                        Authorization: KEY
    POST /messages               SMS REST send, at most 200 recipients  Authorization: KEY
    GET  /messages/http/send     SMS HTTP send                          ?apiKey=KEY
    GET  /public-client/balance  SMS integrations' balance              either

Any non-empty key is accepted unless `api_key` is given; `Bearer …` is refused like a wrong key
(§1 Decision). The answers are §3's bodies: 202, 207 mixed, 400 (One API JSON; SMS `Error`),
401 with each generation's key error. `rate_limit` messages (recipients) a second pass; the One
API refuses the rest with 43, the SMS integrations the whole request with 429 `Error`. Messages
taken here share the legacy mode's credit (one ZAR per part), phones and callbacks.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from bot.sms.encoding import measure

from . import platform_wire as wire
from .commands import COST_PER_PART
from .events import EventRunner
from .phone import has_opted_out, is_routable, is_valid_number, plan_for
from .platform_wire import ONE_API, SMS_HTTP, SMS_REST, Refusal
from .state import Message, State, new_id
from .text import MAX_PARTS_CEILING

MAX_MESSAGES = 200
_QUERY_PATH = re.compile(r"/v1/message/([^/]+)")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = wire.JSON
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, bytes]
    body: bytes
    authorization: str | None
    now: float


def parse_query(raw: bytes) -> dict[str, bytes]:
    params: dict[str, bytes] = {}
    for field in raw.split(b"&"):
        if field:
            name, _, value = field.partition(b"=")
            key = unquote_to_bytes(name.replace(b"+", b" ")).decode("latin-1")
            params.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return params


class RateLimit:
    """At most `per_second` messages in each second of the sandbox's clock (None: no limit)."""

    def __init__(self, per_second: int | None):
        self.per_second = per_second
        self._second = -1
        self._used = 0

    def take(self, wanted: int, now: float, *, all_or_nothing: bool = False) -> int:
        """How many of `wanted` may go now (they are counted as gone)."""
        if self.per_second is None:
            return wanted
        second = math.floor(now)
        if second != self._second:
            self._second, self._used = second, 0
        free = max(0, self.per_second - self._used)
        granted = (wanted if wanted <= free else 0) if all_or_nothing else min(wanted, free)
        self._used += granted
        return granted


class PlatformApi:
    """Answers the Portal's paths; `handle` returns None for a path that is not one of them."""

    def __init__(
        self,
        state: State,
        events: EventRunner,
        clock: Callable[[], float],
        api_key: str | None = None,
        rate_limit: int | None = None,
    ):
        self._state = state
        self._events = events
        self._clock = clock
        self._api_key = api_key
        self._limit = RateLimit(rate_limit)
        self._routes: dict[tuple[str, str], Callable[[Request], Reply]] = {
            ("POST", "/v1/message"): self._one_api_send,
            ("GET", "/v1/balance"): self._one_api_balance,
            ("POST", "/messages"): self._rest_send,
            ("GET", "/messages/http/send"): self._http_send,
            ("GET", "/public-client/balance"): self._sms_balance,
        }

    def handle(
        self, method: str, path: str, query: bytes, body: bytes, authorization: str | None
    ) -> Reply | None:
        request = Request(method, path, parse_query(query), body, authorization, self._clock())
        handler = self._routes.get((method, path))
        if handler is None and method == "GET" and _QUERY_PATH.fullmatch(path):
            handler = self._one_api_query
        if handler is None:
            if any(known == path for _, known in self._routes):
                return Reply(400, wire.call_error(42, "Request method not supported"))
            return None
        with self._state.lock:
            return handler(request)

    # --- keys ---

    def _key_ok(self, given: str | None) -> bool:
        if not given or given.lower().startswith("bearer "):
            return False  # §1 Decision: never Bearer; refused like a wrong key
        if self._api_key is None:
            return True
        return hmac.compare_digest(given.encode(), self._api_key.encode())

    @staticmethod
    def _header_key(request: Request) -> str | None:
        return (request.authorization or "").strip() or None

    @staticmethod
    def _query_key(request: Request) -> str | None:
        raw = request.query.get("apiKey")
        return raw.decode("utf-8", errors="replace").strip() if raw else None

    # --- accepting a message (both generations' rules, Platform answers) ---

    def _accept(
        self, api: str, to: str, content: str, sender: str | None, client_id: str | None, now: float
    ) -> Message | Refusal:
        number = to.strip().removeprefix("+")
        if not (number.isascii() and number.isdigit()):
            return wire.MALFORMED
        if not is_valid_number(number) or not is_routable(number):
            return wire.INVALID
        if has_opted_out(number):
            return wire.OPTED_OUT
        if not content.strip():
            return wire.NO_CONTENT
        parts = measure(content)[2]
        if parts > MAX_PARTS_CEILING:
            return wire.TOO_LONG
        if not self._state.debit(parts * COST_PER_PART):
            return wire.NO_BALANCE
        plan = plan_for(number, content, None, self._state.next_reference(), whole=True)
        message = Message(
            apimsgid=new_id(),
            climsgid=client_id,
            to=number,
            sender=sender,
            text=content,
            unicode=measure(content)[0] == "ucs2",
            parts=parts,
            charge=parts * COST_PER_PART,
            created=now,
            callback=7,
            api_id="",
            params={},
            timeline=[[now + offset, status] for offset, status in plan.statuses],
            api=api,
        )
        self._state.add_message(message)
        self._events.message_accepted(message, plan.reply, now)
        return message

    # --- One API ---

    def _one_api_send(self, request: Request) -> Reply:
        if not self._key_ok(self._header_key(request)):
            return Reply(401, wire.one_api_key_refused())
        items = _json_messages(request.body)
        if items is None:
            return Reply(400, wire.call_error(21, "Payload malformed"))
        if not items:
            return Reply(400, wire.call_error(23, "Invalid or missing parameter: messages ."))
        if len(items) > MAX_MESSAGES:
            return Reply(400, wire.call_error(22, "Max number of messages in batch exceeded"))
        allowed = self._limit.take(len(items), request.now)
        if allowed == 0:
            return Reply(429, wire.call_error(43, "Rate limit"), headers=(("Retry-After", "1"),))
        entries = [
            self._one_api_item(item, index < allowed, request.now)
            for index, item in enumerate(items)
        ]
        taken = sum(1 for entry in entries if entry["accepted"] is True)
        status = 202 if taken == len(entries) else (207 if taken else 400)
        return Reply(status, wire.messages_body(entries))

    def _one_api_item(self, item: object, allowed: bool, now: float) -> dict[str, object]:
        fields = item if isinstance(item, dict) else {}
        to = str(fields.get("to") or "")
        if not allowed:
            return wire.one_api_refused_entry(wire.RATE_LIMITED, to)
        client_id = fields.get("clientMessageId")
        sender = fields.get("from")
        found = self._accept(
            ONE_API,
            to,
            str(fields.get("content") or ""),
            str(sender) if sender else None,
            str(client_id) if client_id else None,
            now,
        )
        if isinstance(found, Refusal):
            return wire.one_api_refused_entry(found, to)
        return wire.accepted_entry(found.apimsgid, to)

    def _one_api_query(self, request: Request) -> Reply:
        if not self._key_ok(self._header_key(request)):
            return Reply(401, wire.one_api_key_refused())
        match = _QUERY_PATH.fullmatch(request.path)
        message = self._state.messages.get(match.group(1)) if match else None
        return Reply(200, wire.query_body(message, request.now))

    def _one_api_balance(self, request: Request) -> Reply:
        if not self._key_ok(self._header_key(request)):
            return Reply(401, wire.one_api_key_refused())
        return Reply(200, wire.balance_body(ONE_API, self._state.balance))

    # --- SMS REST and SMS HTTP ---

    def _rest_send(self, request: Request) -> Reply:
        if not self._key_ok(self._header_key(request)):
            return Reply(401, wire.sms_key_refused())
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _sms_error(400)
        if not isinstance(data, dict):
            return _sms_error(400)
        to = data.get("to")
        numbers = [str(n) for n in to] if isinstance(to, list) else _numbers(str(to or ""))
        sender, client_id = data.get("from"), data.get("clientMessageId")
        return self._sms_send(
            SMS_REST,
            numbers,
            str(data.get("content") or ""),
            str(sender) if sender else None,
            str(client_id) if client_id else None,
            request.now,
        )

    def _http_send(self, request: Request) -> Reply:
        if not self._key_ok(self._query_key(request)):
            return Reply(401, wire.sms_key_refused())
        text = {k: v.decode("utf-8", errors="replace") for k, v in request.query.items()}
        numbers = _numbers(text.get("to", ""))
        return self._sms_send(
            SMS_HTTP, numbers, text.get("content", ""), text.get("from") or None, None, request.now
        )

    def _sms_send(
        self,
        api: str,
        numbers: list[str],
        content: str,
        sender: str | None,
        client_id: str | None,
        now: float,
    ) -> Reply:
        if not numbers or len(numbers) > MAX_MESSAGES or not content:
            return _sms_error(400)
        if not self._limit.take(len(numbers), now, all_or_nothing=True):
            return _sms_error(429)
        entries = []
        for to in numbers:
            found = self._accept(api, to, content, sender, client_id, now)
            if isinstance(found, Refusal):
                entries.append(wire.sms_refused_entry(found, to))
            else:
                entries.append(wire.accepted_entry(found.apimsgid, to))
        return Reply(202, wire.messages_body(entries))

    def _sms_balance(self, request: Request) -> Reply:
        if not self._key_ok(self._header_key(request) or self._query_key(request)):
            return Reply(401, wire.sms_key_refused())
        return Reply(200, wire.balance_body(SMS_REST, self._state.balance))


def _json_messages(body: bytes) -> list[object] | None:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    items = data.get("messages") if isinstance(data, dict) else None
    return items if isinstance(items, list) else None


def _numbers(value: str) -> list[str]:
    """`to` as one number or a literal comma list (§2: never a list's repr)."""
    return [n.strip() for n in value.split(",") if n.strip()]


def _sms_error(status: int) -> Reply:
    headers = (("Retry-After", "1"),) if status == 429 else ()
    return Reply(status, wire.SMS_ERROR_TEXT.encode(), "text/plain", headers)
