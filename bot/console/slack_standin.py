"""A local stand-in for Slack's Web API and response URLs: a real HTTP server on 127.0.0.1.

Used by `sms-bot console` (it renders what the bot does, as it happens) and by the tests (they
assert on what Slack received). One implementation for both, so the console shows exactly what the
tested code path produces.

It records every call (method, the parameters from the form or JSON body, the token) and answers
like Slack: `auth.test`, `chat.postMessage` (with a fresh `ts`), `chat.update`, `chat.delete`,
`chat.postEphemeral`, `chat.getPermalink`, `views.open`/`views.update`/`views.push`,
`reactions.add`/`reactions.remove`, `users.info`, `conversations.replies`, `views.publish`
(each person's Home tab) and `functions.completeSuccess`/`completeError` (how a workflow step
ended; both kept in `surfaces`, see standin_surfaces.py), files shared by people (`share_file`:
`files.info` and the private download URL) and uploaded by the app
(`files.getUploadURLExternal`, the upload URL, `files.completeUploadExternal`; see
standin_files.py; the HTTP side is standin_http.py), and any other method with `{"ok": true}`.
It keeps the latest version of every posted message so tests can assert on what a channel shows
now.

Point a WebClient at `standin.api_url` (SLACK_API_URL) and response URLs at
`standin.response_url(n)`; a response URL bound to a message (`channel=`, `message_ts=`) also
honours `replace_original`/`delete_original`, and one bound to a channel posts `in_channel`
responses there, as Slack does. Script failures with `fail(method, error=...)` (HTTP 200,
`ok: false`) or `fail(method, status=429, retry_after=0)` / `status=503`, each for `times` calls.

Observers (`subscribe(fn)`) receive an `Activity` for every call after it was answered and before
the HTTP reply goes out, so a post is always observed before the bot can update it. They also see
messages that people post (`post_user_message`, `edit_user_message`, `delete_user_message`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, TypeVar

from bot.console.standin_files import DOWNLOAD_PATH, UPLOAD_PATH, FileRecords, SlackFile
from bot.console.standin_http import handler_for
from bot.console.standin_surfaces import HOME_METHODS, STEP_METHODS, StepEnd, SurfaceRecords

BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
TEAM = "T0TEAM"

T = TypeVar("T")
Answer = tuple[int, dict[str, str], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    method: str  # Web API method, or "response_url" for a respond() to a response URL
    params: dict[str, Any]
    token: str | None
    path: str


@dataclass(frozen=True)
class Binding:
    """What a response URL belongs to: the channel, the user, and the message it came from."""

    channel: str | None = None
    message_ts: str | None = None
    user: str | None = None


@dataclass(frozen=True)
class Activity:
    """One thing that happened in the stand-in, for observers.

    kind: "post", "update", "delete", "ephemeral", "reaction_added", "reaction_removed",
    "view_open", "view_update", "view_push", "home_publish", "step_end", "user_message",
    "user_edit", "user_delete", or "other" (any other method). `ok` is False when the call
    failed (scripted or invalid); then only `call` and `answer` are meaningful. `message` is
    the message as stored now (posts, updates, ephemerals), `previous` the version before an
    update or delete.
    """

    kind: str
    call: Call
    ok: bool
    answer: dict[str, Any]
    channel: str | None = None
    ts: str | None = None
    message: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    reaction: str | None = None
    binding: Binding | None = None


Observer = Callable[[Activity], None]


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    times: int


def wait_until(predicate: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `predicate` until it returns something truthy (returned); AssertionError on timeout.

    The poll interval is short and grows a little, so a wait that succeeds returns promptly and
    a long one does not spin (the tests' wait_for is this too).
    """
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    interval = 0.002
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        pause.wait(interval)
        interval = min(interval * 2, 0.05)


@dataclass
class SlackStandIn:
    host: str = "127.0.0.1"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    time_zones: dict[str, str] = field(default_factory=dict)  # user ID -> `tz` (IANA name)
    # True: a request that fails in the server (e.g. its client gave up and the reply hits a
    # broken pipe) is dropped without a traceback on stderr.
    quiet: bool = False

    def __post_init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.reactions: dict[tuple[str, str], list[str]] = {}
        self.surfaces = SurfaceRecords()
        self.files = FileRecords()
        self._shared: tuple[str | None, str | None] = (None, None)  # the last files' message
        self._bindings: dict[str, Binding] = {}
        self._observers: list[Observer] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._views = itertools.count(1)
        handler = handler_for(
            lambda method, params, token, path: self._record(Call(method, params, token, path)),
            self._raw,
        )
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        if self.quiet:
            self._server.handle_error = _ignore_error  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="slack-standin", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> SlackStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(
        self,
        name: str = "1",
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user: str | None = None,
    ) -> str:
        """A response URL. Bound to a channel/message, responses act on them as in Slack."""
        if channel or message_ts or user:
            with self._lock:
                self._bindings[name] = Binding(channel, message_ts, user)
        return f"{self.url}/response/{name}"

    def subscribe(self, observer: Observer) -> None:
        """Call `observer(activity)` for everything that happens from now on. Observers run on
        the request's thread before the HTTP reply; an observer that raises is ignored."""
        with self._lock:
            self._observers.append(observer)

    # -- scripting ------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail: `ok: false` with `error`, or an HTTP status."""
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(status, error, retry_after, times)
            )

    def clear_failures(self) -> None:
        """Forget every scripted failure not yet used (Slack is back)."""
        with self._lock:
            self._failures.clear()

    # -- what people do (the console plays the person) ------------------------------------------
    def post_user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A person posts `text` (as Slack stores it: &, <, > escaped) in a channel or thread;
        `fields` are further message fields (blocks, client_msg_id ...)."""
        with self._lock:
            ts = self._next_ts()
            message: dict[str, Any] = {**fields, "ts": ts, "channel": channel, "user": user}
            message["text"] = text
            if thread_ts:
                message["thread_ts"] = thread_ts
            self.messages[(channel, ts)] = message
            self._lock.notify_all()
        call = Call("user.message", dict(message), None, "")
        self._notify(Activity("user_message", call, True, {"ok": True}, channel, ts, message))
        return dict(message)

    def edit_user_message(self, channel: str, ts: str, text: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            previous = dict(self.messages[(channel, ts)])
            message = {**previous, **fields, "text": text}
            self.messages[(channel, ts)] = message
        call = Call("user.edit", {"channel": channel, "ts": ts, "text": text}, None, "")
        activity = Activity("user_edit", call, True, {"ok": True}, channel, ts, message, previous)
        self._notify(activity)
        return dict(message)

    def delete_user_message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            previous = self.messages.pop((channel, ts))
        call = Call("user.delete", {"channel": channel, "ts": ts}, None, "")
        self._notify(Activity("user_delete", call, True, {"ok": True}, channel, ts, None, previous))
        return dict(previous)

    # -- inspection -----------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] = lambda c: True,
        timeout: float = 10.0,
        count: int = 1,
    ) -> list[Call]:
        """Wait until at least `count` calls of `method` match; return the matching calls."""

        def matching() -> list[Call] | None:
            found = [c for c in self.calls_to(method) if predicate(c)]
            return found if len(found) >= count else None

        return wait_until(matching, timeout, f"{count} call(s) to {method}")

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.messages[(channel, ts)])

    def channel_messages(self, channel: str) -> Iterator[dict[str, Any]]:
        with self._lock:
            items = [dict(m) for (ch, _), m in self.messages.items() if ch == channel]
        return iter(items)

    def reactions_on(self, channel: str, ts: str) -> list[str]:
        with self._lock:
            return list(self.reactions.get((channel, ts), []))

    def home_of(self, user: str) -> dict[str, Any] | None:
        """The Home tab `user` sees now (the last view published for them), None if none."""
        with self._lock:
            view = self.surfaces.home_of(user)
            return dict(view) if view is not None else None

    def share_file(self, name: str, content: bytes, filetype: str = "csv") -> dict[str, Any]:
        """A person shares a file (e.g. in a form's file input): its object as Slack shows it."""
        with self._lock:
            return self.files.add(name, content, filetype=filetype).info(self.url)

    def uploads(self) -> list[SlackFile]:
        """Files the app uploaded and shared, in order."""
        with self._lock:
            return self.files.uploads()

    def step_ends(self) -> list[StepEnd]:
        """How Slack was told each workflow step ended, in order."""
        with self._lock:
            return list(self.surfaces.step_ends)

    # -- the API --------------------------------------------------------------------------------
    # Subclasses (test doubles) may override `_record(call) -> (status, headers, body)` and
    # `_answer(call) -> body`; observers are told after the answer, whoever produced it.
    def _record(self, call: Call) -> Answer:
        with self._lock:
            self.calls.append(call)
            failure = self._next_failure(call.method)
            if failure is not None:
                status, headers, body = self._failure_response(failure)
                activity = Activity(_kind(call.method), call, False, body)
            else:
                before = self._before(call)
                status, headers, body = 200, {}, self._answer(call)
                activity = self._activity(call, body, before)
            self._lock.notify_all()
        self._notify(activity)
        return status, headers, body

    def _notify(self, activity: Activity) -> None:
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(activity)
            except Exception:  # an observer's bug must not break the bot's Slack calls
                continue

    def _next_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method) or []
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    @staticmethod
    def _failure_response(failure: _Failure) -> Answer:
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        if failure.status == 429:
            return 429, headers, {"ok": False, "error": "ratelimited"}
        if failure.status != 200:
            return failure.status, headers, {"ok": False, "error": "service_unavailable"}
        return 200, headers, {"ok": False, "error": failure.error or "fatal_error"}

    def _answer(self, call: Call) -> dict[str, Any]:
        if call.method == "response_url":
            return self._respond(call)
        answer = _ANSWERS.get(call.method)
        return answer(self, call.params) if answer else {"ok": True}

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def new_ts(self) -> str:
        """A fresh timestamp from the same sequence as messages (e.g. for an event's ts)."""
        with self._lock:
            return self._next_ts()

    # -- what observers learn ---------------------------------------------------------------------
    def _before(self, call: Call) -> dict[str, Any] | None:
        """The message a call is about to change (updates, deletes), as it is now."""
        if call.method in ("chat.update", "chat.delete"):
            key = (call.params.get("channel"), call.params.get("ts"))
        elif call.method == "response_url":
            binding = self._bindings.get(_url_name(call), Binding())
            key = (binding.channel, binding.message_ts)
        else:
            return None
        found = self.messages.get(key)  # type: ignore[arg-type]
        return dict(found) if found is not None else None

    def _activity(
        self, call: Call, body: dict[str, Any], before: dict[str, Any] | None
    ) -> Activity:
        kind = _kind(call.method)
        if not body.get("ok"):
            return Activity(kind, call, False, body)
        params = call.params
        if call.method == "response_url":
            return self._response_activity(call, body, before)
        if kind in ("post", "update"):
            channel, ts = body.get("channel"), body.get("ts")
            if call.method == "files.completeUploadExternal":  # the share's message
                channel, ts = self._shared
            message = self.messages.get((channel, ts))  # type: ignore[arg-type]
            current = dict(message) if message is not None else None
            return Activity(kind, call, True, body, channel, ts, current, before)
        if kind == "delete":
            return Activity(
                kind, call, True, body, params.get("channel"), params.get("ts"), None, before
            )
        if kind == "ephemeral":
            message = {"ts": body.get("message_ts"), "channel": params.get("channel")}
            message.update(_message_fields(params))
            message["user"] = params.get("user")
            return Activity(kind, call, True, body, params.get("channel"), message["ts"], message)
        if kind in ("reaction_added", "reaction_removed"):
            channel, ts = params.get("channel"), params.get("timestamp")
            message = self.messages.get((channel, ts))  # type: ignore[arg-type]
            return Activity(
                kind,
                call,
                True,
                body,
                channel,
                ts,
                dict(message or {}),
                reaction=params.get("name"),
            )
        if kind.startswith("view_") or kind == "home_publish":
            return Activity(kind, call, True, body, view=body.get("view"))
        return Activity(kind, call, True, body)

    def _response_activity(
        self, call: Call, body: dict[str, Any], before: dict[str, Any] | None
    ) -> Activity:
        binding = self._bindings.get(_url_name(call), Binding())
        done = body.get("done", "ephemeral")
        channel, ts = body.get("channel"), body.get("ts")
        message = body.get("message")
        return Activity(
            done, call, True, {"ok": True}, channel, ts, message, before, binding=binding
        )

    # -- answers ----------------------------------------------------------------------------------
    def _raw(self, path: str, raw: bytes, token: str | None) -> tuple[int, str, bytes]:
        """A file's download URL (GET) or an upload URL (POST of the bytes), recorded as calls
        `files.download` / `files.upload` with the file's ID."""
        with self._lock:
            if path.startswith(UPLOAD_PATH):
                file_id = path[len(UPLOAD_PATH) :]
                self.calls.append(Call("files.upload", {"file": file_id}, token, path))
                status, body = self.files.receive(file_id, raw)
                answer = (status, "text/plain", body)
            else:
                file_id = path[len(DOWNLOAD_PATH) :].split("/", 1)[0]
                self.calls.append(Call("files.download", {"file": file_id}, token, path))
                answer = self.files.download(path, token)
            self._lock.notify_all()
        return answer

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        """The uploaded files are shared: one message showing them, in the channel or thread."""
        answer, files = self.files.complete(params)
        channel = params.get("channel_id")
        self._shared = (None, None)
        if files and channel:
            ts = self._next_ts()
            message = {"ts": ts, "channel": channel, "text": params.get("initial_comment") or ""}
            message["files"] = [f.info(self.url) for f in files]
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.messages[(channel, ts)] = message
            self._shared = (channel, ts)
        return answer

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        message = {"ts": ts, "channel": channel, **_message_fields(params)}
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (params.get("channel"), params.get("ts"))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key] = {**self.messages[key], **_message_fields(params)}  # type: ignore[index]
        return {"ok": True, "channel": key[0], "ts": key[1], "text": params.get("text", "")}

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (params.get("channel"), params.get("ts"))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        del self.messages[key]  # type: ignore[arg-type]
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _reaction(self, params: dict[str, Any], adding: bool) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("timestamp")
        name = str(params.get("name") or "")
        if not channel or not ts or not name:
            return {"ok": False, "error": "invalid_arguments"}
        names = self.reactions.setdefault((channel, ts), [])
        if adding and name not in names:
            names.append(name)
        elif not adding and name in names:
            names.remove(name)
        return {"ok": True}

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        view_id = params.get("view_id") or f"V{next(self._views):08d}"
        return {"ok": True, "view": {**(view or {}), "id": view_id, "hash": f"h{view_id}"}}

    def _user(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user", "")
        profile = self.users.get(user_id, {"real_name": user_id, "display_name": user_id})
        user = {"id": user_id, "name": user_id.lower(), "profile": profile}
        if user_id in self.time_zones:
            user["tz"] = self.time_zones[user_id]
        return {"ok": True, "user": user}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        """conversations.history: the channel's top-level messages, newest first (Slack's
        order); `oldest` is not applied (these ts are counters, not times)."""
        channel = params.get("channel")
        found = [
            dict(m)
            for (ch, ts), m in self.messages.items()
            if ch == channel and m.get("thread_ts") in (None, ts)
        ]
        found.sort(key=lambda m: m["ts"], reverse=True)
        return {"ok": True, "messages": found, "has_more": False}

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """conversations.replies: a thread's root and replies, oldest first."""
        channel, root = params.get("channel"), params.get("ts")
        found = [
            dict(m)
            for (ch, ts), m in self.messages.items()
            if ch == channel and (ts == root or m.get("thread_ts") == root)
        ]
        found.sort(key=lambda m: m["ts"])
        return {"ok": True, "messages": found, "has_more": False}

    def _respond(self, call: Call) -> dict[str, Any]:
        """A POST to a response URL: ephemeral by default; bound ones act on their message.
        (The body is not sent back, Slack answers "ok"; it tells `_activity` what was done.)"""
        binding = self._bindings.get(_url_name(call), Binding())
        params = call.params
        target = (binding.channel, binding.message_ts)
        if _flag(params.get("delete_original")) and target in self.messages:
            del self.messages[target]  # type: ignore[arg-type]
            return {"ok": True, "done": "delete", "channel": target[0], "ts": target[1]}
        if _flag(params.get("replace_original")) and target in self.messages:
            updated = {**self.messages[target], **_message_fields(params)}  # type: ignore[index]
            self.messages[target] = updated  # type: ignore[index]
            return {
                "ok": True,
                "done": "update",
                "channel": target[0],
                "ts": target[1],
                "message": dict(updated),
            }
        ts = self._next_ts()
        message = {"ts": ts, "channel": binding.channel, **_message_fields(params)}
        if params.get("response_type") == "in_channel" and binding.channel:
            self.messages[(binding.channel, ts)] = message
            done = "post"
        else:
            message["user"] = binding.user
            done = "ephemeral"
        return {"ok": True, "done": done, "channel": binding.channel, "ts": ts, "message": message}


# The fixture name the tests know it by.
FakeSlack = SlackStandIn


def _ignore_error(request: object, client_address: object) -> None:
    return None


def _url_name(call: Call) -> str:
    return call.path.rsplit("/", 1)[-1]


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


_KINDS = {
    "chat.postMessage": "post",
    "chat.update": "update",
    "chat.delete": "delete",
    "files.completeUploadExternal": "post",  # the shared files show as a message
    "chat.postEphemeral": "ephemeral",
    "reactions.add": "reaction_added",
    "reactions.remove": "reaction_removed",
    "views.open": "view_open",
    "views.update": "view_update",
    "views.push": "view_push",
    "views.publish": "home_publish",
    **{method: "step_end" for method in STEP_METHODS},
}


def _kind(method: str) -> str:
    return _KINDS.get(method, "other")


def _message_fields(params: dict[str, Any]) -> dict[str, Any]:
    fields = {k: params[k] for k in ("text", "blocks", "thread_ts", "metadata") if k in params}
    for key in ("blocks", "metadata"):  # form bodies carry them as JSON text
        if isinstance(fields.get(key), str):
            fields[key] = json.loads(fields[key])
    return fields


def _auth_test(standin: SlackStandIn, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "url": "https://example.slack.com/",
        "team": "Example",
        "user": "smsbot",
        "team_id": TEAM,
        "user_id": BOT_USER,
        "bot_id": BOT_ID,
    }


def _permalink(standin: SlackStandIn, params: dict[str, Any]) -> dict[str, Any]:
    """`chat.getPermalink`: a message's address, as Slack forms it; an unknown message is
    `message_not_found` (so a caller's fallback can be tried)."""
    channel, ts = str(params.get("channel") or ""), str(params.get("message_ts") or "")
    if (channel, ts) not in standin.messages:
        return {"ok": False, "error": "message_not_found"}
    link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return {"ok": True, "channel": channel, "permalink": link}


_ANSWERS: dict[str, Callable[[SlackStandIn, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": _auth_test,
    "chat.getPermalink": _permalink,
    "chat.postMessage": SlackStandIn._post_message,
    "chat.update": SlackStandIn._update,
    "chat.delete": SlackStandIn._delete,
    "chat.postEphemeral": SlackStandIn._ephemeral,
    "reactions.add": lambda s, p: s._reaction(p, adding=True),
    "reactions.remove": lambda s, p: s._reaction(p, adding=False),
    "views.open": SlackStandIn._view,
    "views.update": SlackStandIn._view,
    "views.push": SlackStandIn._view,
    "users.info": SlackStandIn._user,
    "conversations.history": SlackStandIn._history,
    "conversations.replies": SlackStandIn._replies,
    **{method: lambda s, p: s.surfaces.publish(p) for method in HOME_METHODS},
    "files.info": lambda s, p: s.files.info(p, s.url),
    "files.getUploadURLExternal": lambda s, p: s.files.upload_url(p, s.url),
    "files.completeUploadExternal": SlackStandIn._complete_upload,
    "functions.completeSuccess": lambda s, p: s.surfaces.end_step("functions.completeSuccess", p),
    "functions.completeError": lambda s, p: s.surfaces.end_step("functions.completeError", p),
}
