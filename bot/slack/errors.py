"""One classification of Slack Web API failures, and one reading of Retry-After.

A failed call is *rate limited* (429 / `ratelimited`: wait what Retry-After says), *transient*
(5xx or an error code Slack documents as passing: back off and try again) or a *refusal*
(`not_in_channel`, `channel_not_found`, ...: retrying cannot help). Every caller that decides
whether to retry, queue or give up asks here.
"""

from __future__ import annotations

from collections.abc import Mapping

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

TRANSIENT_CODES = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Slack asks for seconds to a minute; an hour bounds a broken or hostile header.
MAX_RETRY_AFTER = 3600.0
DEFAULT_RETRY_AFTER = 1.0


def error_code(error: SlackApiError | SlackResponse | None) -> str:
    """Slack's error code ('not_in_channel', 'ratelimited', ...); 'unknown_error' without one."""
    response = error.response if isinstance(error, SlackApiError) else error
    try:
        data = response.data if response is not None else None
    except AttributeError:
        data = None
    if isinstance(data, Mapping) and data.get("error"):
        return str(data["error"])
    return "unknown_error"


def status_of(error: SlackApiError) -> int:
    """The HTTP status of the failed call (200 for an `ok: false` answer)."""
    return int(getattr(error.response, "status_code", 200) or 200)


def is_rate_limited(error: SlackApiError) -> bool:
    return status_of(error) == 429 or error_code(error) == "ratelimited"


def is_transient(error: SlackApiError) -> bool:
    """Slack failed in a way that passes (5xx, rate limited, a passing error code)."""
    status = status_of(error)
    return status >= 500 or status == 429 or error_code(error) in TRANSIENT_CODES


def describe(error: SlackApiError) -> str:
    """Short words for a log line or a message: the error code, else the HTTP status."""
    code = error_code(error)
    return code if code != "unknown_error" else f"HTTP {status_of(error)}"


def retry_after(headers: Mapping[str, object] | None) -> float:
    """Seconds Slack asks to wait (Retry-After, any case; a list as slack_sdk keeps them),
    1 s when absent or unreadable, never more than MAX_RETRY_AFTER."""
    lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
    raw = lowered.get("retry-after", DEFAULT_RETRY_AFTER)
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else DEFAULT_RETRY_AFTER
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(str(raw))))
    except ValueError:
        return DEFAULT_RETRY_AFTER


def api_error_behind(error: BaseException) -> SlackApiError | None:
    """The SlackApiError that caused `error` (Bolt wraps auth.test's in a BoltError), or None."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        if isinstance(current, SlackApiError):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None
