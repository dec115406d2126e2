"""The Bolt app: thin, as in Slack's Bolt for Python templates.

`build_app(services)` creates the App on the services' WebClient (SLACK_API_URL, retry handlers
for 429/5xx/connection errors), puts the services into every request's `context` with one global
middleware, and lets each listener group register itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

from bot.container import Services
from bot.listeners import register_listeners

log = logging.getLogger(__name__)


def build_app(services: Services) -> App:
    settings = services.settings
    logger = logging.getLogger("sms-bot.bolt")
    # Bolt takes SLACK_BOT_TOKEN from the environment whenever no `token` is passed (even ""),
    # and then warns that the given `client` wins over it. The client *is* built from that
    # token (settings.slack_bot_token), so the warning is noise on every start; no argument
    # avoids it, so that one message is dropped while the App is constructed.
    skipped_token = _DropMessage(warning_client_prioritized_and_token_skipped())
    logger.addFilter(skipped_token)
    try:
        app = App(
            name="sms-bot",
            client=services.slack,
            # In Socket Mode Slack does not sign anything and no secret is configured.
            signing_secret=settings.slack_signing_secret or "",
            request_verification_enabled=not settings.socket_mode,
            logger=logger,
        )
    finally:
        logger.removeFilter(skipped_token)
    app.use(_attach(services))
    register_listeners(app)
    return app


class _DropMessage(logging.Filter):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


def _attach(services: Services) -> Callable[..., BoltResponse | None]:
    def attach_services(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context["services"] = services
        return next()

    return attach_services
