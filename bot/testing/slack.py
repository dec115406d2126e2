"""The one fake Slack of tests and benchmarks: the console's stand-in, plus test scripting.

`SlackStandIn` (bot/console/slack_standin.py) is what the console shows and what every test
asserts on, so the console renders exactly the code path the tests check. It already records
every call, answers like Slack, keeps each posted message (with its `metadata`) and answers
`conversations.history` / `conversations.replies` (the outbox's exactly-once check), and can be
told to fail (`fail(method, ...)`).

`FakeSlack` adds only what a test needs to script beyond that: `hold(method)`, after which the
next call of that method is recorded (the message exists, as when Slack accepted it) while its
answer is held back until `release()` — the window between Slack accepting a post and the sender
learning it did — and two readers, `posts()` and `thread()`. Two separate blocks below add
channels that refuse posts (`close_channel`/`open_channel`, with conversations.info) and the file
uploads of `files_upload_v2` (`uploads()`).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.console.slack_standin import BOT_ID, BOT_USER, TEAM, Activity, Call, SlackStandIn

__all__ = ["BOT_ID", "BOT_USER", "TEAM", "Activity", "Call", "FakeSlack"]


# ================================================================================================
# Channels the bot cannot post in (conversations.info, and chat.postMessage answering
# not_in_channel / is_archived / channel_not_found) — scripted per channel, until lifted.
# ================================================================================================

_CHANNEL_POSTS = ("chat.postMessage", "files.completeUploadExternal")


class _ClosedChannels:
    """Mixin of FakeSlack (uses the stand-in's lock)."""

    _lock: threading.Condition

    def _init_channels(self) -> None:
        self._closed_channels: dict[str, str] = {}

    def close_channel(self, channel: str, error: str = "not_in_channel") -> None:
        """From now on, posting in `channel` fails with `error` (not_in_channel, is_archived,
        channel_not_found) and conversations.info says so, until `open_channel`."""
        with self._lock:
            self._closed_channels[channel] = error

    def open_channel(self, channel: str) -> None:
        """The bot was invited back (or the channel unarchived): posting works again."""
        with self._lock:
            self._closed_channels.pop(channel, None)

    def _channel_answer(self, call: Call) -> dict[str, Any] | None:
        channel = str(call.params.get("channel") or call.params.get("channel_id") or "")
        error = self._closed_channels.get(channel)
        if call.method == "conversations.info":
            if error == "channel_not_found":
                return {"ok": False, "error": "channel_not_found"}
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "name": channel.lower(),
                    # not_in_channel: a private channel the bot was not invited to (in a
                    # public one, chat:write.public posts without joining)
                    "is_private": error == "not_in_channel",
                    "is_member": error != "not_in_channel",
                    "is_archived": error == "is_archived",
                },
            }
        if error is not None and call.method in _CHANNEL_POSTS:
            return {"ok": False, "error": error}
        return None


# ================================================================================================
# Files: what slack_sdk's files_upload_v2 calls — files.getUploadURLExternal, a POST of the
# bytes to the upload URL it answered, then files.completeUploadExternal (shares it in a
# channel). `uploads()` lists the files shared, with their content.
# ================================================================================================


@dataclass(frozen=True)
class Upload:
    file_id: str
    filename: str
    title: str | None
    channel: str | None
    initial_comment: str | None
    content: bytes


class _FileUploads:
    """Mixin of FakeSlack (uses the stand-in's lock, server and address)."""

    _lock: threading.Condition
    _server: ThreadingHTTPServer
    url: str

    def _init_files(self) -> None:
        self._file_ids = itertools.count(1)
        # file id -> its name (and its content, once uploaded)
        self._pending_files: dict[str, dict[str, Any]] = {}
        self._uploads: list[Upload] = []
        server = self._server
        server.RequestHandlerClass = _accepting_uploads(server.RequestHandlerClass, self)

    def uploads(self) -> list[Upload]:
        """The files shared (files.completeUploadExternal), in order."""
        with self._lock:
            return list(self._uploads)

    def _files_answer(self, call: Call) -> dict[str, Any] | None:
        params = call.params
        if call.method == "files.getUploadURLExternal":
            if not params.get("filename") or not str(params.get("length") or "").isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{next(self._file_ids):08d}"
            self._pending_files[file_id] = {"filename": params["filename"]}
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if call.method != "files.completeUploadExternal":
            return None
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        shared = []
        for entry in files or []:
            pending = self._pending_files.pop(str(entry.get("id")), None)
            if pending is None or "content" not in pending:
                return {"ok": False, "error": "file_not_found"}
            upload = Upload(
                str(entry["id"]),
                pending["filename"],
                entry.get("title"),
                params.get("channel_id"),
                params.get("initial_comment"),
                pending["content"],
            )
            self._uploads.append(upload)
            shared.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        return {"ok": True, "files": shared}

    def _receive_upload(self, file_id: str, content: bytes) -> bool:
        with self._lock:
            pending = self._pending_files.get(file_id)
            if pending is None:
                return False
            pending["content"] = content
            return True


def _accepting_uploads(
    base: type[BaseHTTPRequestHandler], fake: _FileUploads
) -> type[BaseHTTPRequestHandler]:
    """The stand-in's request handler, plus the upload URLs' POSTs (raw bytes, not a form)."""

    class UploadHandler(base):  # type: ignore[valid-type, misc]
        def do_POST(self) -> None:
            if not self.path.startswith("/upload/"):
                super().do_POST()
                return
            length = int(self.headers.get("Content-Length") or 0)
            content = self.rfile.read(length) if length > 0 else b""
            known = fake._receive_upload(self.path.rsplit("/", 1)[-1], content)
            body = b"OK - " + str(len(content)).encode() if known else b"file not found"
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return UploadHandler


@dataclass(eq=False)
class FakeSlack(_FileUploads, _ClosedChannels, SlackStandIn):
    # A client that gave up on a held answer leaves a broken pipe: expected, not news.
    quiet: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._held: set[str] = set()
        self._release = threading.Event()
        self.holding = threading.Event()  # set while an answer is being held back
        self._init_files()
        self._init_channels()

    # -- scripting ------------------------------------------------------------------------------
    def hold(self, method: str) -> None:
        self._release.clear()
        self._held.add(method)

    def release(self) -> None:
        self._held.clear()
        self._release.set()

    def release_failures(self) -> None:
        """Forget every scripted failure (Slack is back)."""
        self.clear_failures()

    def stop(self) -> None:
        self.release()
        super().stop()

    # -- inspection -----------------------------------------------------------------------------
    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted (in order), optionally in one channel."""
        return [
            c.params
            for c in self.calls_to("chat.postMessage")
            if channel is None or c.params.get("channel") == channel
        ]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [m for m in self.posts(channel) if m.get("thread_ts") == thread_ts]

    # -- the API --------------------------------------------------------------------------------
    def _answer(self, call: Call) -> dict[str, Any]:
        special = self._channel_answer(call) or self._files_answer(call)
        return special if special is not None else super()._answer(call)

    def _record(self, call: Call) -> tuple[int, dict[str, str], dict[str, Any]]:
        result = super()._record(call)
        if call.method in self._held:
            self._held.discard(call.method)
            self.holding.set()
            self._release.wait(30)
            self.holding.clear()
        return result
