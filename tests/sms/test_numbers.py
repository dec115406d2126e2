"""Phone number normalization (protocol reference §4: digits, international, no + and no 00)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from bot.sms.numbers import InvalidNumber, display_number, normalize_msisdn
from bot.sms.refusals import Refused

MAGIC_NUMBERS = [f"2782555010{i}" for i in range(6)]  # product.md §7


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("+27821234567", None),
        ("0027821234567", None),
        ("27821234567", None),
        ("27-82-123-4567", None),
        ("27.82.123.4567", None),
        ("+27 82 123 4567", None),
        ("(+27) 82 123 4567", None),
        ("+27 (0)82 123 4567", None),
        ("\u00a0+27 82 123 4567 ", None),
        ("082 123 4567", "ZA"),
        ("(082) 123-4567", "ZA"),
        ("0821234567", "za"),
        ("+27821234567", "GB"),
        ("27821234567", "GB"),
        ("27821234567", "US"),
        ("011 27 82 123 4567", "US"),
    ],
)
def test_accepted_forms_normalize_to_international_digits(raw, region):
    assert normalize_msisdn(raw, region) == "27821234567"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("07911 123456", "GB", "447911123456"),
        ("+44 7911 123456", "ZA", "447911123456"),
        ("+1 (201) 555-0123", None, "12015550123"),
        ("(201) 555-0123", "US", "12015550123"),
        ("2015550123", "US", "12015550123"),  # valid nationally: the region's reading wins
        ("+39 06 6982 1234", None, "390669821234"),  # Italy keeps its leading 0
    ],
)
def test_other_countries(raw, region, expected):
    assert normalize_msisdn(raw, region) == expected


@pytest.mark.parametrize("number", MAGIC_NUMBERS)
@pytest.mark.parametrize("region", [None, "ZA", "GB"])
def test_sandbox_magic_numbers_are_valid(number, region):
    # Decision: strict is_valid_number, no "possible number" fallback; phonenumbers knows these
    # as ZA mobile numbers. If a metadata update ever drops them, this fails loudly.
    assert normalize_msisdn(number, region) == number
    assert normalize_msisdn("+" + number, region) == number
    assert normalize_msisdn("0" + number[2:], "ZA") == number
    assert phonenumbers.is_valid_number(phonenumbers.parse("+" + number))


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("082 123 4567", None, "no country code"),
        ("0821234567", None, "SMS_DEFAULT_REGION"),
        ("+27 82 ABC 4567", None, "contains letters"),
        ("1-800-FLOWERS", "US", "contains letters"),
        ("+27821234567 ext 12", None, "contains letters"),
        ("+27 21 12", None, "too short for a ZA number"),
        ("+27 82 123 4567 890", None, "too long for a ZA number"),
        ("0123", "ZA", "too short for a ZA number"),
        ("+" + "1" * 45, None, "too long"),
        ("", None, "empty"),
        ("   ", None, "empty"),
        ("+", None, "no digits"),
        ("+-()", None, "no digits"),
        ("+999 123 4567", None, "known country code"),
        ("+27821234567#", None, "contains '#'"),
        ("++27821234567", None, "contains '+'"),
        ("+27 82*123", None, "contains '*'"),
        ("+1 555 123 4567", None, "not a valid +1 number"),
        ("821234567", None, "Write it with its country code"),
        ("12345", "ZA", "ZA number"),
        ("0821234567", "XX", "SMS_DEFAULT_REGION 'XX'"),
    ],
)
def test_rejected_with_a_clear_reason(raw, region, reason):
    with pytest.raises(InvalidNumber) as caught:
        normalize_msisdn(raw, region)
    assert reason in str(caught.value)
    assert repr(raw) in str(caught.value)  # the message names the input
    assert caught.value.raw == raw
    assert isinstance(caught.value, Refused)


def test_digits_without_country_or_region_are_refused_in_plain_words():
    with pytest.raises(InvalidNumber) as caught:
        normalize_msisdn("12345")
    assert str(caught.value) == (
        "'12345' is not a valid phone number: it is too short. Write it with its country code "
        "(+27…) or set SMS_DEFAULT_REGION for national numbers"
    )


@pytest.mark.parametrize(
    ("msisdn", "shown"),
    [
        ("27821234567", "+27 82 123 4567"),
        ("+27821234567", "+27 82 123 4567"),
        ("447911123456", "+44 7911 123456"),
        ("27825550100", "+27 82 555 0100"),
        ("not a number", "not a number"),
        ("", ""),
    ],
)
def test_display_number(msisdn, shown):
    assert display_number(msisdn) == shown


def _valid_examples() -> list[phonenumbers.PhoneNumber]:
    """phonenumbers' own example numbers for every region and number type: valid by definition
    and covering every country's lengths and formats."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None and phonenumbers.is_valid_number(number):
                examples.append(number)
    return examples


VALID_EXAMPLES = _valid_examples()


@given(st.sampled_from(VALID_EXAMPLES), st.sampled_from([None, "ZA", "GB", "US", "DE"]))
def test_every_international_spelling_normalizes_to_the_same_digits(number, region):
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    spellings = [e164, international, "00" + e164[1:], international.replace(" ", "-")]
    results = {normalize_msisdn(spelling, region) for spelling in spellings}
    assert results == {e164[1:]}
    # Without a region, bare international digits are read as if a + were there.
    assert normalize_msisdn(e164[1:]) == e164[1:]


@given(st.sampled_from(VALID_EXAMPLES))
def test_national_spelling_with_its_region_normalizes_the_same(number):
    region = phonenumbers.region_code_for_number(number)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    expected = phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    assert normalize_msisdn(national, region) == expected


@given(st.sampled_from(VALID_EXAMPLES))
def test_normalized_and_displayed_forms_are_stable(number):
    msisdn = normalize_msisdn(phonenumbers.format_number(number, PhoneNumberFormat.E164))
    assert normalize_msisdn(msisdn) == msisdn
    assert normalize_msisdn(display_number(msisdn)) == msisdn


@given(st.text(max_size=50), st.sampled_from([None, "ZA", "US"]))
def test_any_input_gives_digits_or_invalid_number(raw, region):
    try:
        result = normalize_msisdn(raw, region)
    except InvalidNumber as error:
        assert repr(raw) in str(error)
    else:
        assert result.isdigit() and result[0] != "0"
