"""The Portal's error codes and message statuses in plain words (clickatell-platform.md §4, §6).

Two code spaces share the Portal: the One API's own numbers (1 bad key, 26 opted out, 43 rate
limit …) and the legacy numbers the SMS REST and SMS HTTP integrations answer with (108 bad key,
105 invalid recipient, 122 opted out …). The same number means different things in each (101 is
"two-way" in one and "missing parameter" in the other), so every lookup names its space.

Everything is keyed by number: the wire's descriptions vary, and a code is what scripts act on.
Codes stay strings towards the app (`"23"`), as the command line's JSON prints them.
"""

from __future__ import annotations

from typing import Literal

from bot.domain.delivery import DeliveryState, DeliveryStatus
from bot.gateway.base import GatewayError, OptedOut, PartsExceeded, Unavailable

CodeSpace = Literal["one", "sms"]  # the One API's numbers, or the SMS integrations' (legacy)

_KEY_WORDS = (
    "Check CLICKATELL_API_KEY, and that CLICKATELL_INTEGRATION (one, rest or http) is the type "
    "of the Portal integration the key belongs to."
)
_SUPPORT = "Check the request; if it looks right, report it as a bug."

# One API (docs.clickatell.com errors table): code -> plain words, what it means and what to do.
ONE_API_ERRORS: dict[int, str] = {
    1: f"The Portal did not accept the integration API key. {_KEY_WORDS}",
    2: "The Clickatell account is not active. Activate or verify it in the Clickatell Portal.",
    3: "The Portal integration is not active. Activate it in the Clickatell Portal.",
    7: "The Portal refused this server's IP address. Add it to the integration's allowed IP "
    "addresses in the Clickatell Portal.",
    18: "The Portal had an internal error.",
    19: "The Portal had an internal error and asked to try again. Try again in a moment.",
    20: "The account's balance is too low to send this message. Top up in the Clickatell Portal.",
    21: f"The Portal could not read the request. {_SUPPORT}",
    22: "A request may hold at most 200 messages. Report it as a bug: sms-bot splits larger sends.",
    23: f"The Portal found a parameter missing or invalid. {_SUPPORT}",
    24: "The text is too long for the Portal. Shorten it.",
    25: "The recipient's number is invalid. Check it and write it with its country code, "
    "e.g. +27821234567.",
    26: "The recipient has opted out of messages from this account. Do not send to them unless "
    "they opt in again.",
    27: "The recipient cannot be reached on this channel.",
    28: "This number may not be sent to from a sandbox or test integration. Use it from a "
    "production integration, or add it as a test number in the Portal.",
    30: "The message's media is not supported.",
    31: "The message's media is too large.",
    32: "The channel is not available for this integration. Enable SMS for it in the Portal.",
    33: "The channel is not valid for this integration.",
    38: "The text uses a character set the channel does not support.",
    39: "The text uses a character set the channel does not support.",
    40: "The text uses a character set the channel does not support.",
    41: "The Portal does not know this resource (a wrong path or message ID). Check "
    "CLICKATELL_BASE_URL.",
    42: f"The Portal does not allow this request method. {_SUPPORT}",
    43: "The Portal's rate limit was reached and the retries did not get through. Try again "
    "in a moment.",
    44: "The sender number (FROM) is suspended. Check CLICKATELL_FROM or --from.",
    45: "The sender number (FROM) does not belong to this integration. Use the integration's "
    "two-way number (CLICKATELL_FROM or --from).",
    46: "The demo account has expired. Upgrade the account in the Clickatell Portal.",
    100: "The text needs more SMS parts than the Portal allows. Shorten it.",
    101: "Two-way messaging is not set up for this integration. Add a two-way number to it "
    "in the Portal.",
    110: "Messages to this country must follow its rules (for US numbers: a registered "
    "sender). Check the country's requirements in the Portal.",
    111: "Messages to this country must follow its rules (for US numbers: a registered "
    "sender). Check the country's requirements in the Portal.",
}

# SMS REST and SMS HTTP integrations: legacy numbers (clickatell-http.md §8) as the Portal uses
# them; the sandbox answers with exactly these.
SMS_ERRORS: dict[int, str] = {
    101: f"The Portal found a parameter missing or invalid. {_SUPPORT}",
    105: "The recipient's number is invalid. Check it and write it with its country code, "
    "e.g. +27821234567.",
    106: "The sender ID is invalid. Use the integration's two-way number (CLICKATELL_FROM or "
    "--from).",
    108: f"The Portal did not accept the integration API key. {_KEY_WORDS}",
    113: "The text needs more SMS parts than allowed. Shorten it or raise SMS_MAX_PARTS.",
    114: "The Portal cannot route messages to this number. Check the number.",
    121: "The recipient's number is blocked at the gateway, so messages to it are not sent.",
    122: "The recipient has opted out of messages from this account. Do not send to them unless "
    "they opt in again.",
    301: "The account's balance ran out. Top up in the Clickatell Portal.",
}

KEY_REFUSED: dict[CodeSpace, frozenset[int]] = {"one": frozenset({1}), "sms": frozenset({108})}
RETRYABLE: frozenset[int] = frozenset({19, 43})  # §4: re-send after a wait (both spaces)
OUTCOME_UNKNOWN_CODES: frozenset[int] = frozenset({18})  # a send may or may not have gone out
_OPTED_OUT: dict[CodeSpace, frozenset[int]] = {"one": frozenset({26}), "sms": frozenset({122})}
_TOO_LONG: dict[CodeSpace, frozenset[int]] = {
    "one": frozenset({24, 100}),
    "sms": frozenset({113}),
}


def error_number(code: str | None) -> int | None:
    """The number in a project error code ("23" -> 23); None for none or a non-number."""
    if code is None or not code.strip().isdigit():
        return None
    return int(code)


def explain(space: CodeSpace, code: int | None, description: str) -> str:
    """What the error means and what to do; an unknown code still says what the Portal said."""
    table = ONE_API_ERRORS if space == "one" else SMS_ERRORS
    if code is not None and code in table:
        return table[code]
    said = description.strip().rstrip(".")
    named = f" with error {code}" if code is not None else ""
    if said:
        return f"The Portal refused the request{named}: {said}."
    return f"The Portal refused the request{named}. Ask Clickatell support what it means."


def portal_error(space: CodeSpace, code: int | None, description: str) -> GatewayError:
    """The port's exception for a Portal error: its class says what the app should do."""
    kind: type[GatewayError] = GatewayError
    if code in _OPTED_OUT[space]:
        kind = OptedOut
    elif code in _TOO_LONG[space]:
        kind = PartsExceeded
    elif code in RETRYABLE:
        kind = Unavailable
    text = description.strip() or (f"error {code}" if code is not None else "refused")
    return kind(None if code is None else str(code), text, explain(space, code, description))


# --------------------------------------------------------------------------- statuses (§6)

# One API: number -> (name, state, plain words for a card).
ONE_API_STATUSES: dict[int, tuple[str, DeliveryState, str]] = {
    1: ("UNKNOWN", DeliveryState.UNKNOWN, "Status unknown to the Portal"),
    2: ("QUEUED", DeliveryState.QUEUED, "Queued at the Portal"),
    3: ("SCHEDULED", DeliveryState.SCHEDULED, "Scheduled at the Portal"),
    4: ("SENT_TO_SUPPLIER", DeliveryState.SENT, "Sent to the network"),
    5: ("DEVICE_ACK", DeliveryState.DELIVERED, "Received by the phone"),
    6: ("READ", DeliveryState.DELIVERED, "Read on the phone"),
    20: ("EXPIRED", DeliveryState.EXPIRED, "Expired before delivery"),
    21: ("STOPPED_BY_USER", DeliveryState.CANCELLED, "Stopped by the sender"),
    22: ("STOPPED_BY_ADMIN", DeliveryState.CANCELLED, "Stopped by Clickatell"),
    23: ("DELIVERY_FAILURE", DeliveryState.FAILED, "Delivery failed"),
    100: ("ROUTING_ERROR", DeliveryState.FAILED, "Failed: cannot route to this number"),
}
_ONE_API_BY_NAME = {name: code for code, (name, _, _) in ONE_API_STATUSES.items()}
_FAILED_FROM = 20  # any other One API status from 20 up is a failure (§6)

# SMS integrations: `statusCode` in legacy numbers -> (state, plain words).
SMS_STATUSES: dict[int, tuple[DeliveryState, str]] = {
    1: (DeliveryState.UNKNOWN, "Status unknown to the Portal"),
    2: (DeliveryState.QUEUED, "Queued at the Portal"),
    3: (DeliveryState.SENT, "Delivered to the network"),
    4: (DeliveryState.DELIVERED, "Received by the phone"),
    5: (DeliveryState.FAILED, "Failed: error with the message"),
    6: (DeliveryState.CANCELLED, "Cancelled"),
    7: (DeliveryState.FAILED, "Delivery failed"),
    8: (DeliveryState.QUEUED, "Received by the Portal"),
    9: (DeliveryState.FAILED, "Failed: cannot route to this number"),
    10: (DeliveryState.EXPIRED, "Expired before delivery"),
    11: (DeliveryState.SCHEDULED, "Scheduled for later delivery"),
    12: (DeliveryState.FAILED, "Failed: out of credit"),
    14: (DeliveryState.FAILED, "Failed: message limit exceeded"),
}
# The only names the SMS integrations are seen to send (§6), and one more the docs name.
_SMS_BY_NAME = {
    "MESSAGE_QUEUED": 2,
    "DELIVERED_TO_GATEWAY": 3,
    "RECEIVED_BY_RECIPIENT": 4,
    "ERROR_DELIVERING_MESSAGE": 7,
}


def _humanized(name: str) -> str:
    """'RECIPIENT_DOES_NOT_EXIST' -> 'Recipient does not exist'."""
    return name.replace("_", " ").strip().capitalize()


def one_api_status(code: int | None, name: str | None) -> DeliveryStatus:
    """A One API status by number first, name second. `status.code` is the number as a string
    when there is one (callbacks), else the name (a query answers only with the name)."""
    if code is None and name:
        known = _ONE_API_BY_NAME.get(name.upper())
        if known is not None:
            _, state, words = ONE_API_STATUSES[known]
            return DeliveryStatus(name.upper(), state, words)
        return _unknown(name)
    if code is None:
        return _unknown("")
    if code in ONE_API_STATUSES:
        _, state, words = ONE_API_STATUSES[code]
        return DeliveryStatus(str(code), state, words)
    if code >= _FAILED_FROM:
        what = _humanized(name) if name else f"Portal status {code}"
        return DeliveryStatus(str(code), DeliveryState.FAILED, f"Failed: {what.lower()}")
    return _unknown(str(code))


def sms_status(code: int | None, name: str | None) -> DeliveryStatus:
    """An SMS integration's status (`statusCode`, legacy numbers), number first, name second."""
    if code is None and name:
        code = _SMS_BY_NAME.get(name.upper())
        if code is None:
            return _unknown(name)
    if code is None or code not in SMS_STATUSES:
        return _unknown("" if code is None else str(code))
    state, words = SMS_STATUSES[code]
    return DeliveryStatus(str(code), state, words)


def _unknown(code: str) -> DeliveryStatus:
    """A value the tables do not know: state unknown, which never replaces a known status."""
    words = f"Unknown Portal status {code}".rstrip()
    return DeliveryStatus(code or "unknown", DeliveryState.UNKNOWN, words)
