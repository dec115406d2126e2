"""Helpers shared by the listener groups: services from the context, authorization, replies."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.blocks.base import Message
from bot.blocks.send_report import send_report
from bot.config import Settings
from bot.container import Services
from bot.domain import access
from bot.slack.errors import error_code
from bot.slack.pace import SlackPace
from bot.storage import StorageError
from bot.usecases.sending import PreparedSend, execute

log = logging.getLogger(__name__)


def services_of(context: BoltContext) -> Services:
    return context["services"]


# --------------------------------------------------------------------------- authorization


def may_use(settings: Settings, user: str | None) -> bool:
    """SMS_ALLOWED_USERS may send and query (empty allows every member); admins always may."""
    return access.may_use(settings.allowed_users, settings.admins, user)


def is_admin(settings: Settings, user: str | None) -> bool:
    return access.is_admin(settings.admins, user)


def template_names(services: Services) -> list[str]:
    """The saved templates' names, for the compose form's select."""
    return [template.name for template in services.storage.templates.all()]


# --------------------------------------------------------------------------- replies


class Replier(Protocol):
    """Where a command's answers go: only the person who typed it sees them."""

    def __call__(self, message: Message) -> None: ...


class RespondReplier:
    """Ephemeral answers through the command's response_url, retried as every Web API call is
    (Bolt's respond() tries once, so a moment of 503 from Slack would lose the answer). A retry
    after a connection dropped mid-answer may show the answer twice: better than not at all."""

    def __init__(self, response_url: str | None, client: WebClient):
        self._url = response_url
        self._client = client

    def __call__(self, message: Message) -> None:
        if not self._url:
            log.warning("no response URL to answer through: %s", message.text[:80])
            return
        client = self._client
        webhook = WebhookClient(
            self._url,
            timeout=client.timeout,
            ssl=client.ssl,
            proxy=client.proxy,
            retry_handlers=client.retry_handlers,
        )
        try:
            response = webhook.send(
                text=message.text,
                blocks=message.blocks or None,  # as respond(): an empty list is invalid_blocks
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception:
            # Nothing else can reach the person; the outcome is recorded (and in /sms log).
            log.exception("could not answer through the response URL")
            return
        if response.status_code != 200:  # e.g. 404 expired_url: more than 30 minutes later
            log.warning(
                "the response URL answered HTTP %s: %s", response.status_code, response.body[:200]
            )


class EphemeralReplier:
    """Ephemeral answers with chat.postEphemeral (modal submissions have no response_url), in
    the channel's shared pace (bot/slack/pace.py): each write waits its turn up to the pace's
    bound (3 s), then goes anyway, counted, so a person's answer is never held longer."""

    def __init__(self, client: WebClient, pace: SlackPace, channel: str, user: str):
        self._client, self._pace, self._channel, self._user = client, pace, channel, user

    def __call__(self, message: Message) -> None:
        try:
            self._write(self._channel, "chat_postEphemeral", user=self._user, **message.as_kwargs())
        except SlackApiError as error:
            # E.g. the app cannot post in that conversation: a direct message still reaches them.
            log.info("ephemeral reply failed (%s); sending a direct message", error_code(error))
            try:
                self._write(self._user, "chat_postMessage", **message.as_kwargs())
            except Exception as second:
                log.warning("could not reach %s at all: %s", self._user, second)
        except Exception as error:  # Slack unreachable even after the retries
            log.warning("could not reach %s: %s", self._user, error)

    def _write(self, channel: str, method: str, **params: Any) -> None:
        """One Slack write to `channel` in its turn; a 429 holds the channel for everyone."""
        self._take_turn(channel)
        try:
            getattr(self._client, method)(channel=channel, **params)
        except SlackApiError as error:
            self._pace.refused(channel, error)
            raise

    def _take_turn(self, channel: str) -> None:
        try:
            if not self._pace.wait_turn(channel):
                self._pace.record(channel)  # paced past the bound: go now, but count it
        except StorageError as error:  # the database away: answering matters more than pace
            log.warning("Slack pace of %s unknown (%s); replying anyway", channel, error)


def send_and_report(services: Services, prepared: PreparedSend, reply: Replier) -> None:
    """Run a prepared send (on the work executor) and tell the sender what went wrong, if
    anything; a repeated delivery of the same request does nothing."""
    outcome = execute(services, prepared)
    if outcome is None:
        return
    for message in send_report(outcome):
        reply(message)
