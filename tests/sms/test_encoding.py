"""Encoder, part counting and splitting (protocol reference §5)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sms.encoding import (
    GSM_BASIC,
    GSM_BASIC_TABLE,
    GSM_EXTENSION_TABLE,
    LIMITS,
    PLAIN_CHARACTERS,
    TextTooLong,
    decode_sendmsg_text,
    encode_text,
    measure,
    split_parts,
    text_length,
)
from bot.sms.refusals import Refused

EXTENSION = "^{}\\[]~|\f"  # the extension characters that are also Latin-1
GREEK_CAPITALS = "ΔΦΓΛΩΠΨΣΘΞ"


# --- tables -------------------------------------------------------------------------------


def test_basic_table_positions_follow_the_standard():
    assert len(GSM_BASIC_TABLE) == 128
    positions = {0x00: "@", 0x01: "£", 0x02: "$", 0x09: "Ç", 0x0A: "\n", 0x0D: "\r"}
    positions |= {0x10: "Δ", 0x11: "_", 0x1B: "\x1b", 0x1F: "É", 0x24: "¤", 0x40: "¡"}
    positions |= {0x5B: "Ä", 0x5F: "§", 0x60: "¿", 0x7B: "ä", 0x7F: "à"}
    for code, char in positions.items():
        assert GSM_BASIC_TABLE[code] == char, hex(code)
    assert "\x1b" not in GSM_BASIC  # the escape is not a character


def test_extension_table_is_exact():
    assert GSM_EXTENSION_TABLE == {
        "\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
        "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65,
    }  # fmt: skip


def test_plain_characters_are_gsm_minus_what_latin1_lacks():
    gsm = GSM_BASIC | set(GSM_EXTENSION_TABLE)
    assert gsm - PLAIN_CHARACTERS == set(GREEK_CAPITALS) | {"€"}


# --- choosing and encoding ----------------------------------------------------------------


def test_greek_goes_as_ucs2_hex():
    encoded = encode_text("ΩΨ")
    assert (encoded.encoding, encoded.unicode, encoded.text) == ("ucs2", True, "03A903A8")
    assert (encoded.length, encoded.parts) == (2, 1)


def test_umlaut_goes_as_one_latin1_byte():
    encoded = encode_text("ä")
    assert (encoded.encoding, encoded.unicode, encoded.text) == ("gsm7", False, b"\xe4")


def test_plain_ascii_is_sent_as_its_bytes():
    assert encode_text("Hello, world!").text == b"Hello, world!"


def test_euro_is_gsm_but_not_latin1_so_goes_ucs2():
    encoded = encode_text("Pay 5€")
    assert encoded.encoding == "ucs2"
    assert encoded.text == "0050006100790020003520AC"


@pytest.mark.parametrize("char", [*GREEK_CAPITALS, "á", "`", "ç", "\t", "Ω"])
def test_characters_that_would_arrive_changed_force_ucs2(char):
    assert encode_text("ok " + char).encoding == "ucs2"


def test_non_bmp_character_is_a_surrogate_pair():
    encoded = encode_text("😀")
    assert (encoded.text, encoded.length) == ("D83DDE00", 2)


@pytest.mark.parametrize("char", list(EXTENSION))
def test_extension_characters_count_two(char):
    assert measure(char) == ("gsm7", 2, 1)
    assert encode_text("a" + char).text == ("a" + char).encode("latin-1")


def test_empty_text_is_refused():
    with pytest.raises(Refused, match=r"^The message is empty"):
        encode_text("")
    with pytest.raises(Refused, match=r"^The message is empty"):
        encode_text(" \n ")


def test_lone_surrogate_is_refused_not_crashed():
    with pytest.raises(Refused, match="invalid character"):
        encode_text("bad \udc80 byte")


def test_max_parts_must_be_positive():
    with pytest.raises(ValueError):
        encode_text("hi", max_parts=0)


# --- part boundaries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm_part_boundaries(length, parts):
    assert measure("a" * length) == ("gsm7", length, parts)


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_part_boundaries(length, parts):
    assert measure("Ω" * length) == ("ucs2", length, parts)


def test_extension_characters_count_two_at_the_single_limit():
    assert measure("a" * 158 + "[") == ("gsm7", 160, 1)
    assert measure("a" * 159 + "[") == ("gsm7", 161, 2)


def test_escape_pair_never_splits_across_parts():
    text = "a" * 152 + "[" + "b" * 10
    parts = split_parts(text)
    assert parts == ["a" * 152, "[" + "b" * 10]
    assert text_length(parts[0], "gsm7") == 152


def test_escape_pair_fills_a_part_exactly_when_it_fits():
    assert split_parts("a" * 151 + "[" + "b" * 10) == ["a" * 151 + "[", "b" * 10]


def test_surrogate_pair_never_splits_across_parts():
    text = "Ω" * 66 + "😀" + "Ω" * 10
    parts = split_parts(text)
    assert parts == ["Ω" * 66, "😀" + "Ω" * 10]
    assert text_length(parts[0], "ucs2") == 66


def test_surrogate_pair_at_the_single_limit():
    assert measure("Ω" * 68 + "😀") == ("ucs2", 70, 1)
    assert measure("Ω" * 69 + "😀") == ("ucs2", 71, 2)


def test_too_long_is_refused_with_length_parts_and_limit():
    with pytest.raises(TextTooLong) as caught:
        encode_text("a" * 307, max_parts=2)
    error = caught.value
    assert (error.length, error.parts, error.max_parts, error.encoding) == (307, 3, 2, "gsm7")
    assert "307" in str(error) and "3 parts" in str(error) and "2 parts" in str(error)


def test_text_at_the_limit_is_accepted():
    assert encode_text("a" * 459, max_parts=3).parts == 3
    assert encode_text("Ω" * 201, max_parts=3).parts == 3
    with pytest.raises(TextTooLong):
        encode_text("Ω" * 202, max_parts=3)


def test_empty_text_has_no_parts():
    assert split_parts("") == []
    assert measure("") == ("gsm7", 0, 0)


# --- gateway-side decoding ----------------------------------------------------------------


def test_decode_plain_reads_latin1():
    assert decode_sendmsg_text(b"\xe4 ok", unicode=False) == "ä ok"
    # A UTF-8 ä read as Latin-1 is the mojibake the reference warns about.
    assert decode_sendmsg_text("ä".encode(), unicode=False) == "Ã¤"


def test_decode_unicode_hex():
    assert decode_sendmsg_text(b"03A903A8", unicode=True) == "ΩΨ"
    assert decode_sendmsg_text(b"03a9", unicode=True) == "Ω"
    assert decode_sendmsg_text(b"D83DDE00", unicode=True) == "😀"


@pytest.mark.parametrize(
    "raw",
    [b"03A", b"03A903", b"ZZZZ", b" 041", b"00 41", b"\xff\xff\xff\xff", b"D800", b"DC00",
     b"D83D0041", b"0041D83D"],
)  # fmt: skip
def test_decode_bad_unicode_raises_value_error(raw):
    with pytest.raises(ValueError):
        decode_sendmsg_text(raw, unicode=True)


# --- properties ---------------------------------------------------------------------------

SAMPLE = "a{}[]~|^\\\f€ΩΨä😀𝄞 "
plain_char = st.sampled_from(sorted(PLAIN_CHARACTERS))
any_char = st.one_of(st.sampled_from(SAMPLE), st.characters(exclude_categories=("Cs",)))


@st.composite
def long_text(draw, char=any_char):
    """Texts from one character to several parts long: a random chunk repeated, plus a tail,
    so multi-part boundaries are hit often without generating thousands of characters."""
    chunk = draw(st.text(char, min_size=1, max_size=30))
    tail = draw(st.text(char, max_size=30))
    return chunk * draw(st.integers(1, 40)) + tail


def sendable(text: str) -> bool:
    return bool(text.strip())


@given(long_text(plain_char).filter(sendable))
def test_gsm_round_trip(text):
    encoded = encode_text(text)
    assert encoded.encoding == "gsm7"
    assert decode_sendmsg_text(encoded.text, encoded.unicode) == text


@given(long_text().filter(sendable))
def test_any_text_round_trips(text):
    encoded = encode_text(text)
    raw = encoded.text if isinstance(encoded.text, bytes) else encoded.text.encode("ascii")
    assert decode_sendmsg_text(raw, encoded.unicode) == text


@given(long_text())
def test_parts_are_the_split(text):
    encoding, length, parts = measure(text)
    pieces = split_parts(text)
    assert parts == len(pieces)
    assert "".join(pieces) == text
    assert length == sum(text_length(piece, encoding) for piece in pieces)


@given(long_text())
def test_every_part_within_its_limit_and_filled_greedily(text):
    encoding, length, parts = measure(text)
    limits = LIMITS[encoding]
    pieces = split_parts(text)
    if parts == 1:
        assert length <= limits.single
        return
    assert length > limits.single
    sizes = [text_length(piece, encoding) for piece in pieces]
    assert all(0 < size <= limits.multi for size in sizes)
    # Only a two-unit character (escape or surrogate pair) may leave a part one short.
    assert all(size >= limits.multi - 1 for size in sizes[:-1])


@given(long_text(st.sampled_from("abc xyz.,")))
def test_part_count_formula_for_one_unit_characters(text):
    parts = 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    assert measure(text) == ("gsm7", len(text), parts)


@given(long_text(), st.text(any_char, min_size=1, max_size=20))
def test_part_count_is_monotone_in_length(text, more):
    encoding = measure(text + more)[0]
    if encoding != measure(text)[0]:
        # Adding a character can only switch gsm7 -> ucs2, which never needs fewer parts.
        assert encoding == "ucs2"
    assert measure(text)[2] <= measure(text + more)[2]


@given(long_text().filter(sendable), st.integers(1, 5))
def test_max_parts_refuses_exactly_when_over(text, max_parts):
    parts = measure(text)[2]
    if parts > max_parts:
        with pytest.raises(TextTooLong):
            encode_text(text, max_parts=max_parts)
    else:
        assert encode_text(text, max_parts=max_parts).parts == parts
