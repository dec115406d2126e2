"""Phone numbers: from what people type to what gateways want (digits, international, no +).

People write numbers as +27821234567, 0027821234567, 27-82-123-4567, (082) 123 4567 and so on;
gateways want `27821234567` (clickatell-http.md §4). Parsing and validation are left to
`phonenumbers`, which knows every country's lengths and prefixes, so a wrong number is refused
before any gateway call instead of costing a round trip and an `ERR: 105`.

Decisions:
- A number without `+` or `00` is first read as a national number of `default_region` (when one
  is set), then as an international number missing its `+` (27821234567). A number starting
  with a single 0 is national, so without a region it is refused: its country is unknown.
- Validity is `phonenumbers.is_valid_number`, not just a plausible length. The sandbox's magic
  numbers 27825550100-105 (product.md §7) are valid South African mobile numbers to it, so they
  need no exception; tests pin that.
- Letters are refused although `phonenumbers` would read vanity numbers (1-800-FLOWERS) and
  extensions ("ext. 12"): an SMS cannot go to either, and a typo should not become a number.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, ValidationResult

from bot.sms.refusals import Refused


class InvalidNumber(Refused):
    """A phone number that cannot be sent to; the message says what is wrong with it."""

    def __init__(self, raw: str, reason: str):
        self.raw = raw
        super().__init__(f"{raw!r} is not a valid phone number: {reason}")


_SEPARATORS = re.compile(r"[\s\-.()/]+")
_MAX_INPUT = 40  # far beyond any formatted number; stops pathological input early

_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "it is too short",
    ValidationResult.TOO_LONG: "it is too long",
    ValidationResult.INVALID_LENGTH: "it has the wrong number of digits",
}

WRITE_INTERNATIONALLY = (
    "Write it with its country code (+27…) or set SMS_DEFAULT_REGION for national numbers"
)
NO_COUNTRY = (
    "it has no country code; write it in international form such as +27821234567, "
    "or set SMS_DEFAULT_REGION to the country of national numbers"
)


def _digits(raw: str) -> tuple[bool, str]:
    """(had a leading + or 00, the digits) after checking the characters used.

    Raises InvalidNumber naming the first thing that is not part of a phone number.
    """
    text = raw.strip()
    if not text:
        raise InvalidNumber(raw, "it is empty")
    if len(text) > _MAX_INPUT:
        raise InvalidNumber(raw, "it is too long")
    body = _SEPARATORS.sub("", text)  # separators first, so "(+27) 82…" keeps its +
    plus = body.startswith("+")
    body = body.removeprefix("+")
    for char in body:
        if char.isalpha():
            raise InvalidNumber(raw, "it contains letters; write the number in digits")
        if not ("0" <= char <= "9"):
            raise InvalidNumber(
                raw, f"it contains {char!r}; use digits, spaces, dashes, dots and a leading +"
            )
    if not body:
        raise InvalidNumber(raw, "it has no digits")
    if not plus and body.startswith("00"):
        return True, body[2:]
    return plus, body


def _parse(text: str, region: str | None) -> tuple[PhoneNumber | None, str | None]:
    """(number, None) or (None, why phonenumbers could not read it)."""
    try:
        return phonenumbers.parse(text, region), None
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            return None, "it does not start with a known country code"
        if exc.error_type == NumberParseException.TOO_LONG:
            return None, "it is too long"
        return None, "it is not a phone number"


def _reason(number: PhoneNumber, guessed: bool) -> str:
    """Why a parsed number is not valid, in plain words naming the country it was read for;
    without the country when that was only a guess (digits with neither + nor a region), as
    "too short for a +1 number" about '12345' would only confuse."""
    region = phonenumbers.region_code_for_number(number)
    country = region or f"+{number.country_code}"
    result = phonenumbers.is_possible_number_with_reason(number)
    if result == ValidationResult.INVALID_COUNTRY_CODE:
        return "it does not start with a known country code"
    if result in _LENGTH_REASONS:
        words = _LENGTH_REASONS[result]
        return words if guessed else f"{words} for a {country} number"
    return "it matches no country's numbers" if guessed else f"it is not a valid {country} number"


def _read(
    text: str, region: str | None, *, guessed: bool = False
) -> tuple[PhoneNumber | None, str]:
    """(the number if valid, else None; the reason it is not)."""
    number, error = _parse(text, region)
    if number is None:
        return None, error or "it is not a phone number"
    if phonenumbers.is_valid_number(number):
        return number, ""
    return None, _reason(number, guessed)


def _resolve(raw: str, international: bool, digits: str, region: str | None) -> PhoneNumber:
    """Find the reading of the digits that is a valid number (see the module's decisions)."""
    if international:
        number, why = _read("+" + digits, None)
    elif region:
        number, why = _read(digits, region)
        if number is None and not digits.startswith("0"):
            number = _read("+" + digits, None)[0]
    elif digits.startswith("0"):
        number, why = None, NO_COUNTRY
    else:
        number, why = _read("+" + digits, None, guessed=True)
        why = f"{why}. {WRITE_INTERNATIONALLY}"
    if number is None:
        raise InvalidNumber(raw, why)
    return number


def normalize_msisdn(raw: str, default_region: str | None = None) -> str:
    """The number as the gateway wants it: international digits, no + and no 00.

    '+27821234567', '0027821234567', '27-82-123-4567', '27.82.123.4567', and '082 123 4567' with
    default_region 'ZA' all give '27821234567'. Raises InvalidNumber saying what is wrong.
    """
    region = default_region.strip().upper() if default_region else None
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidNumber(raw, f"SMS_DEFAULT_REGION {region!r} is not a known region code")
    international, digits = _digits(raw)
    number = _resolve(raw, international, digits, region)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164).removeprefix("+")


def display_number(msisdn: str) -> str:
    """'27821234567' -> '+27 82 123 4567', for people. Anything unparseable is shown as given,
    since display must never fail."""
    digits = msisdn.strip().removeprefix("+")
    number = _parse("+" + digits, None)[0] if digits.isdigit() else None
    if number is None:
        return msisdn
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


# Numbers repeat (a team texts the same people): each is parsed once per process.
normalize_cached = functools.lru_cache(maxsize=4096)(normalize_msisdn)


def distinct_recipients(to: Iterable[str], default_region: str | None) -> list[str]:
    """Each recipient once, in order, normalised where it can be and otherwise kept as given, so
    the gateway's send refuses it with its own reason rather than the plan dropping it. Raises
    Refused when there is nobody to send to."""
    numbers = list(dict.fromkeys(_normalized_or_given(number, default_region) for number in to))
    if not numbers:
        raise Refused("There is no recipient: give at least one phone number.")
    return numbers


def _normalized_or_given(number: str, default_region: str | None) -> str:
    try:
        return normalize_cached(number, default_region)
    except Refused:
        return number
