"""The reply grammar (protocol reference §3): every quirk, and property tests."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.gateway.base import GatewayError
from bot.gateway.clickatell_http import replies

# --- unit -----------------------------------------------------------------------------------------


def test_auth_session_id_with_trailing_newline_and_crlf():
    assert replies.read_session_id(b"OK: 0123456789abcdef0123456789abcdef\n") == (
        "0123456789abcdef0123456789abcdef"
    )
    assert replies.read_session_id("OK:  abc123\r\n") == "abc123"
    assert replies.read_session_id("OK:abc123") == "abc123"


def test_ok_forms():
    assert replies.read_ok("OK:") == ""
    assert replies.read_ok("OK:\n") == ""
    assert replies.read_ok("OK") == ""  # endbatch: no colon
    assert replies.read_ok("OK\r\n") == ""
    assert replies.read_ok("OK: 605") == "605"


def test_status_reply_keeps_three_digit_strings():
    assert replies.read_status("ID: abc123 Status: 004\n") == ("abc123", "004")
    assert replies.read_status("ID:abc123  Status:004") == ("abc123", "004")
    # A code written short still becomes the 3-digit string of the tables.
    assert replies.read_status("ID: x Status: 4") == ("x", "004")


def test_charge_reply_lower_case_keys():
    assert replies.read_charge("apiMsgId: x charge: 0.3 status: 004") == ("x", 0.3, "004")
    assert replies.read_charge("apiMsgId:  x  charge:0.3 status:004\r\n") == ("x", 0.3, "004")


def test_balance():
    assert replies.read_balance("Credit: 12.5\n") == 12.5
    assert replies.read_balance("Credit:  0") == 0.0


def test_coverage_supported_and_not():
    ok = (
        "OK: This prefix is currently supported. Messages sent to this prefix will be routed. "
        "Charge: 0.8\n"
    )
    assert replies.read_coverage(ok) == (True, 0.8)
    no = (
        "ERR: This prefix is not currently supported. Messages sent to this prefix will fail. "
        "Please contact support for assistance."
    )
    assert replies.read_coverage(no) == (False, None)


def test_coverage_with_a_coded_error_raises():
    with pytest.raises(GatewayError) as caught:
        replies.read_coverage("ERR: 003, Session ID expired")
    assert caught.value.code == "003"


def test_err_without_code_keeps_the_description():
    line = replies.parse_reply("ERR: This prefix is not currently supported.")[0]
    error = replies.error_of(line)
    assert error is not None and error.code is None
    assert "not currently supported" in error.description


def test_bare_err():
    error = replies.error_of(replies.parse_line("ERR:"))
    assert error is not None and error.code is None and error.description == ""


def test_err_code_and_description_and_explanation():
    error = replies.error_of(replies.parse_line("ERR: 301, No Credit Left"))
    assert error is not None
    assert (error.code, error.description) == ("301", "No Credit Left")
    assert error.explanation and error.explanation != error.description


def test_err_missing_comma_or_space():
    error = replies.error_of(replies.parse_line("ERR:105 Invalid Destination Address"))
    assert error is not None and error.code == "105"


def test_send_mixed_lines_and_empty_to():
    body = (
        "ID: aaa To: 27821234567\n"
        "ERR: 105, Invalid Destination Address To: \r\n"
        "ERR: 114, Cannot route message To:27825550102\n"
        "ID:bbb  To:  27821234568\n"
    )
    lines = replies.read_send(body)
    assert [(x.apimsgid, x.to) for x in lines] == [
        ("aaa", "27821234567"),
        (None, ""),
        (None, "27825550102"),
        ("bbb", "27821234568"),
    ]
    assert [x.error.code if x.error else None for x in lines] == [None, "105", "114", None]


def test_send_single_recipient_has_no_to():
    (line,) = replies.read_send("ID: 0123abc\n")
    assert (line.apimsgid, line.to, line.error) == ("0123abc", None, None)


def test_values_hold_spaces_and_dots():
    line = replies.parse_line("OK: Routed. Messages go out. Charge: 1.5")
    assert line.pairs == (("OK", "Routed. Messages go out."), ("Charge", "1.5"))


def test_call_error_only_for_a_single_line_without_to():
    assert replies.call_error("ERR: 003, Session ID expired").code == "003"
    assert replies.call_error("ERR: 105, Invalid To: 2782") is None
    assert replies.call_error("ID: x") is None
    assert replies.call_error("<html>") is None


@pytest.mark.parametrize(
    "body",
    ["", "\n\n", "<html><body>502</body></html>", "ID abc", "Status: x", "12: 30", "junk ID: 1"],
)
def test_unparseable_is_a_gateway_error(body):
    with pytest.raises(GatewayError) as caught:
        replies.read_status(body)
    assert caught.value.code is None
    assert "Unreadable reply" in caught.value.description


@pytest.mark.parametrize(
    ("reader", "body"),
    [
        (replies.read_balance, "Credit: lots"),
        (replies.read_status, "ID: x Status: delivered"),
        (replies.read_charge, "apiMsgId: x charge: ? status: 004"),
        (replies.read_id, "OK: 1"),
        (replies.read_session_id, "OK:"),
        (replies.read_send, "Credit: 1"),
        (replies.read_ok, "ID: 1\nID: 2"),
    ],
)
def test_wrong_reply_for_the_command(reader, body):
    with pytest.raises(GatewayError) as caught:
        reader(body)
    assert caught.value.code is None
    assert repr(body.strip())[:20] in caught.value.description


def test_long_garbage_is_quoted_briefly():
    with pytest.raises(GatewayError) as caught:
        replies.read_balance("x" * 10_000)
    assert len(caught.value.description) < 300


# --- properties -----------------------------------------------------------------------------------

spaces = st.sampled_from(["", " ", "  "])
ends = st.sampled_from(["", "\n", "\r\n", "\n\n"])
ids = st.text("0123456789abcdef", min_size=1, max_size=32)
msisdns = st.text("0123456789", min_size=8, max_size=15)
codes = st.integers(1, 999).map(lambda n: f"{n:03d}")
descriptions = st.lists(
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.", min_size=1, max_size=10),
    min_size=1,
    max_size=5,
).map(" ".join)


@st.composite
def send_lines(draw):
    """One sendmsg line with random spacing: (wire text, expected (apimsgid, code, to))."""
    gap1, gap2 = draw(spaces), draw(spaces)
    to = draw(st.one_of(msisdns, st.just("")))
    tail = f" To:{gap2}{to}"
    if draw(st.booleans()):
        apimsgid = draw(ids)
        return f"ID:{gap1}{apimsgid}{tail}", (apimsgid, None, to)
    code, description = draw(codes), draw(descriptions)
    return f"ERR:{gap1}{code}, {description}{tail}", (None, code, to)


@given(st.lists(send_lines(), min_size=1, max_size=20), ends, st.sampled_from(["\n", "\r\n"]))
def test_generated_send_replies_parse(lines, end, newline):
    body = newline.join(text for text, _ in lines) + end
    parsed = replies.read_send(body)
    expected = [want for _, want in lines]
    got = [(x.apimsgid, x.error.code if x.error else None, x.to) for x in parsed]
    assert got == expected


@given(ids, codes, spaces, spaces, ends)
def test_generated_status_replies_parse(apimsgid, status, gap1, gap2, end):
    body = f"ID:{gap1}{apimsgid} Status:{gap2}{status}{end}"
    assert replies.read_status(body) == (apimsgid, status)


@given(codes, descriptions, spaces, ends)
def test_generated_errors_raise_with_code(code, description, gap, end):
    with pytest.raises(GatewayError) as caught:
        replies.read_balance(f"ERR:{gap}{code},{gap}{description}{end}")
    assert caught.value.code == code
    assert caught.value.description == description


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_text_never_raises_anything_but_gateway_error(body):
    for reader in (
        replies.read_send,
        replies.read_status,
        replies.read_charge,
        replies.read_balance,
        replies.read_coverage,
        replies.read_ok,
        replies.read_id,
        replies.read_session_id,
        replies.call_error,
    ):
        with contextlib.suppress(GatewayError):
            reader(body)
