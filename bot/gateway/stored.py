"""Words and states for statuses and errors read back from storage. TRANSITIONAL.

Storage keeps each recipient's raw status code and error code, not the normalised state and
words a gateway reported (storage is gaining `Recipient.state` and `Recipient.status_words`).
Until those columns exist, what was stored can only be read with the tables of the backend that
wrote it, and today that is always the legacy HTTP API. These two functions are that reading,
kept in one place so no Slack-side module imports the legacy tables; once the rows carry their
state and words, their callers read the row instead and this module goes.
"""

from __future__ import annotations

from bot.domain.delivery import DeliveryStatus
from bot.gateway.base import GatewayError
from bot.gateway.clickatell_http.codes import delivery_status, gateway_error


def stored_status(code: str) -> DeliveryStatus:
    """A stored status code as the `DeliveryStatus` the gateway reported."""
    return delivery_status(code)


def stored_error(code: str | None, description: str) -> GatewayError:
    """A stored refusal (error code and the gateway's description) as the error it was, with
    its plain-words explanation."""
    return gateway_error(code, description)
