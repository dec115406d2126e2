"""The batch commands (protocol reference §4, `http_batch`): one template, many messages.

`startbatch` takes a template holding #field1#…#fieldN#, `senditem` sends it to one number with
its fields filled in, `quicksend` sends it unchanged to many numbers (300 per POST), `endbatch`
closes it. They are mixed into `ClickatellClient`, which provides the authenticated session and
the checks every send shares.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from bot.gateway.base import GatewayError, OutcomeUnknown
from bot.gateway.clickatell_http import replies
from bot.gateway.clickatell_http.chunks import Chunk, each_chunk, match, split, unknown_outcome
from bot.gateway.clickatell_http.types import RecipientResult
from bot.gateway.clickatell_http.wire import Pairs
from bot.sms.encoding import PLAIN_CHARACTERS, EncodedText, Encoding, encode_text
from bot.sms.refusals import Refused

_FIELD = re.compile(r"(?:field)?([1-9]\d{0,2})")
_T = TypeVar("_T")


class BatchCommands:
    """startbatch, senditem, quicksend and endbatch, for `ClickatellClient`."""

    max_parts: int
    _batch_encodings: dict[str, Encoding]

    # Provided by ClickatellClient: the authenticated call and the checks every send shares.
    def _command(self, path: str, pairs: Pairs, *, retry_901: bool = True) -> bytes:
        raise NotImplementedError

    def _send_pairs(
        self,
        encoded: EncodedText,
        sender: str | None,
        scheduled_time: datetime | int | None,
        deliv_time: int | None,
        params: Mapping[str, object],
    ) -> Pairs:
        raise NotImplementedError

    def _numbers(self, to: str | Sequence[str]) -> list[str]:
        raise NotImplementedError

    def start_batch(self, template: str, **params: object) -> str:
        """`startbatch` with a template holding #field1#…#fieldN#. `concat` is the configured
        maximum (the final length depends on the fields); `sender`/`scheduled_time`/
        `deliv_time` work as in `send`."""
        sender = params.pop("sender", None)
        scheduled = params.pop("scheduled_time", None)
        deliv = params.pop("deliv_time", None)
        encoded = encode_text(template, None)
        pairs = self._send_pairs(encoded, sender, scheduled, deliv, params)  # type: ignore[arg-type]
        pairs = [("template" if k == "text" else k, v) for k, v in pairs]
        pairs = [(k, str(self.max_parts) if k == "concat" else v) for k, v in pairs]
        batch_id = replies.read_id(self._command("/http_batch/startbatch", pairs))
        self._batch_encodings[batch_id] = encoded.encoding
        return batch_id

    def _field_value(self, batch_id: str, name: str, value: str) -> str | bytes:
        encoding = self._batch_encodings.get(batch_id, "gsm7")
        if encoding == "ucs2":
            try:
                return value.encode("utf-16-be").hex().upper()
            except UnicodeEncodeError:
                raise Refused(f"Field {name} holds an invalid character.") from None
        if any(char not in PLAIN_CHARACTERS for char in value):
            raise Refused(
                f"Field {name} holds characters plain SMS cannot carry; start the batch with "
                "a template that needs Unicode."
            )
        return value.encode("latin-1")

    def send_item(self, batch_id: str, to: str, fields: Mapping[str, str]) -> str:
        """`senditem`: one personalised message of a batch; fields are "field1"… or "1"…."""
        msisdn = self._numbers([to])[0]
        pairs: Pairs = [("batch_id", batch_id), ("to", msisdn)]
        for key, value in fields.items():
            found = _FIELD.fullmatch(str(key))
            if not found:
                raise Refused(f"Batch field {key!r} must be named field1, field2, …")
            name = f"field{found.group(1)}"
            pairs.append((name, self._field_value(batch_id, name, str(value))))
        return self._batch_send(
            "/http_batch/senditem", pairs, replies.read_id, f"The batch message to {msisdn}"
        )

    def quicksend(self, batch_id: str, to: Sequence[str]) -> tuple[RecipientResult, ...]:
        """`quicksend`: the batch template to many numbers, 300 per POST, results in order.
        A chunk whose outcome is unknown is OutcomeUnknown (raised for the first chunk, per
        recipient after that, like `send`)."""

        def send_chunk(chunk: Chunk) -> list[RecipientResult]:
            numbers = chunk.numbers
            pairs: Pairs = [("batch_id", batch_id), ("to", ",".join(numbers))]
            return self._batch_send(
                "/http_batch/quicksend",
                pairs,
                lambda body: match(numbers, "", replies.read_send(body)),
                f"The batch message to {len(numbers)} number{'s' if len(numbers) > 1 else ''}",
            )

        return tuple(each_chunk(split(self._numbers(to), ""), send_chunk))

    def _batch_send(self, path: str, pairs: Pairs, read: Callable[[bytes], _T], what: str) -> _T:
        """senditem/quicksend carry no climsgid, so an unknown outcome cannot be checked with
        querymsg: nothing is retried (not even 901), and no reply, an unreadable one or a 901
        is OutcomeUnknown, which tells the caller not to resend blindly."""
        try:
            body = self._command(path, pairs, retry_901=False)
            error = replies.call_error(body)
            if error is not None and error.code == "901":
                raise error
            return read(body)
        except GatewayError as error:
            if not unknown_outcome(error):
                raise
            raise OutcomeUnknown(
                f"{what} may or may not have been sent ({error.description}); it was not "
                "resent. Check the batch's messages before sending again."
            ) from None

    def end_batch(self, batch_id: str) -> None:
        replies.read_ok(self._command("/http_batch/endbatch", [("batch_id", batch_id)]))
        self._batch_encodings.pop(batch_id, None)
