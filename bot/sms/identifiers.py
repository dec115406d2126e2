"""Sender IDs and client message IDs: the forms every gateway here accepts.

The grammar checks `--from` and `--id` with these, and the gateways check what they send with
the same functions, so what one accepts the other never refuses.
"""

from __future__ import annotations

import re

from bot.sms.refusals import Refused

_ALNUM = re.compile(r"[A-Za-z0-9]+")
MAX_CLIENT_ID = 32


def validate_sender(sender: str) -> str:
    """`from`: at most 16 digits (a leading + is dropped) or at most 11 letters and digits,
    the two forms an SMS originator address can take."""
    digits = sender.strip().removeprefix("+")
    if digits.isascii() and digits.isdigit() and len(digits) <= 16:
        return digits
    if _ALNUM.fullmatch(sender) and len(sender) <= 11:
        return sender
    raise Refused(
        f"{sender!r} is not a valid sender ID: use at most 16 digits "
        "or at most 11 letters and digits."
    )


def validate_client_id(client_id: str) -> str:
    """A client message ID: the caller's own name for a message, 1 to 32 letters and digits."""
    if not (_ALNUM.fullmatch(client_id) and len(client_id) <= MAX_CLIENT_ID):
        raise Refused(f"Client message ID {client_id!r} must be 1 to 32 letters and digits.")
    return client_id
