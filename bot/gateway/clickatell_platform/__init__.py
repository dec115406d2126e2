"""The Clickatell Portal's API-key integrations (One API, SMS REST, SMS HTTP;
../shared/clickatell-platform.md) as one backend of the gateway port.

Every account opened since November 2016 has an integration API key instead of the legacy
`api_id`/user/password. This package's public face for the composition is `build_gateway`; the
simulator of these APIs is the legacy sandbox's Platform mode (one server speaks both
generations, as the product specifies), started by the composition root.
"""

from __future__ import annotations

from bot.config import Settings
from bot.gateway.clickatell_platform.client import PlatformClient
from bot.gateway.clickatell_platform.decoder import PlatformCallbacks
from bot.gateway.clickatell_platform.gateway import ClickatellPlatformGateway
from bot.gateway.clickatell_platform.integrations import BY_NAME, INTEGRATIONS, IntegrationName

__all__ = [
    "INTEGRATIONS",
    "ClickatellPlatformGateway",
    "IntegrationName",
    "PlatformCallbacks",
    "build_gateway",
]


def build_gateway(
    settings: Settings, *, base_url: str | None = None, api_key: str | None = None
) -> ClickatellPlatformGateway:
    """The gateway for the configured key and integration, or for `base_url` with `api_key`
    (a sandbox in Platform mode)."""
    client = PlatformClient(
        base_url or settings.clickatell_base_url,
        api_key or settings.clickatell_api_key or "",
        BY_NAME[settings.clickatell_integration],
        timeout=settings.clickatell_timeout,
    )
    return ClickatellPlatformGateway(
        client,
        max_parts=settings.max_parts,
        default_region=settings.default_region,
        default_sender=settings.clickatell_from,
    )
