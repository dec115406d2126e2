"""The Portal's three integration types, each as the requests it makes (clickatell-platform.md §1,
§2, §7). An API key belongs to one type; `CLICKATELL_INTEGRATION` says which.

| type | send | key in | recipients a call | client ID |
|---|---|---|---|---|
| `one`  | `POST /v1/message`, one item per recipient | `Authorization` | 200 | one per recipient |
| `rest` | `POST /messages`, `to` a list              | `Authorization` | 200 | one per request |
| `http` | `GET /messages/http/send`, query           | `apiKey=`       | 1   | none on the wire |

The client ID an SMS HTTP send cannot carry is still planned and recorded: it names the message
in the app, and a person can quote it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from bot.gateway.clickatell_platform.codes import CodeSpace

IntegrationName = Literal["one", "rest", "http"]
INTEGRATIONS: tuple[IntegrationName, ...] = ("one", "rest", "http")
MAX_MESSAGES = 200  # One API: "the maximum number of messages in a single batch call is 200"


@dataclass(frozen=True)
class Outgoing:
    """One recipient of a send and the client ID it was planned with."""

    to: str
    client_id: str


@dataclass(frozen=True)
class Call:
    """One HTTP request: `query` is already encoded (and carries the key for `http`)."""

    method: str
    path: str
    body: bytes | None = None
    query: str = ""


def _json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Integration:
    """What differs between the integration types; the client does the rest alike."""

    name: IntegrationName
    space: CodeSpace  # whose error numbers its answers use
    batch_size: int  # recipients one send call takes
    shared_client_id: bool  # one client ID for the whole request (`rest`)
    key_in_header: bool
    balance_path: str
    send_path: str
    query_path: str | None  # a message's status by its ID; None: cannot be asked

    def send_call(
        self, batch: Sequence[Outgoing], content: str, sender: str | None, key: str
    ) -> Call:
        if self.name == "one":
            items = [_one_api_item(o, content, sender) for o in batch]
            return Call("POST", self.send_path, _json({"messages": items}))
        if self.name == "rest":
            payload: dict[str, object] = {"content": content, "to": [o.to for o in batch]}
            if sender:
                payload["from"] = sender
            payload["clientMessageId"] = batch[0].client_id
            return Call("POST", self.send_path, _json(payload))
        (only,) = batch
        pairs = [("apiKey", key), ("to", only.to), ("content", content)]
        if sender:
            pairs.append(("from", sender))
        return Call("GET", self.send_path, query=urlencode(pairs))

    def balance_call(self, key: str) -> Call:
        query = "" if self.key_in_header else urlencode([("apiKey", key)])
        return Call("GET", self.balance_path, query=query)

    def status_call(self, message_id: str) -> Call:
        assert self.query_path is not None
        return Call("GET", self.query_path.format(id=quote(message_id, safe="")))


def _one_api_item(outgoing: Outgoing, content: str, sender: str | None) -> dict[str, str]:
    item = {"channel": "sms", "to": outgoing.to, "content": content}
    if sender:
        item["from"] = sender
    item["clientMessageId"] = outgoing.client_id
    return item


ONE_API = Integration(
    "one", "one", MAX_MESSAGES, False, True, "/v1/balance", "/v1/message", "/v1/message/{id}"
)
SMS_REST = Integration(
    "rest", "sms", MAX_MESSAGES, True, True, "/public-client/balance", "/messages", None
)
SMS_HTTP = Integration(
    "http", "sms", 1, False, False, "/public-client/balance", "/messages/http/send", None
)
BY_NAME: dict[IntegrationName, Integration] = {"one": ONE_API, "rest": SMS_REST, "http": SMS_HTTP}
