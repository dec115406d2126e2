"""The Bolt app: thin, as in Slack's Bolt for Python templates.

`build_app(services)` creates the App on the services' WebClient (SLACK_API_URL, retry handlers
for 429/5xx/connection errors), puts the services into every request's `context` with one global
middleware, and lets each listener group register itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse

from bot.listeners import register_listeners
from bot.services import Services

log = logging.getLogger(__name__)


def build_app(services: Services) -> App:
    settings = services.settings
    app = App(
        name="sms-bot",
        client=services.slack,
        # In Socket Mode Slack does not sign anything and no secret is configured.
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.socket_mode,
        logger=logging.getLogger("sms-bot.bolt"),
    )
    app.use(_attach(services))
    register_listeners(app)
    return app


def _attach(services: Services) -> Callable[..., BoltResponse | None]:
    def attach_services(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context["services"] = services
        return next()

    return attach_services
