"""The workspace the bot is installed in, as auth.test tells it: its address (for links to a
message or thread) and its name (the default HELP reply names the team). Asked once and kept;
`known()` never calls Slack, so work inside a storage transaction can use it without waiting."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

log = logging.getLogger(__name__)

DEFAULT_WORKSPACE_URL = "https://slack.com/"


@dataclass(frozen=True)
class WorkspaceInfo:
    url: str  # "https://team.slack.com/"
    name: str | None  # None: not known


class Workspace:
    def __init__(self, slack: WebClient) -> None:
        self._slack = slack
        self._info: WorkspaceInfo | None = None
        self._lock = threading.Lock()

    def info(self) -> WorkspaceInfo:
        """auth.test's answer, asked once; a failure is not kept (asked again next time)."""
        with self._lock:
            if self._info is not None:
                return self._info
        try:
            answer = self._slack.auth_test()
        except (SlackClientError, OSError) as error:
            log.info("workspace unknown for now (%s); links use slack.com", error)
            return WorkspaceInfo(DEFAULT_WORKSPACE_URL, None)
        url, name = answer.get("url"), answer.get("team")
        info = WorkspaceInfo(
            url if isinstance(url, str) and url else DEFAULT_WORKSPACE_URL,
            name if isinstance(name, str) and name else None,
        )
        with self._lock:
            self._info = info
        return info

    def known(self) -> WorkspaceInfo | None:
        """What was learnt already, without asking Slack."""
        with self._lock:
            return self._info
