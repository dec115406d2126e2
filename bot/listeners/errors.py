"""One mapping from the app's typed errors to what the person is told.

Listeners acknowledge first and do their work on the executor, so most failures surface there;
`problem_message` words them for the command runner and the buttons alike, and `register` installs
the same mapping as Bolt's global `app.error` for anything that escapes a listener itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.blocks.base import Message
from bot.blocks.errors import error_message, refused_message
from bot.domain.templates import TemplateError, UnknownFields
from bot.gateway.base import GatewayError
from bot.listeners.common import RespondReplier
from bot.slack.files import FileUnavailable
from bot.sms.refusals import Refused
from bot.storage import StorageUnavailable
from bot.usecases.bulk import BulkRefused
from bot.usecases.sending import Refusal

log = logging.getLogger(__name__)

SOMETHING_WENT_WRONG = "Something went wrong on our side; it has been logged. Try again."


def problem_message(error: Exception) -> Message:
    """Plain words for a failure: refusals say why, gateway errors what to do, bugs sorry."""
    if isinstance(error, Refusal):
        return refused_message(error.reason)
    if isinstance(error, Refused):
        return refused_message(str(error))
    if isinstance(error, TemplateError):
        return refused_message(template_problem(error))
    if isinstance(error, BulkRefused):
        return refused_message(error.reason)
    if isinstance(error, FileUnavailable):
        return error_message(error.reason)
    if isinstance(error, GatewayError):
        return error_message(error.explanation, code=error.code)
    if isinstance(error, StorageUnavailable):
        return error_message(
            "The database is busy or unavailable right now, so nothing was done. Try again in "
            "a moment."
        )
    return error_message(SOMETHING_WENT_WRONG)


def template_problem(error: TemplateError) -> str:
    """A template that cannot be filled in, with what to do; nothing was sent."""
    fix = "Nothing was sent. Fix the template with /sms template add NAME TEXT."
    if isinstance(error, UnknownFields):
        fix = (
            "Here a template can use {name} and {first_name} (from the contact); nothing was "
            "sent. Fix it with /sms template add NAME TEXT."
        )
    return f"{error} {fix}"


def expected(error: Exception) -> bool:
    """A failure the person caused or the world did, not a bug: no traceback in the log."""
    return isinstance(
        error,
        Refusal
        | Refused
        | TemplateError
        | BulkRefused
        | FileUnavailable
        | GatewayError
        | StorageUnavailable,
    )


def register(app: App) -> None:
    app.error(handle_error)


def handle_error(
    error: Exception, body: Mapping[str, object], client: WebClient
) -> BoltResponse | None:
    """A listener raised: log it, and tell the person through the response URL when there is
    one (modal submissions and events have none: Slack then shows its own failure)."""
    if expected(error):
        log.info("request refused: %s", error)
    else:
        log.error("listener failed", exc_info=(type(error), error, error.__traceback__))
    url = body.get("response_url")
    if isinstance(url, str) and url:
        RespondReplier(url, client)(problem_message(error))
    return None
