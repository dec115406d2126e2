"""The one place the hardening tests import the shared test support from.

The shared support lives in `bot/testing/` (the app in this process, `RunningApp` with
`AppOptions`; the served app, `ServedApp`; the fake Slack, the signed-request and callback
builders, `wait_for`); the fault storages, the inbound rig and the abuse tests' helpers stay in
their suites. The few names below that the hardening tests were written against are that kit
in their terms: `InboundHarness` and `FaultApp` are `RunningApp` with the inbound preset
(`INBOUND`: the SMS channel, fast inbound waits, the sandbox on a frozen clock), `Server` is a
`ServedApp` given its settings as environment variables.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bot.inbound import Options
from bot.testing.app import FAST, INBOUND, QUIET, SMS_CHANNEL, AppOptions, RunningApp
from bot.testing.callbacks import FORM, form, mo_params, post, status_params
from bot.testing.process import ROOT, ServedApp
from bot.testing.sandbox import GatewayCalls as GatewayCounter
from bot.testing.signing import (
    CHANNEL,
    SECRET,
    USER,
    SlackRequest,
    block_action,
    event_callback,
    post_signed,
    signed_headers,
    slash_command,
)
from bot.testing.slack import FakeSlack as HistorySlack
from bot.testing.waiting import wait_for
from tests.faults.storage import Disk, ForeignLock, FullableStorage
from tests.inbound.rig import Rig
from tests.security.support import ErrorLog, RawResponse, raw_request


class InboundHarness(RunningApp):
    """The app with the inbound preset; `env` added to its settings, `options` its inbound
    timings, and any other `AppOptions` field (`storage_factory`, `clock`, ...) by name."""

    def __init__(
        self,
        fake: HistorySlack,
        directory: Path,
        *,
        env: Mapping[str, str] | None = None,
        options: Options = FAST,
        **more: Any,
    ):
        directory.mkdir(parents=True, exist_ok=True)
        preset = dataclasses.replace(INBOUND, env=dict(env or {}), inbound=options, **more)
        super().__init__(fake, directory, preset)


class FaultApp(InboundHarness):
    """The inbound app with a storage of the test's choosing (`storage_factory`)."""


class Server(ServedApp):
    """`python -m bot serve` with exactly the settings in `env` (its own directory `cwd`)."""

    def __init__(self, env: Mapping[str, str], cwd: Path):
        settings = {k: v for k, v in env.items() if k not in ("PATH", "PYTHONPATH")}
        sms_channel = settings.get("SMS_CHANNEL", SMS_CHANNEL)
        options = AppOptions(env=settings, sms_channel=sms_channel)
        super().__init__(settings["SLACK_API_URL"], cwd, options)


def start_app(slack: HistorySlack, directory: Path, **env: str) -> InboundHarness:
    """The app as the abuse tests start it: the inbound preset without the low-balance watcher,
    so the gateway sees only the requests a test causes."""
    assert QUIET.inbound is not None
    return InboundHarness(slack, directory, env=env, options=QUIET.inbound)


def started_apps(
    start: Callable[..., InboundHarness], fake: HistorySlack, tmp_path: Path
) -> Iterator[Callable[..., InboundHarness]]:
    """The body of a `make_app` fixture: yields `make(**options)`, which starts `start(fake,
    <its own directory>, **options)`; every app started is stopped (newest first) afterwards."""
    started: list[InboundHarness] = []

    def make(**options: Any) -> InboundHarness:
        app = start(fake, tmp_path / f"app{len(started)}", **options)
        started.append(app)
        return app

    yield make
    for app in reversed(started):
        app.stop()


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
