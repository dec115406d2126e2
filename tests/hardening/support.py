"""The one place the hardening tests import the shared test support from.

The shared support (`tests/support`, `tests/inbound/harness.py`, `tests/security/support.py`) is
moving into `bot/testing/`; importing it only here means the move touches this file alone.
"""

from __future__ import annotations

from tests.inbound.fakes import HistorySlack
from tests.inbound.harness import CHANNEL, FAST, SECRET, SMS_CHANNEL, USER, InboundHarness
from tests.security.support import ErrorLog, RawResponse, raw_request, running_app, start_app
from tests.support.signing import (
    SlackRequest,
    event_callback,
    signed_headers,
    slash_command,
)
from tests.support.wait import wait_for

__all__ = [
    "CHANNEL",
    "FAST",
    "SECRET",
    "SMS_CHANNEL",
    "USER",
    "ErrorLog",
    "HistorySlack",
    "InboundHarness",
    "RawResponse",
    "SlackRequest",
    "event_callback",
    "raw_request",
    "running_app",
    "signed_headers",
    "slash_command",
    "start_app",
    "wait_for",
]
