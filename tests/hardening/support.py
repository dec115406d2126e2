"""The one place the hardening tests import the shared test support from.

The shared support (`tests/support`, `tests/inbound/harness.py`, `tests/security/support.py`) is
moving into `bot/testing/`; importing it only here means the move touches this file alone.
"""

from __future__ import annotations

import json
from typing import Any

from tests.faults.harness import FaultApp
from tests.faults.storage import Disk, ForeignLock, FullableStorage
from tests.inbound.callbacks import FORM, form, mo_params, post, status_params
from tests.inbound.fakes import HistorySlack
from tests.inbound.harness import CHANNEL, FAST, SECRET, SMS_CHANNEL, USER, InboundHarness
from tests.inbound.rig import Rig
from tests.inbound.test_restart import ROOT, Server
from tests.security.support import (
    ErrorLog,
    GatewayCounter,
    RawResponse,
    raw_request,
    running_app,
    start_app,
)
from tests.support.signing import (
    SlackRequest,
    block_action,
    event_callback,
    signed_headers,
    slash_command,
)
from tests.support.slack_app import post_signed, started_apps
from tests.support.wait import wait_for

__all__ = [
    "CHANNEL",
    "FAST",
    "FORM",
    "ROOT",
    "SECRET",
    "SMS_CHANNEL",
    "USER",
    "Disk",
    "ErrorLog",
    "FaultApp",
    "ForeignLock",
    "FullableStorage",
    "GatewayCounter",
    "HistorySlack",
    "InboundHarness",
    "RawResponse",
    "Rig",
    "Server",
    "SlackRequest",
    "answer",
    "block_action",
    "command",
    "event_callback",
    "form",
    "mo_params",
    "post",
    "post_signed",
    "raw_request",
    "real_gateway_env",
    "running_app",
    "signed_headers",
    "slash_command",
    "start_app",
    "started_apps",
    "status_params",
    "text_sections",
    "wait_for",
]


def command(app: InboundHarness, text: str, name: str, *, user: str = USER) -> None:
    """Type `/sms <text>` as `user`; its answer goes to the response URL called `name`."""
    request = slash_command(
        text, user_id=user, trigger_id=name, response_url=app.fake.response_url(name)
    )
    assert app.post(request).status_code == 200


def answer(app: InboundHarness, name: str, timeout: float = 10.0) -> str:
    """The text of the first answer to the command whose response URL is called `name`."""
    calls = app.fake.wait_for_call(
        "response_url", lambda c: c.path.endswith("/" + name), timeout=timeout
    )
    return json.dumps(calls[0].params, ensure_ascii=False)


def real_gateway_env(base_url: str) -> dict[str, str]:
    """Settings of an app whose (legacy HTTP) gateway is at `base_url` instead of the sandbox."""
    return {
        "CLICKATELL_API_ID": "3456789",
        "CLICKATELL_USER": "team",
        "CLICKATELL_PASSWORD": "gateway-password",
        "CLICKATELL_BASE_URL": base_url,
        "CLICKATELL_CALLBACK_USER": "clickatell",
        "CLICKATELL_CALLBACK_PASSWORD": "callback-password",
    }


def text_sections(post_params: dict[str, Any]) -> list[str]:
    """The texts of a posted message's plain_text sections (where phone text is shown)."""
    return [
        block["text"]["text"]
        for block in post_params["blocks"]
        if block.get("type") == "section" and block["text"]["type"] == "plain_text"
    ]
