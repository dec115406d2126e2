"""The Portal's callbacks as the port's `CallbackDecoder` (clickatell-platform.md §5).

Two shapes arrive on the same two paths:
- the One API envelope, `{"integrationId": …, "event": {"messageStatusUpdate": […], "moText":
  […]}}`, which may hold several events of several types;
- the SMS integrations' flat fields (`messageId`, `statusCode`, … or `replyMessageId`,
  `fromNumber`, `text`, …), as a JSON body or as the query string of a GET.

Each event is stored on its own, as a payload that decodes to that event alone: a One API event is
kept inside an envelope of its own (the integration's fields and the event's unknown fields
included), a flat callback as it came minus the `token` parameter (a secret has no business in
the database). What an event is follows from its content, not from the path it came to: a
Portal set up with one URL for everything still gets its replies threaded.

Unknown fields are kept and ignored; an event of an unknown type is stored as an `IgnoredEvent`
(product.md §3: stored and ignored), never an error. There is no account to check: the Portal
names none we could verify (`?token=` proves the sender, checked by the endpoint).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from bot.gateway.base import (
    Callback,
    CallbackError,
    CallbackKind,
    DecodedCallback,
    IgnoredEvent,
    InboundMessage,
    MessagePart,
    StatusReport,
)
from bot.gateway.clickatell_http.callbacks import parse_udh
from bot.gateway.clickatell_platform import fields
from bot.gateway.clickatell_platform.codes import one_api_status, sms_status

log = logging.getLogger(__name__)

STATUS_EVENT = "messageStatusUpdate"
TEXT_EVENT = "moText"
MEDIA_EVENT = "moMedia"
MEDIA_NOTE = "(a media message came: it cannot be shown here; open it in the Clickatell Portal)"
TOKEN = "token"
_ENVELOPE_FIELDS = ("integrationId", "integrationName")
_MO_FIELDS = ("text", "replyMessageId", "fromNumber")


def parse_query(raw: bytes) -> dict[str, bytes]:
    """A query string or form body -> name -> value bytes (the first value of a repeated name);
    `+` is a space, `%XX` a byte, never decoded as text here."""
    params: dict[str, bytes] = {}
    for field in raw.split(b"&"):
        if not field:
            continue
        name, _, value = field.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("latin-1")
        if key and key not in params:
            params[key] = unquote_to_bytes(value.replace(b"+", b" "))
    return params


def without_token(raw: bytes) -> bytes:
    """The query string or form body without its `token` parameter, otherwise byte for byte."""
    kept = [f for f in raw.split(b"&") if f and unquote_to_bytes(f.partition(b"=")[0]) != b"token"]
    return b"&".join(kept)


class PlatformCallbacks:
    """Decodes the Portal's status and reply callbacks, whichever integration sends them."""

    def decode_request(
        self, kind: CallbackKind, query: bytes, body: bytes
    ) -> list[DecodedCallback]:
        """Each event the request holds; none for a request without content (a URL check)."""
        if body.strip():
            if body.lstrip()[:1] == b"{":
                return _json_events(_json_object(body), kind)
            form = without_token(body)
            return [DecodedCallback(form, _flat(parse_query(form), kind, from_query=True))]
        flat = without_token(query)
        if not flat:
            return []
        return [DecodedCallback(flat, _flat(parse_query(flat), kind, from_query=True))]

    def decode_stored(self, kind: CallbackKind, payload: bytes) -> Callback:
        if payload.lstrip()[:1] == b"{":
            events = _json_events(_json_object(payload), kind)
            if len(events) != 1:
                raise CallbackError("a stored callback holds one event")
            return events[0].callback
        return _flat(parse_query(payload), kind, from_query=True)


def _json_object(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CallbackError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise CallbackError("the body is not a JSON object")
    if b"\\u" in body and not _encodable(data):
        raise CallbackError("the body holds an escaped lone surrogate, which is not text")
    return data


def _encodable(data: object) -> bool:
    """Whether the JSON's strings are real Unicode: `\\ud800` alone parses as a lone surrogate,
    which can be neither stored nor shown. Only checked when the body has escapes at all."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_events(data: Mapping[str, object], kind: CallbackKind) -> list[DecodedCallback]:
    """A One API envelope's events, each with an envelope of its own to store; a flat JSON
    callback as one event."""
    if not data:
        return []  # `{}`: a URL check, nothing to store
    event = data.get("event")
    if not isinstance(event, Mapping):
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return [DecodedCallback(payload, _flat(data, kind, from_query=False))]
    envelope = {name: data[name] for name in _ENVELOPE_FIELDS if name in data}
    decoded = []
    for event_type, items in event.items():
        if not isinstance(items, list):
            raise CallbackError(f"event {event_type} must be a list")
        for item in items:
            if not isinstance(item, Mapping):
                raise CallbackError(f"an item of event {event_type} is not an object")
            one = {**envelope, "event": {event_type: [item]}}
            payload = json.dumps(one, ensure_ascii=False, separators=(",", ":")).encode()
            decoded.append(DecodedCallback(payload, _one_api(event_type, item)))
    return decoded


def _one_api(event_type: str, item: fields.Fields) -> Callback:
    if event_type == STATUS_EVENT:
        return _one_api_status(item)
    if event_type not in (TEXT_EVENT, MEDIA_EVENT):
        log.info("Portal callback event type %r stored and ignored", event_type[:40])
        raw = json.dumps(item, sort_keys=True, ensure_ascii=False).encode()
        digest = hashlib.sha256(event_type.encode() + b"\n" + raw).hexdigest()[:32]
        return IgnoredEvent(f"{event_type[:40]}:{digest}", event_type)
    message_id = fields.identifier(item, "messageId")
    content = (
        MEDIA_NOTE
        if event_type == MEDIA_EVENT
        else fields.decode_text(item.get("content"), _charset(item), from_query=False)
    )
    return InboundMessage(
        key=message_id,
        message_id=message_id,
        sender=fields.phone(item, "from"),
        to=fields.text(item, "to"),
        text=content,
        timestamp=fields.timestamp(item),
        part=None,  # One API replies arrive reassembled (§5)
    )


def _one_api_status(item: fields.Fields) -> StatusReport:
    message_id = fields.identifier(item, "messageId")
    status = one_api_status(fields.number(item, "statusCode"), fields.text(item, "status"))
    moment = fields.timestamp(item)
    return StatusReport(
        key=f"{message_id}:{status.code}:{fields.epoch_ms(moment)}",
        message_id=message_id,
        client_id=fields.identifier(item, "clientMessageId", required=False) or None,
        to=fields.text(item, "to"),
        status=status,
        timestamp=moment,
        charge=None,
    )


def _charset(item: fields.Fields) -> str | None:
    return fields.text(item, "charset") or None


def _is_reply(data: fields.Fields, kind: CallbackKind) -> bool:
    if any(name in data for name in _MO_FIELDS):
        return True
    if "statusCode" in data or "status" in data:
        return False
    return kind == "mo"


def _flat(data: fields.Fields, kind: CallbackKind, *, from_query: bool) -> Callback:
    """An SMS integration's callback: a status, or a reply (decided by its fields)."""
    if _is_reply(data, kind):
        return _flat_reply(data, from_query=from_query)
    message_id = fields.identifier(data, "messageId", "apiMessageId")
    status = sms_status(fields.number(data, "statusCode"), fields.text(data, "status"))
    moment = fields.timestamp(data)
    return StatusReport(
        key=f"{message_id}:{status.code}:{fields.epoch_ms(moment)}",
        message_id=message_id,
        client_id=fields.identifier(data, "clientMessageId", required=False) or None,
        to=fields.text(data, "to"),
        status=status,
        timestamp=moment,
        charge=None,
    )


def _flat_reply(data: fields.Fields, *, from_query: bool) -> InboundMessage:
    sender = fields.phone(data, "fromNumber", "from")
    moment = fields.timestamp(data)
    content = fields.decode_text(data.get("text"), _charset(data), from_query=from_query)
    reply_id = fields.identifier(data, "replyMessageId", required=False)
    key = reply_id or _content_key(sender, fields.epoch_ms(moment), content)
    udh = parse_udh(fields.text(data, "udh"))
    return InboundMessage(
        key=key,
        message_id=reply_id or key,
        sender=sender,
        to=fields.text(data, "toNumber") or fields.text(data, "to"),
        text=content,
        timestamp=moment,
        part=MessagePart(udh.reference, udh.total, udh.sequence) if udh else None,
    )


def _content_key(sender: str, moment_ms: int, content: str) -> str:
    """Dedupe key of a reply without an ID: (fromNumber, timestamp, text) (§5)."""
    digest = hashlib.sha256(f"{sender}\n{moment_ms}\n{content}".encode()).hexdigest()
    return f"mo-{digest[:32]}"
