"""Gateway error and message status codes (protocol reference §8 and §9) in plain words.

The wire's descriptions differ from the documentation in wording and case ("Invalid Destination
Address", "No Credit Left"), so everything here is keyed by the 3-digit code, never by the text.
The only thing read from a description is the time in 130's "until <Unix time>", which the code
alone cannot give.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.domain.delivery import DeliveryState, DeliveryStatus
from bot.gateway.base import GatewayError, OptedOut, PartsExceeded, Unavailable

# §8: code -> the protocol's description.
ERROR_CODES: dict[str, str] = {
    "001": "Authentication failed",
    "002": "Unknown username or password",
    "003": "Session ID expired",
    "004": "Account frozen",
    "005": "Missing session ID",
    "007": "IP Lockdown violation",
    "101": "Invalid or missing parameters",
    "102": "Invalid user data header",
    "103": "Unknown API message ID",
    "104": "Unknown client message ID",
    "105": "Invalid destination address",
    "106": "Invalid source address",
    "107": "Empty message",
    "108": "Invalid or missing API ID",
    "109": "Missing message ID",
    "110": "Error with email message",
    "111": "Invalid protocol",
    "112": "Invalid message type",
    "113": "Maximum message parts exceeded",
    "114": "Cannot route message",
    "115": "Message expired",
    "116": "Invalid Unicode data",
    "120": "Invalid delivery time",
    "121": "Destination mobile number blocked",
    "122": "Destination mobile opted out",
    "123": "Invalid Sender ID",
    "128": "Number delisted",
    "130": "Maximum MT limit exceeded until <Unix time>",
    "201": "Invalid batch ID",
    "202": "No batch template",
    "301": "No credit left",
    "302": "Max allowed credit",
    "901": "Internal error (retry)",
}

# Per error code: what it means and what to do, for people who have not read the protocol.
_EXPLANATIONS: dict[str, str] = {
    "001": "The gateway did not accept the login. "
    "Check CLICKATELL_API_ID, CLICKATELL_USER and CLICKATELL_PASSWORD.",
    "002": "The gateway does not know this username or password. "
    "Check CLICKATELL_USER and CLICKATELL_PASSWORD.",
    "003": "The gateway session expired after 15 minutes without use. "
    "Try again; the bot logs in afresh.",
    "004": "The Clickatell account is frozen. Contact Clickatell support to unfreeze it.",
    "005": "The request reached the gateway without a session. "
    "Try again; if it keeps happening, report it as a bug.",
    "007": "This server's IP address is not allowed by the account's IP lockdown. "
    "Add the address in the Clickatell account settings.",
    "101": "The gateway found a parameter missing or invalid. "
    "Check the command; if it looks right, report it as a bug.",
    "102": "The message's user data header (UDH) is invalid. Check the udh value.",
    "103": "The gateway does not know this message ID. "
    "Check the ID; the gateway forgets messages after a while.",
    "104": "The gateway does not know this client message ID. Check the ID.",
    "105": "The recipient's number is invalid. "
    "Check it and write it with its country code, e.g. +27821234567.",
    "106": "The sender ID is invalid. "
    "Use at most 16 digits or 11 letters and digits (check CLICKATELL_FROM or --from).",
    "107": "The message is empty. Type some text to send.",
    "108": "The API ID is missing or wrong. Check CLICKATELL_API_ID.",
    "109": "No message ID was given. Give the ID of the message.",
    "110": "The gateway could not process the email message. Check its format and try again.",
    "111": "The gateway did not accept the request's protocol. Check CLICKATELL_BASE_URL.",
    "112": "The message type is not valid. Use SMS_TEXT or another type the account supports.",
    "113": "The text is too long for the allowed number of parts. "
    "Shorten it or raise SMS_MAX_PARTS.",
    "114": "The gateway cannot route messages to this number. "
    "Check the number, or ask Clickatell about coverage for its network.",
    "115": "The message expired before it could be delivered. Send it again if it still matters.",
    "116": "The gateway could not read the Unicode text. "
    "Try again; if it keeps happening, report it as a bug.",
    "120": "The delivery time is invalid. Pick a time in the future and at most 7 days ahead.",
    "121": "The recipient's number is blocked at the gateway, so messages to it are not sent. "
    "Contact Clickatell support if that is wrong.",
    "122": "The recipient has opted out of messages from this account. "
    "Do not send to them unless they opt in again.",
    "123": "The sender ID is not approved for this account. "
    "Register it with Clickatell, or use another one (CLICKATELL_FROM or --from).",
    "128": "The number has been delisted and can no longer receive messages. "
    "Check the number with the recipient.",
    "201": "The batch ID is unknown or expired (batches last 24 hours). Start a new batch.",
    "202": "The batch has no template. Start the batch again with a template.",
    "301": "The account's credit ran out. "
    "Top up the Clickatell account or redeem a voucher (/sms redeem VOUCHER).",
    "302": "The message costs more than the allowed maximum credit. "
    "Raise max_credits or send a shorter message.",
    "901": "The gateway had an internal error. Try again in a moment.",
}

# §9: code -> the protocol's description.
STATUS_CODES: dict[str, str] = {
    "001": "Message unknown",
    "002": "Message queued",
    "003": "Delivered to gateway",
    "004": "Received by recipient",
    "005": "Error with message",
    "006": "User cancelled message delivery",
    "007": "Error delivering message",
    "008": "OK",
    "009": "Routing error",
    "010": "Message expired",
    "011": "Message queued for later delivery",
    "012": "Out of credit",
    "014": "Maximum MT limit exceeded",
}

# Per status code: short plain words for a status line on a card.
_STATUS_WORDS: dict[str, str] = {
    "001": "Unknown to the gateway",
    "002": "Queued at the gateway",
    "003": "Delivered to gateway",
    "004": "Received by recipient",
    "005": "Failed: error with the message",
    "006": "Cancelled",
    "007": "Delivery failed",
    "008": "Received by gateway",
    "009": "Failed: cannot route to this number",
    "010": "Expired before delivery",
    "011": "Scheduled for later delivery",
    "012": "Failed: out of credit",
    "014": "Failed: message limit exceeded",
}

FINAL_STATUSES: frozenset[str] = frozenset({"004", "005", "006", "007", "009", "010", "012", "014"})

# Progress order of the statuses that can still change. 011 (scheduled) comes before the gateway
# has taken the message (008), 002 (queued for redelivery) after, and 003 (handed to the
# network) is the furthest a message gets before its final status. 001 (unknown) is the least
# informative and never replaces anything.
_PROGRESS: tuple[str, ...] = ("001", "011", "008", "002", "003")
_FINAL_RANK = len(_PROGRESS) + 1

_UNTIL = re.compile(r"until\s*:?\s*(\d{9,11})", re.IGNORECASE)


def normalize_code(code: str | None) -> str | None:
    """'4', ' 004 ' -> '004'; non-numeric codes are kept stripped. Codes stay strings."""
    if code is None:
        return None
    code = str(code).strip()
    return code.zfill(3) if code.isdigit() else code


def _limit_explanation(description: str) -> str:
    """130 says until when sending is blocked; turn that Unix time into a readable UTC time."""
    match = _UNTIL.search(description)
    when = "later"
    if match:
        moment = datetime.fromtimestamp(int(match.group(1)), UTC)
        when = f"at {moment:%Y-%m-%d %H:%M} UTC"
    return (
        f"The account reached its limit of messages sent; sending resumes {when}. "
        "Wait until then, or ask Clickatell to raise the limit."
    )


def explain_error(code: str | None, description: str = "") -> str:
    """Plain words for a gateway error: what it means and what to do.

    A code-less error (coverage's `ERR:`) or an unknown code still gets a sentence, built from
    the wire's description so nothing the gateway said is lost.
    """
    code = normalize_code(code)
    description = description.strip()
    if code == "130":
        return _limit_explanation(description)
    if code in _EXPLANATIONS:
        return _EXPLANATIONS[code]
    said = f": {description}" if description else ""
    if code:
        return (
            f"The gateway refused the request with error {code}{said}. "
            "Check the request, or ask Clickatell support what this code means."
        )
    return f"The gateway refused the request{said or '.'}"


# Codes that mean more than "refused" to a caller, as the port's error classes: 901 is the
# gateway's own "retry" (its retries are the client's business, so when they are used up it is
# unavailable), 113 a text needing too many parts, 122 a recipient who opted out (the app
# records the opt-out).
_ERROR_CLASSES: dict[str, type[GatewayError]] = {
    "901": Unavailable,
    "113": PartsExceeded,
    "122": OptedOut,
}


def gateway_error(code: str | None, description: str) -> GatewayError:
    """The one exception for gateway errors, with its plain-words explanation filled in."""
    code = normalize_code(code) or None
    kind = _ERROR_CLASSES.get(code or "", GatewayError)
    return kind(code, description, explain_error(code, description))


def describe_status(code: str) -> str:
    """Short plain words for a message status, e.g. 'Received by recipient'."""
    code = normalize_code(code) or ""
    return _STATUS_WORDS.get(code, f"Unknown status {code}".rstrip())


def is_final(code: str) -> bool:
    """Final statuses never change again (§9)."""
    return normalize_code(code) in FINAL_STATUSES


def status_rank(code: str) -> int:
    """Progress of a status: a new status applies iff its rank is greater than the current one.

    Callbacks arrive unordered and twice (§6), so a late 003 after 004 must change nothing. Every
    final status outranks every non-final one, and finals share one rank: the first final status
    seen stays. Unknown codes rank lowest (0) and replace nothing.
    """
    code = normalize_code(code) or ""
    if code in FINAL_STATUSES:
        return _FINAL_RANK
    if code in _PROGRESS:
        return _PROGRESS.index(code) + 1
    return 0


# §9 in the shared vocabulary (clickatell-platform.md §6). Steps keep the legacy progress order
# among codes of one state: 011 (scheduled) before 008 before 002 (both queued).
_STATES: dict[str, tuple[DeliveryState, int]] = {
    "001": (DeliveryState.UNKNOWN, 0),
    "011": (DeliveryState.SCHEDULED, 0),
    "008": (DeliveryState.QUEUED, 1),
    "002": (DeliveryState.QUEUED, 2),
    "003": (DeliveryState.SENT, 0),
    "004": (DeliveryState.DELIVERED, 0),
    "005": (DeliveryState.FAILED, 0),
    "006": (DeliveryState.CANCELLED, 0),
    "007": (DeliveryState.FAILED, 0),
    "009": (DeliveryState.FAILED, 0),
    "010": (DeliveryState.EXPIRED, 0),
    "012": (DeliveryState.FAILED, 0),
    "014": (DeliveryState.FAILED, 0),
}


def delivery_status(code: str) -> DeliveryStatus:
    """A legacy status code as the shared `DeliveryStatus` (an unknown code: state unknown)."""
    code = normalize_code(code) or ""
    state, step = _STATES.get(code, (DeliveryState.UNKNOWN, 0))
    return DeliveryStatus(code=code, state=state, words=describe_status(code), step=step)
