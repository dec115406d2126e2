"""What the sandbox's Platform mode puts on the wire (clickatell-platform.md §3, §5, §6, §9): the
Portal's JSON bodies, its error bodies and its callbacks, byte for byte as the reference shows
them.

The sandbox keeps one timeline per message in legacy status codes (the phone's side is shared by
both generations); the tables here say how each integration reports them. They are the sandbox's
own, not the client's: a simulator that borrowed the client's tables could not catch them wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote_plus

from .phone import SANDBOX_TWO_WAY_NUMBER
from .state import Message, MoRecord

LEGACY = "legacy"
ONE_API = "one"
SMS_REST = "rest"
SMS_HTTP = "http"
PLATFORM_APIS = frozenset({ONE_API, SMS_REST, SMS_HTTP})

JSON = "application/json"
INTEGRATION_ID = "fa8090815f05d5ed015f0b5b56080cd2"
INTEGRATION_NAME = "sms-bot sandbox"
CURRENCY = "ZAR"
SMS_ERROR_TEXT = "Error"  # the SMS integrations' plain-text 400 and 429 body

# legacy status -> One API (statusCode, status)
ONE_API_STATUSES: dict[str, tuple[int, str]] = {
    "001": (1, "UNKNOWN"),
    "011": (3, "SCHEDULED"),
    "003": (4, "SENT_TO_SUPPLIER"),
    "004": (5, "DEVICE_ACK"),
    "010": (20, "EXPIRED"),
    "006": (21, "STOPPED_BY_USER"),
    "007": (23, "DELIVERY_FAILURE"),
}
# legacy status -> SMS integrations (statusCode, status, statusDescription)
SMS_STATUSES: dict[str, tuple[int, str, str]] = {
    "001": (1, "MESSAGE_UNKNOWN", "Message unknown"),
    "011": (11, "MESSAGE_QUEUED", "Message queued for later delivery"),
    "003": (3, "DELIVERED_TO_GATEWAY", "Delivered to gateway"),
    "004": (4, "RECEIVED_BY_RECIPIENT", "Received by recipient"),
    "010": (10, "MESSAGE_EXPIRED", "Message expired"),
    "006": (6, "USER_CANCELLED", "User cancelled message delivery"),
    "007": (7, "ERROR_DELIVERING_MESSAGE", "Error delivering message"),
}


@dataclass(frozen=True)
class Refusal:
    """Why one recipient was refused, in both code spaces."""

    one_api: int
    one_api_words: str
    sms: int
    sms_words: str


MALFORMED = Refusal(23, "Invalid or missing parameter: to .", 105, "Invalid destination address.")
INVALID = Refusal(25, "Invalid recipient address", 105, "Invalid destination address.")
OPTED_OUT = Refusal(26, "Recipient opted out", 122, "Destination mobile opted out.")
NO_BALANCE = Refusal(20, "Insufficient account balance", 301, "No credit left.")
TOO_LONG = Refusal(24, "Message content too long", 113, "Maximum message parts exceeded.")
NO_CONTENT = Refusal(
    23, "Invalid or missing parameter: content .", 101, "Invalid or missing parameter."
)
RATE_LIMITED = Refusal(43, "Rate limit", 43, "Rate limit")


def dumps(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps_text(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def ms(seconds: float) -> int:
    return round(seconds * 1000)


# --------------------------------------------------------------------------- answers


def error_object(code: int, description: str) -> dict[str, object]:
    return {"code": code, "description": description}


def one_api_key_refused() -> bytes:
    return dumps({"error": error_object(1, "Invalid or missing integration API Key")})


def sms_key_refused() -> bytes:
    return dumps(
        {
            "messages": [],
            "errorCode": 108,
            "error": "Invalid or missing integration API Key.",
            "errorDescription": "The integration API key is either incorrect or has not been "
            "included in the API call.",
        }
    )


def not_found() -> bytes:
    return dumps({"error": error_object(41, "Resource does not exist")})


def call_error(code: int, description: str) -> bytes:
    """A One API request refused as a whole (malformed, too many messages, rate limit)."""
    return dumps({"messages": [], "error": error_object(code, description)})


def accepted_entry(message_id: str, to: str) -> dict[str, object]:
    return {"apiMessageId": message_id, "accepted": True, "to": to, "error": None}


def one_api_refused_entry(refusal: Refusal, to: str) -> dict[str, object]:
    return {
        "error": error_object(refusal.one_api, refusal.one_api_words),
        "accepted": False,
        "to": to,
    }


def sms_refused_entry(refusal: Refusal, to: str) -> dict[str, object]:
    return {
        "apiMessageId": None,
        "accepted": False,
        "to": to,
        "error": refusal.sms_words,
        "errorCode": refusal.sms,
    }


def messages_body(entries: list[dict[str, object]]) -> bytes:
    return dumps({"messages": entries, "error": None})


def balance_body(api: str, amount: float) -> bytes:
    if api == ONE_API:
        return dumps({"currency": CURRENCY, "balance": amount})
    return dumps({"balance": amount, "currency": CURRENCY})


def query_body(message: Message | None, now: float) -> bytes:
    """`GET /v1/message/{id}`; a message the sandbox does not know has no `sms` (§7)."""
    if message is None:
        return dumps({"status": "UNKNOWN", "timestamp": ms(now)})
    status = message.status_at(now)
    at = max((t for t, code in message.timeline if t <= now and code == status), default=now)
    name = ONE_API_STATUSES.get(status, ONE_API_STATUSES["001"])[1]
    return dumps({"sms": {"status": name, "timestamp": ms(at)}})


# --------------------------------------------------------------------------- callbacks


def status_callback(message: Message, status: str, at: float) -> str:
    """A status callback in the shape of the API the message was sent with."""
    if message.api == ONE_API:
        code, name = ONE_API_STATUSES[status]
        update = {
            "channel": "sms",
            "messageId": message.apimsgid,
            "clientMessageId": message.climsgid,
            "timestamp": ms(at),
            "statusCode": code,
            "status": name,
        }
        return dumps_text(_envelope("messageStatusUpdate", update))
    code, name, words = SMS_STATUSES[status]
    flat = {
        "integrationName": INTEGRATION_NAME,
        "messageId": message.apimsgid,
        "requestId": message.params.get("requestId", message.apimsgid),
        "clientMessageId": message.climsgid,
        "to": message.to,
        "from": message.sender or SANDBOX_TWO_WAY_NUMBER,
        "statusCode": code,
        "status": name,
        "statusDescription": words,
        "timestamp": ms(at),
    }
    return dumps_text(flat)


def _envelope(event: str, item: dict[str, object]) -> dict[str, object]:
    return {
        "integrationId": INTEGRATION_ID,
        "integrationName": INTEGRATION_NAME,
        "event": {event: [item]},
    }


def percent_encoded(text: str, charset: str) -> str:
    """§5: ISO-8859-1 and UTF-16BE text travel as their bytes percent-encoded, form style."""
    codec = "utf-16-be" if charset == "UTF-16BE" else "latin-1"
    return quote_plus(text.encode(codec), safe="")


def reply_callback(message: Message, record: MoRecord) -> str:
    """A phone's reply in the shape of the API the message it answers was sent with."""
    content = percent_encoded(record.text, record.charset)
    if message.api == ONE_API:
        item = {
            "channel": "sms",
            "messageId": record.momsgid,
            "relatedMessageId": message.apimsgid,
            "relatedClientMessageId": message.climsgid,
            "from": record.sender,
            "to": record.to,
            "timestamp": ms(record.at),
            "content": content,
            "charset": record.charset,
            "sms": {"network": "Sandbox"},
        }
        return dumps_text(_envelope("moText", item))
    flat = {
        "integrationName": INTEGRATION_NAME,
        "messageId": message.apimsgid,
        "replyMessageId": record.momsgid,
        "fromNumber": record.sender,
        "toNumber": record.to,
        "timestamp": ms(record.at),
        "text": content,
        "charset": record.charset,
        "udh": record.udh,
        "network": "",
        "keyword": "",
    }
    return dumps_text(flat)
