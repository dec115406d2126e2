"""Chunks of a send: at most 300 recipients per `sendmsg`, each chunk with its own climsgid.

The climsgid is what makes a chunk safe to retry (querymsg by it says whether the gateway has
it), so a send's chunk IDs are derived from one base ID, deterministically: a retried or
replanned send derives the same IDs. Results come back per recipient in the order given, and a
chunk that fails after an earlier one went out never loses the earlier results.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.gateway.base import GatewayError, NotSent, OutcomeUnknown
from bot.gateway.clickatell_http import replies
from bot.gateway.clickatell_http.codes import gateway_error
from bot.gateway.clickatell_http.types import RecipientResult
from bot.gateway.clickatell_http.wire import Garbled, NoReply

MAX_RECIPIENTS = 300  # per POST (§1)


@dataclass(frozen=True)
class Chunk:
    """The recipients of one POST and the climsgid it carries ("" when it carries none)."""

    numbers: tuple[str, ...]
    climsgid: str


def new_climsgid() -> str:
    """A fresh climsgid: 24 random hex digits (96 bits), leaving room for a chunk suffix within
    the gateway's 32 characters."""
    return secrets.token_hex(12)


def chunk_climsgid(base: str, index: int, chunks: int) -> str:
    """The climsgid of chunk `index` (0-based) of a send split into `chunks` POSTs.

    A single chunk uses `base` itself. Otherwise `base` + "c" + the chunk number when that fits in
    32 characters, else a hash of both (deterministic, so a retried send derives the same IDs)."""
    if chunks == 1:
        return base
    derived = f"{base}c{index + 1}"
    if len(derived) <= 32:
        return derived
    return hashlib.sha256(f"{base}:{index}".encode()).hexdigest()[:32]


def split(numbers: Sequence[str], base: str) -> list[Chunk]:
    """`numbers` in chunks of at most 300, with the climsgids derived from `base`."""
    count = -(-len(numbers) // MAX_RECIPIENTS)
    return [
        Chunk(
            tuple(numbers[start : start + MAX_RECIPIENTS]),
            chunk_climsgid(base, index, count) if base else "",
        )
        for index, start in enumerate(range(0, len(numbers), MAX_RECIPIENTS))
    ]


def unknown_outcome(error: GatewayError) -> bool:
    """Failures after which a sendmsg may or may not have been taken by the gateway."""
    if isinstance(error, NotSent | OutcomeUnknown):
        return False
    return isinstance(error, NoReply | Garbled) or error.code == "901" or error.code is None


def match(
    numbers: Sequence[str], climsgid: str, lines: list[replies.SendLine]
) -> list[RecipientResult]:
    """Results in the order of `numbers`: lines are matched by `To:`; lines with an empty or
    unknown `To:` go to the remaining numbers in order; a single line without `To:` (the
    single-recipient form, or a call-level ERR) applies to every number."""
    if len(lines) == 1 and lines[0].to is None:
        line = lines[0]
        if line.error is None and len(numbers) > 1:
            raise Garbled(None, "One message ID for several recipients", "Unreadable reply.")
        return [RecipientResult(n, line.apimsgid, climsgid, line.error) for n in numbers]
    assigned: dict[str, replies.SendLine] = {}
    leftovers = []
    wanted = set(numbers)
    for line in lines:
        if line.to and line.to in wanted and line.to not in assigned:
            assigned[line.to] = line
        else:
            leftovers.append(line)
    unassigned = [n for n in numbers if n not in assigned]
    assigned.update(zip(unassigned, leftovers, strict=False))
    results = []
    for number in numbers:
        line = assigned.get(number)
        if line is None:
            missing = OutcomeUnknown(f"The gateway's reply did not mention {number}.")
            results.append(RecipientResult(number, None, climsgid, missing))
        else:
            results.append(RecipientResult(number, line.apimsgid, climsgid, line.error))
    return results


def each_chunk(
    chunks: Sequence[Chunk], send_one: Callable[[Chunk], list[RecipientResult]]
) -> list[RecipientResult]:
    """Every chunk's results, in order. A failing first chunk is raised (nothing was sent);
    after that the failing chunk's recipients carry its error and later chunks are not tried,
    so the results of chunks already sent are never lost: a caller that lost them could only
    resend, and those phones would get the SMS twice."""
    results: list[RecipientResult] = []
    for index, chunk in enumerate(chunks):
        try:
            results += send_one(chunk)
        except GatewayError as error:
            if index == 0:
                raise
            results += [RecipientResult(n, None, chunk.climsgid, error) for n in chunk.numbers]
            skipped = gateway_error(
                None, f"Not sent: an earlier part of this send failed ({error})."
            )
            results += [
                RecipientResult(n, None, later.climsgid, skipped)
                for later in chunks[index + 1 :]
                for n in later.numbers
            ]
            break
    return results
