"""Reading the Portal's answers to a send (clickatell-platform.md §3, §4) into verdicts.

Every answer is judged the same way, whichever integration gave it:
1. JSON is read whatever the HTTP status; a body that is not JSON is judged by its status alone
   (400 permanent, 401 the key, 429 and 503 worth repeating, other 5xx an unknown outcome).
2. A recipient got it iff its entry says `accepted: true` with an `apiMessageId`.
3. `error` is an object `{code, description}` (One API) or a string with optional `errorCode`
   and `errorDescription` (SMS integrations); numbers decide, never the words.
4. A 2xx without per-message entries but with an `error` failed as a whole; a 2xx that cannot be
   read at all leaves the outcome unknown (the Portal may have taken the messages).

A verdict per message says what the client does next: done (accepted or refused for good),
repeat (refused for now: 43 or 19), or unknown (never repeated: §8).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.gateway.clickatell_platform.codes import (
    KEY_REFUSED,
    OUTCOME_UNKNOWN_CODES,
    RETRYABLE,
    CodeSpace,
)
from bot.gateway.clickatell_platform.transport import Answer

Verdict = Literal["accepted", "refused", "repeat", "unknown"]
_REPEAT_STATUSES = frozenset({429, 503})
_UNKNOWN_STATUSES = frozenset({500, 502, 504})


@dataclass(frozen=True)
class Problem:
    """What the Portal said went wrong: its code (None without one) and its words."""

    code: int | None
    description: str


@dataclass(frozen=True)
class MessageVerdict:
    verdict: Verdict
    message_id: str | None = None
    problem: Problem | None = None


@dataclass(frozen=True)
class CallVerdict:
    """The whole call's fate when it has no per-message entries (`messages` empty)."""

    verdict: Verdict
    problem: Problem
    key_refused: bool = False


def _json(answer: Answer) -> Mapping[str, object] | None:
    if not answer.is_json:
        return None
    try:
        data = json.loads(answer.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None


def problem_of(item: Mapping[str, object]) -> Problem | None:
    """`error` as an object or a string (with `errorCode`/`errorDescription` beside it)."""
    error = item.get("error")
    if isinstance(error, Mapping):
        return Problem(_int(error.get("code")), str(error.get("description") or "").strip())
    if isinstance(error, str) and error.strip():
        detail = item.get("errorDescription")
        words = error.strip() if not detail else f"{error.strip()} {str(detail).strip()}"
        return Problem(_int(item.get("errorCode")), words)
    if item.get("errorCode") is not None:
        return Problem(_int(item.get("errorCode")), str(item.get("errorDescription") or ""))
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def judge_message(item: Mapping[str, object]) -> MessageVerdict:
    message_id = item.get("apiMessageId")
    if item.get("accepted") is True and isinstance(message_id, str) and message_id:
        return MessageVerdict("accepted", message_id)
    problem = problem_of(item) or Problem(None, "The Portal did not accept the message.")
    if problem.code in RETRYABLE:
        return MessageVerdict("repeat", problem=problem)
    if problem.code in OUTCOME_UNKNOWN_CODES:
        return MessageVerdict("unknown", problem=problem)
    return MessageVerdict("refused", problem=problem)


@dataclass(frozen=True)
class Reading:
    """A send's answer: per-message entries (with the `to` each names), or the call's fate."""

    entries: tuple[tuple[str | None, MessageVerdict], ...]
    call: CallVerdict | None


def read_send(answer: Answer, space: CodeSpace) -> Reading:
    """Judge a send's answer (see the module docstring)."""
    if answer.status in _UNKNOWN_STATUSES:
        return _whole("unknown", f"HTTP {answer.status}")
    data = _json(answer)
    if data is None:
        return _unreadable(answer)
    items = data.get("messages")
    if isinstance(items, list) and items:
        entries = tuple(
            (_to(item), judge_message(item)) for item in items if isinstance(item, Mapping)
        )
        return Reading(entries, None)
    problem = problem_of(data)
    if problem is None:
        return _unreadable(answer)
    return Reading((), _call_verdict(answer.status, problem, space))


def _to(item: Mapping[str, object]) -> str | None:
    to = item.get("to")
    return str(to) if to is not None else None


def _call_verdict(status: int, problem: Problem, space: CodeSpace) -> CallVerdict:
    if problem.code in OUTCOME_UNKNOWN_CODES:
        return CallVerdict("unknown", problem)
    if problem.code in RETRYABLE or (problem.code is None and status in _REPEAT_STATUSES):
        return CallVerdict("repeat", problem)
    key = problem.code in KEY_REFUSED[space] or (problem.code is None and status == 401)
    return CallVerdict("refused", problem, key_refused=key)


def _whole(verdict: Verdict, words: str) -> Reading:
    return Reading((), CallVerdict(verdict, Problem(None, words)))


def _unreadable(answer: Answer) -> Reading:
    """A body that says nothing usable: the HTTP status decides."""
    words = answer.body[:80].decode("utf-8", errors="replace").strip() or "no body"
    status = answer.status
    described = f"HTTP {status}: {words}"
    if 200 <= status < 300:
        return _whole("unknown", f"an unreadable answer ({described})")
    if status in _REPEAT_STATUSES:
        return _whole("repeat", described)
    if status >= 500:
        return _whole("unknown", described)
    verdict = CallVerdict("refused", Problem(None, described), key_refused=status == 401)
    return Reading((), verdict)


def match_entries(
    recipients: Sequence[str], entries: Sequence[tuple[str | None, MessageVerdict]]
) -> list[MessageVerdict]:
    """One verdict per recipient, in order: by position when the entries line up with the
    recipients, else by `to`; a recipient no entry names has an unknown outcome."""
    if len(entries) == len(recipients) and all(
        to is None or _digits(to) == _digits(number)
        for number, (to, _) in zip(recipients, entries, strict=True)
    ):
        return [verdict for _, verdict in entries]
    by_to: dict[str, list[MessageVerdict]] = {}
    for to, verdict in entries:
        by_to.setdefault(_digits(to or ""), []).append(verdict)
    missing = MessageVerdict("unknown", problem=Problem(None, "the answer did not name it"))
    return [by_to[_digits(n)].pop(0) if by_to.get(_digits(n)) else missing for n in recipients]


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def read_balance(answer: Answer) -> tuple[float, str | None] | None:
    """`{"balance": 1267.92865, "currency": "ZAR"}`; None when the body says no such thing."""
    data = _json(answer)
    if data is None or not 200 <= answer.status < 300:
        return None
    amount = data.get("balance")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        return None
    try:
        value = float(amount)
    except ValueError:
        return None
    currency = data.get("currency")
    return value, str(currency) if isinstance(currency, str) and currency else None


def read_query(answer: Answer) -> str | None:
    """A One API status query's status name: `{"sms": {"status": "DEVICE_ACK", …}}`. A body
    without `sms` is the answer for a message the Portal does not know: `UNKNOWN` (§7)."""
    data = _json(answer)
    if data is None or not 200 <= answer.status < 300:
        return None
    sms = data.get("sms")
    if not isinstance(sms, Mapping):
        return "UNKNOWN"
    status = sms.get("status")
    return str(status) if isinstance(status, str | int) and str(status) else "UNKNOWN"


def call_problem(answer: Answer) -> Problem:
    """What a failed query or balance call said, for its error message."""
    data = _json(answer)
    found = problem_of(data) if data is not None else None
    if found is not None:
        return found
    words = answer.body[:80].decode("utf-8", errors="replace").strip() or "no body"
    return Problem(None, f"HTTP {answer.status}: {words}")
