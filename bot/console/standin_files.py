"""What the Slack stand-in keeps of files: files people shared (a bulk form's CSV) and files the
app uploaded (a bulk run's result CSV), with the three steps of Slack's external upload.

As in Slack: `files.info` answers a shared file's metadata, whose `url_private_download` serves its
bytes only to a request carrying `Authorization: Bearer <token>` (without one Slack answers its
sign-in page, HTML, with status 200 — so does this); `files.getUploadURLExternal` (filename,
length) answers an `upload_url` and a `file_id`; the bytes are POSTed raw to that URL (the length
must match); `files.completeUploadExternal` (files as JSON text, channel_id, thread_ts,
initial_comment) shares the uploaded files, which then show as a message in the channel or thread.
`SlackStandIn` holds one `FileRecords` under its lock and routes the methods and paths here.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

FILE_METHODS = ("files.info", "files.getUploadURLExternal", "files.completeUploadExternal")
DOWNLOAD_PATH = "/files-pri/"
UPLOAD_PATH = "/upload/v1/"
SIGN_IN_PAGE = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"


@dataclass
class SlackFile:
    id: str
    name: str
    content: bytes
    filetype: str = "csv"
    title: str = ""
    uploaded: bool = False  # by the app (external upload), as opposed to shared by a person
    expected_length: int | None = None  # an upload's announced length, until its bytes came
    completed: bool = False
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    downloads: list[str | None] = field(default_factory=list)  # the token of each download

    def info(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "filetype": self.filetype,
            "size": len(self.content),
            "url_private": f"{base_url}{DOWNLOAD_PATH}{self.id}/{self.name}",
            "url_private_download": f"{base_url}{DOWNLOAD_PATH}{self.id}/download/{self.name}",
        }


class FileRecords:
    def __init__(self) -> None:
        self.files: dict[str, SlackFile] = {}
        self._ids = itertools.count(1)

    def add(self, name: str, content: bytes, *, filetype: str = "csv", **fields: Any) -> SlackFile:
        file = SlackFile(f"F{next(self._ids):08d}", name, content, filetype, **fields)
        self.files[file.id] = file
        return file

    def uploads(self) -> list[SlackFile]:
        """Files the app uploaded and shared (completeUploadExternal), in order."""
        return [f for f in self.files.values() if f.uploaded and f.completed]

    # -- Web API methods ------------------------------------------------------------------------
    def info(self, params: dict[str, Any], base_url: str) -> dict[str, Any]:
        file = self.files.get(str(params.get("file") or ""))
        if file is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": file.info(base_url)}

    def upload_url(self, params: dict[str, Any], base_url: str) -> dict[str, Any]:
        name, length = str(params.get("filename") or ""), str(params.get("length") or "")
        if not name or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        filetype = name.rpartition(".")[2]
        file = self.add(name, b"", filetype=filetype, uploaded=True, expected_length=int(length))
        return {"ok": True, "upload_url": f"{base_url}{UPLOAD_PATH}{file.id}", "file_id": file.id}

    def complete(self, params: dict[str, Any]) -> tuple[dict[str, Any], list[SlackFile]]:
        """The answer, and the files to show as one message (in `channel_id`, `thread_ts`)."""
        try:
            wanted = json.loads(str(params.get("files") or "[]"))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}, []
        found = [self.files.get(str(f.get("id"))) for f in wanted if isinstance(f, dict)]
        files = [f for f in found if f is not None and f.uploaded and not f.completed]
        if not files or len(files) != len(wanted):
            return {"ok": False, "error": "file_not_found"}, []
        if any(f.expected_length is not None for f in files):
            return {"ok": False, "error": "file_upload_not_completed"}, []  # bytes never came
        titles = {str(f.get("id")): f.get("title") for f in wanted}
        for file in files:
            file.completed, file.title = True, str(titles.get(file.id) or file.name)
            file.channel = str(params.get("channel_id") or "") or None
            file.thread_ts = str(params.get("thread_ts") or "") or None
            file.initial_comment = str(params.get("initial_comment") or "") or None
        answer = [{"id": f.id, "title": f.title, "name": f.name} for f in files]
        return {"ok": True, "files": answer}, files

    # -- the upload and download URLs -----------------------------------------------------------
    def receive(self, file_id: str, raw: bytes) -> tuple[int, bytes]:
        """A POST of the bytes to an upload URL (slack_sdk sends them raw)."""
        file = self.files.get(file_id)
        if file is None or file.expected_length is None:
            return 404, b"unknown upload"
        if file.expected_length != len(raw):
            return 400, b"length does not match"
        file.content, file.expected_length = raw, None
        return 200, f"OK - {len(raw)}".encode()

    def download(self, path: str, token: str | None) -> tuple[int, str, bytes]:
        """(status, content type, body) of a GET of a file's private URL."""
        file_id = path[len(DOWNLOAD_PATH) :].split("/", 1)[0]
        file = self.files.get(file_id)
        if file is None:
            return 404, "text/plain", b"file not found"
        file.downloads.append(token)
        if not token:
            return 200, "text/html; charset=utf-8", SIGN_IN_PAGE
        return (
            200,
            "text/csv" if file.filetype == "csv" else "application/octet-stream",
            file.content,
        )
