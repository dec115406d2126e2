"""The legacy Clickatell HTTP API (`api_id`, user and password; ../shared/clickatell-http.md) as
one backend of the gateway port, with its simulator (`sandbox`).

This is the backend's whole public face for the composition: `build_gateway` makes the port
for an account (or a sandbox's URL), `start_sandbox` runs the simulator in-process with its
callbacks pointed at the app (`start_platform_sandbox`: in its Platform mode, for a Portal API
key), `SandboxServer` is the simulator itself (the command line keeps one per database). Nothing
outside the composition imports the modules below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import Settings
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.gateway import ClickatellHttpGateway
from bot.gateway.clickatell_http.sandbox import SandboxServer

__all__ = [
    "ClickatellHttpGateway",
    "Login",
    "SandboxServer",
    "build_gateway",
    "start_platform_sandbox",
    "start_sandbox",
]


@dataclass(frozen=True)
class Login:
    """The account's credentials; `api_id` is also the account its callbacks must name."""

    api_id: str
    user: str
    password: str


def account_login(settings: Settings) -> Login:
    return Login(
        settings.clickatell_api_id or "",
        settings.clickatell_user or "",
        settings.clickatell_password or "",
    )


def build_gateway(
    settings: Settings, *, base_url: str | None = None, login: Login | None = None
) -> ClickatellHttpGateway:
    """The gateway for the configured account, or for `base_url` with `login` (a sandbox)."""
    login = login or account_login(settings)
    client = ClickatellClient(
        base_url or settings.clickatell_base_url,
        login.api_id,
        login.user,
        login.password,
        timeout=settings.clickatell_timeout,
        max_parts=settings.max_parts,
        default_region=settings.default_region,
        default_sender=settings.clickatell_from,
    )
    return ClickatellHttpGateway(client, account=login.api_id)


@dataclass(frozen=True)
class CallbackTarget:
    """Where the sandbox sends its callbacks, and the basic credentials it sends with them."""

    status_url: str
    mo_url: str
    user: str
    password: str


def start_sandbox(
    callbacks: CallbackTarget, login: Login, options: Mapping[str, object]
) -> SandboxServer:
    """A running in-process sandbox that accepts `login` and calls back `callbacks`.
    `options` go to SandboxServer as they are (tests: reply_delay, clock, balance ...)."""
    sandbox = SandboxServer(
        callback_url=callbacks.status_url,
        mo_url=callbacks.mo_url,
        callback_user=callbacks.user,
        callback_password=callbacks.password,
        **{"api_id": login.api_id, "user": login.user, "password": login.password, **options},
    )
    sandbox.start()
    return sandbox


def start_platform_sandbox(
    status_url: str, mo_url: str, api_key: str | None, options: Mapping[str, object]
) -> SandboxServer:
    """A running in-process sandbox for a Portal API key (Platform mode): it accepts `api_key`
    (any key when None) and posts its JSON callbacks to the two URLs exactly as given, so a
    `?token=` in them reaches the app as the Portal's would."""
    sandbox = SandboxServer(callback_url=status_url, mo_url=mo_url, api_key=api_key, **options)
    sandbox.start()
    return sandbox
