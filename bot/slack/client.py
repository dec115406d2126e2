"""The Slack Web API client every part of the app uses: `build_web_client(settings)`.

slack_sdk's own retry handlers retry 429 (after Retry-After), 5xx and dropped connections; they
are subclassed only so tests and the console can inject the sleep instead of waiting for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.config import Settings
from bot.slack.errors import retry_after


class _InjectedSleep:
    """Retry handlers of slack_sdk sleep with time.sleep; tests and the console inject theirs."""

    sleep: Callable[[float], None] = time.sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self.sleep(self.delay(state, response, error))
        state.increment_current_attempt()

    def delay(
        self, state: RetryState, response: HttpResponse | None, error: Exception | None
    ) -> float:
        return self.interval_calculator.calculate_sleep_duration(state.current_attempt)  # type: ignore[attr-defined]


class RateLimitRetry(_InjectedSleep, RateLimitErrorRetryHandler):
    """429: wait what Retry-After says (1 s when absent), as Slack asks."""

    def delay(
        self, state: RetryState, response: HttpResponse | None, error: Exception | None
    ) -> float:
        return retry_after(response.headers if response else None)


class ServerErrorRetry(_InjectedSleep, ServerErrorRetryHandler):
    """500/503: back off and try again."""


class ConnectionErrorRetry(_InjectedSleep, ConnectionErrorRetryHandler):
    """Connection reset/refused: back off and try again."""


def slack_retry_handlers(
    *, sleep: Callable[[float], None] = time.sleep, backoff: float = 0.5, retries: int = 2
) -> list[RetryHandler]:
    calculator = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    handlers: list[_InjectedSleep] = [
        RateLimitRetry(max_retry_count=retries),
        ServerErrorRetry(max_retry_count=retries, interval_calculator=calculator),
        ConnectionErrorRetry(max_retry_count=retries, interval_calculator=calculator),
    ]
    for handler in handlers:
        handler.sleep = sleep
    return [handler for handler in handlers if isinstance(handler, RetryHandler)]


def build_web_client(
    settings: Settings, *, sleep: Callable[[float], None] = time.sleep, backoff: float = 0.5
) -> WebClient:
    base_url = settings.slack_api_url
    if not base_url.endswith("/"):
        base_url += "/"
    return WebClient(
        token=settings.slack_bot_token,
        base_url=base_url,
        timeout=10,
        retry_handlers=slack_retry_handlers(sleep=sleep, backoff=backoff),
    )
