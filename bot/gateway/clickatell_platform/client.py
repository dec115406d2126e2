"""PlatformClient: one Portal integration's calls (clickatell-platform.md §1-§4, §7).

What it guarantees, and why:

* One `Transport` (one `requests.Session`, keep-alive) for the client's life; the key travels
  as each integration requires and nowhere else (no log line or error names it).
* A send call is repeated only for what the Portal refused *for now* (43 rate limit, 19 retry,
  HTTP 429/503) or what certainly never left (no connection): after `Retry-After` (at most 30 s)
  or 1, 2, 4 s plus up to 20 % jitter, three times at most; in a 207 only the refused messages
  are repeated, so a phone never gets the same SMS twice from a repeat.
* Anything that may have been taken (no answer in time, a connection dropped after the request
  went out, 500/502/504, error 18, an unreadable 2xx) is an unknown outcome and is never sent
  again: the Portal cannot be asked by client ID (§8). A status callback carrying the message's
  `clientMessageId` settles it.
* Balance and status queries change nothing, so every transient failure is repeated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from bot.gateway.base import GatewayError, NotSent, OutcomeUnknown, Unavailable
from bot.gateway.clickatell_platform.codes import portal_error
from bot.gateway.clickatell_platform.integrations import Call, Integration, Outgoing
from bot.gateway.clickatell_platform.responses import (
    MessageVerdict,
    Problem,
    call_problem,
    match_entries,
    read_balance,
    read_query,
    read_send,
)
from bot.gateway.clickatell_platform.transport import Answer, NoAnswer, Transport

RETRIES = 3
BACKOFF = (1.0, 2.0, 4.0)
MAX_RETRY_AFTER = 30.0
JITTER = 0.2
NOT_SENT_AGAIN = (
    "It was not sent again: the Portal cannot be asked whether it has it, and a delivery "
    "report carrying its client ID {client_id} will settle it."
)


@dataclass(frozen=True)
class Sent:
    """One recipient of a send call: `message_id` when the Portal took it, else `error`."""

    to: str
    client_id: str
    message_id: str | None
    error: GatewayError | None = None


class KeyRefused(GatewayError):
    """The Portal refused the API key (One API 1, SMS 108, HTTP 401): nothing can be sent."""


def outcome_unknown(to: str, client_id: str, reason: str) -> OutcomeUnknown:
    return OutcomeUnknown(
        f"The Portal may or may not have taken the message to {to} ({reason}). "
        + NOT_SENT_AGAIN.format(client_id=client_id)
    )


class PlatformClient:
    """A thread-safe client for one integration of one Portal account (or the sandbox)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        integration: Integration,
        *,
        timeout: float = 10.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ):
        self.integration = integration
        self._key = api_key
        header = api_key if integration.key_in_header else None
        self._transport = Transport(base_url, timeout, authorization=header, session=session)
        self.base_url = self._transport.base_url
        self.timeout = timeout
        self._sleep, self._jitter = sleep, jitter

    # --- sending ---

    def send(self, batch: Sequence[Outgoing], content: str, sender: str | None) -> list[Sent]:
        """One call's recipients (at most `integration.batch_size`), in order. Raises when the
        call failed as a whole: KeyRefused, NotSent or Unavailable (nothing was taken) or
        OutcomeUnknown (it may have been); otherwise each recipient carries its own fate."""
        results: dict[int, Sent] = {}
        pending = list(range(len(batch)))
        for attempt in range(RETRIES + 1):
            last = attempt == RETRIES
            outgoing = [batch[i] for i in pending]
            try:
                call = self.integration.send_call(outgoing, content, sender, self._key)
                answer = self._call(call)
            except NotSent as error:
                if results or last:
                    self._fail_rest(batch, pending, results, error)
                    break
                self._pause(attempt, None)
                continue
            except NoAnswer as error:
                self._mark_unknown(batch, pending, results, error.description)
                break
            pending = self._judge(batch, pending, answer, results, last)
            if not pending:
                break
            self._pause(attempt, answer.retry_after)
        return [results[i] for i in range(len(batch))]

    def _judge(
        self,
        batch: Sequence[Outgoing],
        pending: list[int],
        answer: Answer,
        results: dict[int, Sent],
        last: bool,
    ) -> list[int]:
        """Record what the answer settled; the indices to repeat (none after the last try)."""
        reading = read_send(answer, self.integration.space)
        if reading.call is not None:
            call = reading.call
            if call.key_refused:
                raise self._key_refused(call.problem)
            if call.verdict == "repeat" and not last:
                return pending
            if call.verdict == "unknown":
                self._mark_unknown(batch, pending, results, _said(call.problem))
                return []
            if call.verdict == "repeat" and not results:
                space, problem = self.integration.space, call.problem
                error = portal_error(space, problem.code or 43, problem.description)
                raise Unavailable(error.code, error.description, error.explanation)
            verdicts = [MessageVerdict(call.verdict, problem=call.problem)] * len(pending)
        else:
            verdicts = match_entries([batch[i].to for i in pending], reading.entries)
        repeat = []
        for index, verdict in zip(pending, verdicts, strict=True):
            if verdict.verdict == "repeat" and not last:
                repeat.append(index)
            else:
                results[index] = self._settled(batch[index], verdict)
        return repeat

    def _settled(self, outgoing: Outgoing, verdict: MessageVerdict) -> Sent:
        to, client_id = outgoing.to, outgoing.client_id
        if verdict.verdict == "accepted":
            return Sent(to, client_id, verdict.message_id)
        problem = verdict.problem or Problem(None, "refused")
        if verdict.verdict == "unknown":
            return Sent(to, client_id, None, outcome_unknown(to, client_id, _said(problem)))
        error = portal_error(self.integration.space, problem.code, problem.description)
        if verdict.verdict == "repeat":  # still refused for now after the last try
            error = Unavailable(error.code, error.description, error.explanation)
        return Sent(to, client_id, None, error)

    def _mark_unknown(
        self, batch: Sequence[Outgoing], pending: list[int], results: dict[int, Sent], reason: str
    ) -> None:
        """The pending recipients' outcome is unknown: raised when nothing else is known (the
        call as a whole), else recorded per recipient beside what earlier tries settled."""
        if not results:
            first = batch[pending[0]]
            whom = first.to if len(pending) == 1 else f"{len(pending)} recipients"
            raise OutcomeUnknown(
                f"The Portal may or may not have taken the message to {whom} ({reason}). "
                + NOT_SENT_AGAIN.format(client_id=first.client_id)
            )
        for index in pending:
            outgoing = batch[index]
            error = outcome_unknown(outgoing.to, outgoing.client_id, reason)
            results[index] = Sent(outgoing.to, outgoing.client_id, None, error)

    def _fail_rest(
        self,
        batch: Sequence[Outgoing],
        pending: list[int],
        results: dict[int, Sent],
        error: GatewayError,
    ) -> None:
        """The pending recipients certainly were not sent: raised when none was (the call as a
        whole), else recorded per recipient beside what earlier tries settled."""
        if not results:
            raise error
        for index in pending:
            outgoing = batch[index]
            results[index] = Sent(outgoing.to, outgoing.client_id, None, error)

    def _key_refused(self, problem: Problem) -> KeyRefused:
        error = portal_error(self.integration.space, problem.code, problem.description)
        code = None if problem.code is None else str(problem.code)
        explanation = error.explanation
        if problem.code is None:  # a bare 401: say the same as the Portal's own key codes
            explanation = portal_error(self.integration.space, self._key_code, "").explanation
        return KeyRefused(code, error.description, explanation)

    # --- queries ---

    def query(self, message_id: str) -> str:
        """A One API message's status name (`DEVICE_ACK`, `UNKNOWN` …)."""
        answer = self._patiently(self.integration.status_call(message_id))
        name = read_query(answer)
        if name is None:
            raise self._refusal(answer)
        return name

    def balance(self) -> tuple[float, str | None]:
        """(amount, currency): the Portal's balance is money (`ZAR`)."""
        answer = self._patiently(self.integration.balance_call(self._key))
        found = read_balance(answer)
        if found is None:
            raise self._refusal(answer)
        return found

    def _patiently(self, call: Call) -> Answer:
        """A call that changes nothing, repeated after every transient failure."""
        for attempt in range(RETRIES + 1):
            try:
                answer = self._call(call)
            except (NotSent, NoAnswer) as error:
                if attempt == RETRIES:
                    raise Unavailable(None, error.description, error.explanation) from None
                self._pause(attempt, None)
                continue
            if answer.status != 429 and answer.status < 500:
                return answer
            if attempt == RETRIES:
                problem = call_problem(answer)
                raise portal_error(self.integration.space, 19, problem.description)
            self._pause(attempt, answer.retry_after)
        raise AssertionError("unreachable")

    def _refusal(self, answer: Answer) -> GatewayError:
        problem = call_problem(answer)
        if answer.status == 401 or problem.code == self._key_code:
            return self._key_refused(problem)
        return portal_error(self.integration.space, problem.code, problem.description)

    # --- plumbing ---

    @property
    def _key_code(self) -> int:
        """The code this integration's code space uses for a refused key."""
        return 1 if self.integration.space == "one" else 108

    def _call(self, call: Call) -> Answer:
        return self._transport.call(call.method, call.path, body=call.body, query=call.query)

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            self._sleep(min(retry_after, MAX_RETRY_AFTER))
            return
        base = BACKOFF[min(attempt, len(BACKOFF) - 1)]
        self._sleep(base * (1 + JITTER * self._jitter()))

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _said(problem: Problem) -> str:
    code = f"error {problem.code}: " if problem.code is not None else ""
    return f"{code}{problem.description}".strip() or "no usable answer"
