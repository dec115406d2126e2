"""The HTTP side of the Slack stand-in: Web API methods (form or JSON bodies), response URLs,
and the raw byte paths of files (download and upload URLs).

`handler_for(record, raw)` builds the request handler class: Web API calls and response URLs go
to `record(method, params, token, path)` -> (status, headers, JSON body); the file paths to
`raw(path, bytes, token)` -> (status, content type, bytes). The token is the Bearer token of the
Authorization header (or a `token` parameter, as Slack also accepts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.console.standin_files import DOWNLOAD_PATH, UPLOAD_PATH

Answer = tuple[int, dict[str, str], dict[str, Any]]
Record = Callable[[str, dict[str, Any], "str | None", str], Answer]
Raw = Callable[[str, bytes, "str | None"], tuple[int, str, bytes]]


def handler_for(record: Record, raw_path: Raw) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._handle()

        def do_GET(self) -> None:
            self._handle()

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length > 0 else b""
                if parts.path.startswith((UPLOAD_PATH, DOWNLOAD_PATH)):  # bytes, not a form
                    bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    self._send(*raw_path(parts.path, raw, bearer.strip() or None))
                    return
                params: dict[str, Any] = dict(parse_qsl(parts.query))
                params.update(_parse_body(raw, self.headers.get("Content-Type", "")))
            except (ValueError, UnicodeDecodeError):
                self._reply(400, {}, {"ok": False, "error": "invalid_form_data"})
                return
            if parts.path.startswith("/api/"):
                method = parts.path[len("/api/") :]
            elif parts.path.startswith("/response/"):
                method = "response_url"
            else:
                self._reply(404, {}, {"ok": False, "error": "unknown_path"})
                return
            token = self.headers.get("Authorization", "").removeprefix("Bearer ") or params.get(
                "token"
            )
            status, headers, body = record(method, params, token, parts.path)
            if method == "response_url" and status == 200:
                self._reply(200, headers, None)
            else:
                self._reply(status, headers, body)

        def _reply(self, status: int, headers: dict[str, str], body: dict | None) -> None:
            data = b"ok" if body is None else json.dumps(body).encode()
            kind = "text/plain" if body is None else "application/json; charset=utf-8"
            self._send(status, kind, data, headers)

        def _send(
            self, status: int, kind: str, data: bytes, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # keep output clean
            pass

    return Handler


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw.decode("utf-8")
    if "json" in content_type or text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("JSON body is not an object")
        return data
    return dict(parse_qsl(text, keep_blank_values=True))
