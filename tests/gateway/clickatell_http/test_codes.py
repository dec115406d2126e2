"""Code tables (protocol reference §8, §9), plain words, and status ordering."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.gateway.base import GatewayError, PartsExceeded, Unavailable
from bot.gateway.clickatell_http.codes import (
    ERROR_CODES,
    FINAL_STATUSES,
    STATUS_CODES,
    describe_status,
    explain_error,
    gateway_error,
    is_final,
    status_rank,
)

# Copied from the protocol reference, so a missing or mistyped entry fails here.
SPEC_ERRORS = [
    "001", "002", "003", "004", "005", "007", "101", "102", "103", "104", "105", "106", "107",
    "108", "109", "110", "111", "112", "113", "114", "115", "116", "120", "121", "122", "123",
    "128", "130", "201", "202", "301", "302", "901",
]  # fmt: skip
SPEC_STATUSES = [
    "001", "002", "003", "004", "005", "006", "007", "008", "009", "010", "011", "012", "014",
]  # fmt: skip
SPEC_FINALS = ["004", "005", "006", "007", "009", "010", "012", "014"]
NON_FINALS = [code for code in SPEC_STATUSES if code not in SPEC_FINALS]


def test_tables_hold_exactly_the_protocol_codes():
    assert sorted(ERROR_CODES) == SPEC_ERRORS
    assert sorted(STATUS_CODES) == SPEC_STATUSES
    assert sorted(FINAL_STATUSES) == SPEC_FINALS


def test_table_descriptions_follow_the_reference():
    assert ERROR_CODES["105"] == "Invalid destination address"
    assert ERROR_CODES["130"] == "Maximum MT limit exceeded until <Unix time>"
    assert ERROR_CODES["901"] == "Internal error (retry)"
    assert STATUS_CODES["004"] == "Received by recipient"
    assert STATUS_CODES["014"] == "Maximum MT limit exceeded"


@pytest.mark.parametrize("code", SPEC_ERRORS)
def test_every_error_code_has_its_own_plain_explanation(code):
    text = explain_error(code, ERROR_CODES[code])
    assert text != ERROR_CODES[code]
    assert text.endswith(".")
    assert "error " + code not in text  # the generic fallback was not used


@pytest.mark.parametrize(
    ("code", "phrases"),
    [
        ("001", ["CLICKATELL_API_ID", "CLICKATELL_USER", "CLICKATELL_PASSWORD"]),
        ("002", ["CLICKATELL_USER", "CLICKATELL_PASSWORD"]),
        ("003", ["expired", "Try again"]),
        ("105", ["number is invalid", "country code"]),
        ("113", ["too long", "SMS_MAX_PARTS"]),
        ("114", ["cannot route", "number"]),
        ("121", ["blocked"]),
        ("122", ["opted out"]),
        ("301", ["credit ran out", "Top up", "redeem a voucher"]),
        ("901", ["internal error", "Try again"]),
    ],
)
def test_explanations_say_what_it_means_and_what_to_do(code, phrases):
    text = explain_error(code, ERROR_CODES[code])
    for phrase in phrases:
        assert phrase in text


def test_explanation_depends_on_the_code_never_the_wire_text():
    # Real servers word and case descriptions differently (§3).
    assert explain_error("301", "No Credit Left") == explain_error("301", "No credit left")
    assert explain_error("105", "Invalid Destination Address") == explain_error("105", "bogus")
    assert explain_error("105", "No credit left") != explain_error("301", "No credit left")


def test_codes_are_normalized_to_three_digits():
    assert explain_error("1") == explain_error("001")
    assert explain_error(" 301 ") == explain_error("301")
    assert describe_status("4") == describe_status("004")
    assert is_final("4")


def test_130_tells_when_sending_resumes():
    text = explain_error("130", "Maximum MT limit exceeded until 1700000000")
    assert "2023-11-14 22:13 UTC" in text
    assert "limit" in text


def test_130_without_a_time_still_explains():
    text = explain_error("130", "Maximum MT limit exceeded")
    assert "resumes later" in text


def test_unknown_code_gets_a_sentence_naming_code_and_wire_text():
    text = explain_error("999", "Something new")
    assert "999" in text
    assert "Something new" in text
    assert text.endswith(".")


def test_code_less_error_keeps_the_wire_text():
    wire = "This prefix is not currently supported. Messages sent to this prefix will fail."
    assert wire in explain_error(None, wire)
    assert explain_error(None) == "The gateway refused the request."


def test_gateway_error_carries_code_description_and_explanation():
    error = gateway_error("105", "Invalid Destination Address")
    assert isinstance(error, GatewayError)
    assert (error.code, error.description) == ("105", "Invalid Destination Address")
    assert error.explanation == explain_error("105")
    assert str(error).startswith("105: ")


def test_gateway_error_without_a_code():
    error = gateway_error(None, "This prefix is not currently supported.")
    assert error.code is None
    assert "This prefix is not currently supported." in str(error)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("003", "Delivered to gateway"),
        ("004", "Received by recipient"),
        ("007", "Delivery failed"),
        ("006", "Cancelled"),
        ("011", "Scheduled for later delivery"),
    ],
)
def test_describe_status_in_plain_words(code, words):
    assert describe_status(code) == words


def test_every_status_has_distinct_words_and_unknown_ones_say_so():
    words = [describe_status(code) for code in SPEC_STATUSES]
    assert len(set(words)) == len(words)
    assert describe_status("013") == "Unknown status 013"


@pytest.mark.parametrize("code", SPEC_STATUSES)
def test_is_final_matches_the_reference(code):
    assert is_final(code) == (code in SPEC_FINALS)


@pytest.mark.parametrize("final", SPEC_FINALS)
@pytest.mark.parametrize("other", NON_FINALS)
def test_every_final_outranks_every_non_final(final, other):
    assert status_rank(final) > status_rank(other)


@pytest.mark.parametrize("earlier", ["001", "002", "008", "011"])
def test_delivered_to_gateway_outranks_earlier_stages(earlier):
    assert status_rank("003") > status_rank(earlier)


def test_finals_share_one_rank_so_the_first_final_stays():
    assert len({status_rank(code) for code in SPEC_FINALS}) == 1


def test_unknown_status_ranks_below_every_known_one():
    assert all(status_rank("013") < status_rank(code) for code in SPEC_STATUSES)


def apply_all(statuses: list[str]) -> str | None:
    """How a store applies callbacks: a new status applies iff its rank is greater."""
    current = None
    for status in statuses:
        if current is None or status_rank(status) > status_rank(current):
            current = status
    return current


def test_a_late_003_after_004_changes_nothing():
    assert apply_all(["008", "004", "003"]) == "004"


@given(st.lists(st.sampled_from(SPEC_STATUSES), min_size=1, max_size=20))
def test_status_never_moves_backwards(statuses):
    result = apply_all(statuses)
    assert status_rank(result) == max(status_rank(s) for s in statuses)
    first_final = next((s for s in statuses if s in SPEC_FINALS), None)
    if first_final is not None:
        assert result == first_final


def test_wire_codes_in_tables_are_three_digit_strings():
    for code in [*ERROR_CODES, *STATUS_CODES]:
        assert re.fullmatch(r"\d{3}", code)


def test_codes_meaning_more_than_refused_are_the_ports_error_classes():
    # Callers test a class, not a legacy code: 901 (the gateway's "retry") is Unavailable once
    # the client's own retries are used up, 113 (too many parts) is PartsExceeded.
    assert isinstance(gateway_error("901", "Internal error (retry)"), Unavailable)
    assert isinstance(gateway_error("113", "Max message parts exceeded"), PartsExceeded)
    plain = gateway_error("105", "Invalid Destination Address")
    assert type(plain) is GatewayError
