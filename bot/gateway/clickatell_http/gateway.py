"""The legacy HTTP API as the app's `Gateway` (bot.gateway.base): the port's calls on top of
`ClickatellClient`, its results normalised."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.gateway.base import GatewayError
from bot.sms.identifiers import validate_client_id
from bot.sms.refusals import Refused

_T = TypeVar("_T")


def by_either_id(lookup: Callable[..., _T], message_id: str) -> _T:
    """`lookup(message_id)` by apimsgid, or by climsgid when the gateway does not know the
    apimsgid (103): people quote either ID (`send` prints both). The command line and Slack both
    use this, so they answer alike. When neither is known, the first error (103, which names
    the gateway's ID) is the one raised; so is it when the ID cannot be a climsgid at all."""
    try:
        return lookup(message_id)
    except GatewayError as error:
        if error.code != "103":
            raise
        try:
            validate_client_id(message_id)
            return lookup(climsgid=message_id)
        except Refused:
            raise error from None
        except GatewayError as second:
            if second.code != "104":
                raise
            raise error from None
