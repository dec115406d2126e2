"""Callback decoding (protocol reference §6, §7): bytes in, typed callbacks or CallbackError out."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote_from_bytes, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.gateway.clickatell_http.callbacks import (
    CallbackError,
    Concatenation,
    decode_mo,
    decode_status,
    encode_mo_text,
    parse_params,
    parse_udh,
)

STATUS_QUERY = (
    b"api_id=3123456&apiMsgId=996411ad91fa211e7d17bc873aa4a41d&cliMsgId=abc123"
    b"&to=27821234567&from=27830000000&timestamp=1218007814&status=004&charge=0.300000"
)


def mo_params(**overrides: bytes | None) -> dict[str, bytes]:
    params: dict[str, bytes | None] = {
        "api_id": b"3123456",
        "moMsgId": b"b2aee337abd962489b123fda9c3480fa",
        "from": b"27821234567",
        "to": b"27830000000",
        "timestamp": b"2008-08-06 09:43:50",
        "text": b"Hello",
        "charset": b"ISO-8859-1",
        "udh": b"",
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


# --------------------------------------------------------------------------- parse_params


def test_parse_params_keeps_bytes_and_never_decodes_as_utf8() -> None:
    params = parse_params(b"text=%04%1F%04%40%04%38&charset=UTF-16BE&x=a+b%2Bc")
    assert params == {"text": b"\x04\x1f\x04\x40\x04\x38", "charset": b"UTF-16BE", "x": b"a b+c"}


def test_parse_params_latin1_byte_stays_one_byte() -> None:
    assert parse_params(b"text=B%E4r")["text"] == b"B\xe4r"


def test_parse_params_first_value_wins_and_oddities_are_tolerated() -> None:
    params = parse_params(b"api_id=1&api_id=2&&flag&bad=%zz%4&=orphan&empty=")
    assert params == {"api_id": b"1", "flag": b"", "bad": b"%zz%4", "empty": b""}


def test_parse_params_accepts_wsgi_latin1_query_string() -> None:
    # PEP 3333: QUERY_STRING is a str whose characters are the raw bytes.
    assert parse_params("text=%E4%04&raw=\xe4")["text"] == b"\xe4\x04"
    assert parse_params("raw=\xe4")["raw"] == b"\xe4"


@given(st.binary())
def test_parse_params_never_raises(raw: bytes) -> None:
    params = parse_params(raw)
    assert all(isinstance(value, bytes) for value in params.values())


# --------------------------------------------------------------------------- status


def test_decode_status_reference_example() -> None:
    callback = decode_status(parse_params(STATUS_QUERY))
    assert callback.api_id == "3123456"
    assert callback.apimsgid == "996411ad91fa211e7d17bc873aa4a41d"
    assert callback.climsgid == "abc123"
    assert (callback.to, callback.sender) == ("27821234567", "27830000000")
    assert callback.timestamp == datetime(2008, 8, 6, 7, 30, 14, tzinfo=UTC)
    assert callback.status == "004"
    assert callback.charge == pytest.approx(0.3)
    assert callback.unique_key == "996411ad91fa211e7d17bc873aa4a41d:004"


def test_decode_status_empty_climsgid_and_charge_become_none() -> None:
    query = STATUS_QUERY.replace(b"cliMsgId=abc123", b"cliMsgId=").replace(
        b"charge=0.300000", b"charge="
    )
    callback = decode_status(parse_params(query))
    assert callback.climsgid is None
    assert callback.charge is None


def test_decode_status_status_stays_a_three_digit_string() -> None:
    callback = decode_status(parse_params(STATUS_QUERY.replace(b"status=004", b"status=003")))
    assert callback.status == "003"


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"status=004", b"status=4", "status must be 3 digits"),
        (b"status=004", b"status=0004", "status must be 3 digits"),
        (b"status=004", b"status=%D9%A0%D9%A0%D9%A4", "ASCII"),  # Arabic-Indic digits
        (b"status=004", b"", "missing parameter status"),
        (b"apiMsgId=996411ad91fa211e7d17bc873aa4a41d", b"apiMsgId=", "missing parameter apiMsgId"),
        (b"timestamp=1218007814", b"timestamp=2008-08-06", "Unix seconds"),
        (b"timestamp=1218007814", b"timestamp=-5", "Unix seconds"),
        (b"timestamp=1218007814", b"", "missing parameter timestamp"),
        (b"charge=0.300000", b"charge=abc", "charge must be a number"),
        (b"charge=0.300000", b"charge=nan", "not a valid amount"),
        (b"charge=0.300000", b"charge=-1", "not a valid amount"),
        (b"to=27821234567", b"to=%00", "control characters"),
    ],
)
def test_decode_status_rejects_malformed(old: bytes, new: bytes, reason: str) -> None:
    with pytest.raises(CallbackError, match=reason):
        decode_status(parse_params(STATUS_QUERY.replace(old, new)))


def test_decode_status_url_check_without_parameters_is_an_error() -> None:
    # The endpoint answers Clickatell's parameterless URL check itself; the decoder refuses.
    with pytest.raises(CallbackError, match="missing parameter"):
        decode_status(parse_params(b""))


# --------------------------------------------------------------------------- MO text


def test_decode_mo_utf16be_cyrillic_from_percent_encoded_bytes() -> None:
    query = (
        b"api_id=3123456&moMsgId=m1&from=27821234567&to=27830000000"
        b"&timestamp=2008-08-06+09%3A43%3A50&text=%04%1F%04%40%04%38%04%32%04%35%04%42"
        b"&charset=UTF-16BE&udh="
    )
    callback = decode_mo(parse_params(query))
    assert callback.text == "Привет"
    assert callback.charset == "UTF-16BE"
    assert callback.concatenation is None
    assert callback.unique_key == "m1"


def test_decode_mo_latin1() -> None:
    callback = decode_mo(
        parse_params(
            b"moMsgId=m&from=1&timestamp=2008-08-06+09:43:50&text=B%E4r+%FCber&charset=ISO-8859-1"
        )
    )
    assert callback.text == "Bär über"
    assert callback.charset == "ISO-8859-1"


@pytest.mark.parametrize("charset", [b"iso-8859-1", b"Latin1", b"LATIN-1", b"ISO8859-1", None])
def test_decode_mo_latin1_aliases_and_default(charset: bytes | None) -> None:
    callback = decode_mo(mo_params(text=b"\xe4", charset=charset))
    assert callback.text == "ä"
    assert callback.charset == "ISO-8859-1"


@pytest.mark.parametrize("charset", [b"UTF-16BE", b"utf-16be", b"UTF-16", b"UCS-2"])
def test_decode_mo_utf16_aliases(charset: bytes) -> None:
    assert decode_mo(mo_params(text=b"\x03\xa9", charset=charset)).text == "Ω"


def test_decode_mo_utf16_byte_order_mark_honoured_only_for_generic_alias() -> None:
    assert decode_mo(mo_params(text=b"\xff\xfe\xa9\x03", charset=b"UTF-16")).text == "Ω"
    assert decode_mo(mo_params(text=b"\xfe\xff\x03\xa9", charset=b"UTF-16")).text == "Ω"
    # For the explicit big-endian charset FE FF is a character (ZWNBSP), not a mark.
    assert decode_mo(mo_params(text=b"\xfe\xff\x03\xa9", charset=b"UTF-16BE")).text == "\ufeffΩ"


def test_decode_mo_utf16_surrogate_pair() -> None:
    assert decode_mo(mo_params(text=b"\xd8\x3d\xde\x00", charset=b"UTF-16BE")).text == "😀"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"text": b"\x04\x1f\x04", "charset": b"UTF-16BE"}, "odd number of bytes"),
        ({"text": b"\xd8\x3d", "charset": b"UTF-16BE"}, "not valid UTF-16BE"),
        ({"text": b"\xff", "charset": b"UTF-8"}, "not valid UTF-8"),
        ({"charset": b"EBCDIC"}, "unsupported charset"),
        ({"text": None}, "missing parameter text"),
        ({"moMsgId": None}, "missing parameter moMsgId"),
        ({"from": b""}, "missing parameter from"),
        ({"timestamp": b"1218007814"}, "YYYY-MM-DD HH:MM:SS"),
        ({"timestamp": b"2008-02-30 10:00:00"}, "not a real date"),
        ({"timestamp": b"2008-08-06 24:00:00"}, "not a real date"),
        ({"udh": b"05000301"}, "length byte"),
    ],
)
def test_decode_mo_rejects_malformed(overrides: dict[str, bytes | None], reason: str) -> None:
    with pytest.raises(CallbackError, match=reason):
        decode_mo(mo_params(**overrides))


def test_decode_mo_empty_text_is_allowed_and_network_optional() -> None:
    callback = decode_mo(mo_params(text=b"", network=b"Vodacom"))
    assert callback.text == ""
    assert callback.network == "Vodacom"
    assert decode_mo(mo_params()).network is None


# --------------------------------------------------------------------------- MO timestamp


def test_mo_timestamp_is_gmt_plus_2() -> None:
    assert decode_mo(mo_params()).timestamp == datetime(2008, 8, 6, 7, 43, 50, tzinfo=UTC)


def test_mo_timestamp_across_midnight_and_year() -> None:
    callback = decode_mo(mo_params(timestamp=b"2024-01-01 01:30:00"))
    assert callback.timestamp == datetime(2023, 12, 31, 23, 30, tzinfo=UTC)


def test_mo_timestamp_has_no_daylight_saving() -> None:
    # July and January: the same two-hour offset.
    assert decode_mo(mo_params(timestamp=b"2024-07-01 02:00:00")).timestamp.hour == 0
    assert decode_mo(mo_params(timestamp=b"2024-01-01 02:00:00")).timestamp.hour == 0


# --------------------------------------------------------------------------- UDH


def test_udh_8bit_reference() -> None:
    assert parse_udh("050003A70302") == Concatenation(reference=0xA7, total=3, sequence=2)


def test_udh_16bit_reference() -> None:
    assert parse_udh("060804BEEF0201") == Concatenation(reference=0xBEEF, total=2, sequence=1)


def test_udh_without_concatenation_is_none() -> None:
    assert parse_udh("050103000000") is None  # application port addressing
    assert parse_udh("") is None


def test_udh_concatenation_after_another_element() -> None:
    # Port addressing (IEI 05, 4 bytes) followed by an 8-bit concatenation element.
    assert parse_udh("0B05040B840B840003120201") == Concatenation(0x12, 2, 1)


def test_udh_lower_case_hex_and_in_mo_callback() -> None:
    callback = decode_mo(mo_params(udh=b"050003ff0303"))
    assert callback.concatenation == Concatenation(reference=255, total=3, sequence=3)


@pytest.mark.parametrize(
    "udh",
    [
        "05000301",  # length byte larger than the header
        "0500030102",  # odd hex digits
        "zz0003010201",  # not hex
        "0400020102",  # concatenation element too short
        "050003010300",  # sequence 0
        "050003010304",  # sequence beyond total
        "050003010001",  # total 0
        "0300050102",  # element longer than the header
        "01FF",  # element header cut off
    ],
)
def test_udh_malformed(udh: str) -> None:
    with pytest.raises(CallbackError):
        parse_udh(udh)


# --------------------------------------------------------------------------- properties


def _mo_query(text_bytes: bytes, charset: str) -> bytes:
    """The raw query the gateway would send: text as percent-encoded bytes."""
    rest = urlencode(
        {
            "moMsgId": "m1",
            "from": "27821234567",
            "to": "27830000000",
            "timestamp": "2024-05-05 12:00:00",
            "charset": charset,
        }
    )
    return f"{rest}&text={quote_from_bytes(text_bytes)}".encode("ascii")


@given(st.text())
def test_utf16be_round_trip_through_the_wire(text: str) -> None:
    query = _mo_query(encode_mo_text(text, "UTF-16BE"), "UTF-16BE")
    assert decode_mo(parse_params(query)).text == text


@given(st.text(alphabet=st.characters(max_codepoint=0xFF)))
def test_latin1_round_trip_through_the_wire(text: str) -> None:
    query = _mo_query(encode_mo_text(text, "ISO-8859-1"), "ISO-8859-1")
    assert decode_mo(parse_params(query)).text == text


@given(st.text(alphabet=st.characters(max_codepoint=0xFF)))
def test_latin1_round_trip_with_plus_encoding(text: str) -> None:
    # Form bodies encode spaces as '+': the decoder must turn them back into spaces.
    body = urlencode(
        {
            "text": encode_mo_text(text, "latin1"),
            "moMsgId": "x",
            "from": "1",
            "timestamp": "2024-05-05 12:00:00",
            "charset": "latin1",
        }
    ).encode("ascii")
    assert decode_mo(parse_params(body)).text == text


def test_encode_mo_text_refuses_what_latin1_cannot_carry() -> None:
    with pytest.raises(ValueError):
        encode_mo_text("Ω", "ISO-8859-1")
    with pytest.raises(CallbackError):
        encode_mo_text("x", "KOI8-R")


_names = st.sampled_from(
    [
        "api_id",
        "apiMsgId",
        "cliMsgId",
        "moMsgId",
        "to",
        "from",
        "timestamp",
        "status",
        "charge",
        "text",
        "charset",
        "udh",
        "network",
        "other",
    ]
)
_values = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"004",
            b"1218007814",
            b"2008-08-06 09:43:50",
            b"UTF-16BE",
            b"050003010201",
            b"060804BEEF0201",
            b"0.3",
            b"",
        ]
    ),
)


@given(st.dictionaries(_names, _values))
def test_decoders_raise_only_callback_error(params: dict[str, bytes]) -> None:
    for decode in (decode_status, decode_mo):
        try:
            decode(params)
        except CallbackError as exc:
            assert str(exc)


@given(st.binary(max_size=20).map(bytes.hex))
def test_parse_udh_raises_only_callback_error(hex_udh: str) -> None:
    try:
        result = parse_udh(hex_udh)
    except CallbackError:
        return
    assert result is None or 1 <= result.sequence <= result.total


# ------------------------------------------------------------------- inverses (sandbox side)


@given(st.integers(0, 4_000_000_000))
def test_mo_timestamp_round_trip(seconds: int) -> None:
    from bot.gateway.clickatell_http.callbacks import format_mo_timestamp

    written = format_mo_timestamp(seconds)
    assert decode_mo(mo_params(timestamp=written.encode())).timestamp == datetime.fromtimestamp(
        seconds, UTC
    )


def test_mo_timestamp_written_in_gmt_plus_2() -> None:
    from bot.gateway.clickatell_http.callbacks import format_mo_timestamp

    assert format_mo_timestamp(datetime(2023, 12, 31, 23, 30, tzinfo=UTC).timestamp()) == (
        "2024-01-01 01:30:00"
    )


@given(st.integers(0, 255), st.integers(2, 255), st.data())
def test_concatenation_udh_round_trip(reference: int, total: int, data: st.DataObject) -> None:
    from bot.gateway.clickatell_http.callbacks import concatenation_udh

    sequence = data.draw(st.integers(1, total))
    written = concatenation_udh(reference, total, sequence)
    assert written == f"050003{reference:02X}{total:02X}{sequence:02X}"
    assert parse_udh(written) == Concatenation(reference, total, sequence)
