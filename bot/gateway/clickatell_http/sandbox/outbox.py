"""Posting callbacks to the account's URLs: status reports (§6) and inbound SMS (§7).

A legacy callback is a form-encoded POST carrying HTTP basic auth when credentials are
configured; anything but a 2xx answer, or no answer, is a failure retried later. A Platform
callback is JSON posted without credentials (the Portal has none to send: the URL's own
`?token=` is the proof) and, as the Portal says, acknowledged by any 2xx and not retried after a
redirect status; it is not followed either.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

STATUS = "status"
MO = "mo"

# The real retry schedules in minutes, scaled down to seconds so a test (or a person watching)
# sees retries happen: status 2, 4, 8 … 128 minutes and 3 days; MO 2, 4, 8, 16 and 25 minutes.
RETRY_DELAYS: dict[str, tuple[float, ...]] = {
    STATUS: (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 3 * 24 * 60.0),
    MO: (2.0, 4.0, 8.0, 16.0, 25.0),
}

# The Portal retries a callback after 1, 2, 4, 8 and 16 seconds (§9).
PLATFORM_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver a callback, for inspection."""

    channel: str  # "status" or "mo"
    url: str
    body: str  # the form body exactly as posted
    attempt: int  # 0 for the first try
    at: float
    ok: bool
    outcome: str  # "HTTP 200", or the connection error


class CallbackSender:
    def __init__(
        self,
        urls: dict[str, str | None],
        user: str | None,
        password: str | None,
        timeout: float,
    ):
        self.urls = urls
        self._auth = (user, password or "") if user is not None else None
        self._timeout = timeout
        self._http = requests.Session()  # one pool; only the scheduler's runner uses it

    def url(self, channel: str) -> str | None:
        return self.urls.get(channel)

    def post(self, channel: str, body: str, *, platform: bool = False) -> tuple[bool, str]:
        """(delivered, what happened). Never raises for network trouble."""
        url = self.urls.get(channel)
        if url is None:
            return False, "no URL configured"
        try:
            response = self._http.post(
                url,
                data=body.encode("utf-8" if platform else "ascii"),
                headers={"Content-Type": JSON if platform else FORM},
                auth=None if platform else self._auth,
                timeout=self._timeout,
                allow_redirects=not platform,
            )
        except requests.RequestException as exc:
            return False, f"{type(exc).__name__}: {exc}"
        taken = 200 <= response.status_code < (400 if platform else 300)
        return taken, f"HTTP {response.status_code}"

    def close(self) -> None:
        self._http.close()
