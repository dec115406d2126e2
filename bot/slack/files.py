"""Reading a file a person shared with the app (the bulk form's CSV).

`files.info` names the file's `url_private_download`; its bytes are served only to a request that
carries the bot token (`Authorization: Bearer xoxb-…`, scope `files:read`). slack_sdk has no
download method (python-slack-sdk#1434), so the bytes are fetched here with the same
standard-library transport slack_sdk itself uses for uploads, with the client's timeout, SSL
context and proxy. The token goes only where Slack's files live (https on slack.com or
slack-files.com, or the host of the configured SLACK_API_URL, which is how a local stand-in is
reached), never through a redirect, and no more than `max_bytes` are read.
"""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.errors import error_code

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024  # Slack's own limit for a form's file input
SLACK_FILE_DOMAINS = ("slack.com", "slack-files.com")


class FileUnavailable(Exception):
    """The file could not be read; `reason` says why in plain words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class SharedFile:
    name: str
    content: bytes


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would leave Slack's file host with our token: refuse it instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        raise HTTPError(req.full_url, code, "redirect refused", headers, fp)


def download(client: WebClient, file_id: str, *, max_bytes: int = MAX_FILE_BYTES) -> SharedFile:
    """The shared file's name and bytes; FileUnavailable with the reason otherwise."""
    try:
        info = client.files_info(file=file_id)["file"]
    except SlackApiError as error:
        code = error_code(error)
        if code in ("file_not_found", "file_deleted"):
            raise FileUnavailable("The file is gone from Slack; share it again.") from None
        raise FileUnavailable(f"Slack did not show the app the file ({code}).") from None
    except (SlackClientError, OSError) as error:
        log.warning("files.info failed: %s", error)
        raise FileUnavailable("Slack could not be reached to read the file; try again.") from None
    name = str(info.get("name") or "file")
    size = info.get("size")
    if isinstance(size, int) and size > max_bytes:
        raise FileUnavailable(f"{name} is {size:,} bytes; at most {max_bytes:,} can be read.")
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    if not _trusted(url, client.base_url):
        raise FileUnavailable("Slack gave no address the file can be read from.")
    return SharedFile(name, _fetch(client, url, name, max_bytes))


def _trusted(url: str, api_url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and any(
        host == domain or host.endswith("." + domain) for domain in SLACK_FILE_DOMAINS
    ):
        return True
    configured = urlsplit(api_url)
    return bool(host) and host == configured.hostname and parts.scheme == configured.scheme


def _fetch(client: WebClient, url: str, name: str, max_bytes: int) -> bytes:
    handlers: list[urllib.request.BaseHandler] = [
        _NoRedirects(),
        urllib.request.HTTPSHandler(context=client.ssl),
    ]
    if client.proxy:
        handlers.append(urllib.request.ProxyHandler({"http": client.proxy, "https": client.proxy}))
    request = urllib.request.Request(url, method="GET")
    request.add_unredirected_header("Authorization", f"Bearer {client.token}")
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=client.timeout) as answer:
            kind = answer.headers.get_content_type()
            content = answer.read(max_bytes + 1)
    except (HTTPError, URLError, OSError) as error:
        log.warning("download of %s failed: %s", name, error)
        raise FileUnavailable(f"{name} could not be downloaded from Slack; try again.") from None
    if kind == "text/html":  # Slack's sign-in page: the token was not accepted for this file
        raise FileUnavailable(
            f"Slack did not let the app read {name}: the app needs the files:read scope "
            "(reinstall it from manifest.yml)."
        )
    if len(content) > max_bytes:
        raise FileUnavailable(f"{name} is larger than {max_bytes:,} bytes; split it.")
    return content
