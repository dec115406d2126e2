"""How the sandbox writes its replies: the exact bytes a real Clickatell server puts on the wire.

The wire's error descriptions differ in wording and case from the documentation's (protocol
reference §3: `Invalid Destination Address`, `Max message parts exceeded`, `No Credit Left`), so
they live here rather than in `codes.py`, which holds the documented wording.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.gateway.clickatell_http.codes import ERROR_CODES

# Code -> description as real servers write it after `ERR: <code>, `: the documented wording
# (codes.ERROR_CODES) except where the wire's differs.
WIRE_ERRORS: dict[str, str] = {
    **ERROR_CODES,
    "105": "Invalid Destination Address",
    "106": "Invalid Source Address",
    "108": "Invalid or missing api_id",
    "113": "Max message parts exceeded",
    "116": "Invalid Unicode Data",
    "301": "No Credit Left",
    "901": "Internal error - please retry",
}

# routeCoverage's two answers (§3); the refusal is an `ERR:` with no code at all.
COVERAGE_OK = (
    "OK: This prefix is currently supported. Messages sent to this prefix will be routed. "
    "Charge: {charge}"
)
COVERAGE_REFUSED = (
    "ERR: This prefix is not currently supported. Messages sent to this prefix will fail. "
    "Please contact support for assistance."
)


class WireError(Exception):
    """A command fails as a whole with `ERR: <code>, <description>`."""

    def __init__(self, code: str):
        if code not in WIRE_ERRORS:
            raise ValueError(f"no wire description for error {code}")
        self.code = code
        super().__init__(f"{code}, {WIRE_ERRORS[code]}")


def error_line(code: str, to: str | None = None) -> str:
    """`ERR: 105, Invalid Destination Address`, with ` To: <msisdn>` for a per-recipient error
    (the recipient may be empty, exactly as real servers write it)."""
    line = f"ERR: {code}, {WIRE_ERRORS[code]}"
    return line if to is None else f"{line} To: {to}"


def id_line(apimsgid: str, to: str | None = None) -> str:
    return f"ID: {apimsgid}" if to is None else f"ID: {apimsgid} To: {to}"


def format_amount(value: float) -> str:
    """Credits and charges as the real server prints them: `12.5`, `1`, `0.33`, `0` (at most 6
    decimals, never an exponent, and no `.0` on a whole amount: `Charge: 1`, never `1.0`)."""
    text = f"{value:.6f}".rstrip("0")
    return text.removesuffix(".")


def body(lines: Sequence[str]) -> str:
    """One record per line. A single record goes without a newline and several each end with
    one: real servers do both, and clients must cope with either."""
    if len(lines) == 1:
        return lines[0]
    return "".join(f"{line}\n" for line in lines)
