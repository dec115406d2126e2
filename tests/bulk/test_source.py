"""Reading recipients from CSV files and pasted entries: units, and a property over arbitrary
bytes (never anything but rows or BulkRefused)."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.usecases.bulk.model import BulkRefused
from bot.usecases.bulk.source import MAX_BYTES, MAX_ROWS, SourceRows, read_csv, read_entries


def _numbers(rows: SourceRows) -> list[tuple[int, str]]:
    return [(r.row, r.number) for r in rows.rows]


def test_excel_semicolons_crlf_bom_and_blank_lines() -> None:
    data = codecs.BOM_UTF8 + b"Name;Phone;Order\r\nBob;+27821234567;A1\r\n\r\nAnn;0821234568;B2\r\n"
    rows = read_csv(data)
    assert rows.columns == ("Name", "Phone", "Order")
    assert _numbers(rows) == [(2, "+27821234567"), (4, "0821234568")]  # spreadsheet rows
    assert rows.rows[0].cells == {"Name": "Bob", "Phone": "+27821234567", "Order": "A1"}


def test_quoted_cells_with_separators_and_newlines() -> None:
    data = b'mobile,note\n27821234567,"one, two"\n27821234568,"line\nbreak"\n'
    rows = read_csv(data)
    assert [r.cells["note"] for r in rows.rows] == ["one, two", "line\nbreak"]


def test_windows_1252_and_utf16_exports() -> None:
    rows = read_csv("Name,Cell\r\nZoë,27821234567\r\n".encode("cp1252"))
    assert rows.rows[0].cells["Name"] == "Zoë"
    rows = read_csv("Name\tMSISDN\r\nZoë\t27821234567\r\n".encode("utf-16"))
    assert _numbers(rows) == [(2, "27821234567")]


@pytest.mark.parametrize(
    ("header", "column"),
    [("to", "to"), ("Phone Number", "Phone Number"), ("MOBILE_NUMBER", "MOBILE_NUMBER")],
)
def test_the_number_column_is_found_by_its_header(header: str, column: str) -> None:
    rows = read_csv(f"name,{header}\nBob,27821234567\n".encode())
    assert rows.rows[0].number == "27821234567"


def test_to_column_chooses_the_column_ignoring_case() -> None:
    data = b"home,work\n27821111111,27822222222\n"
    assert read_csv(data, to_column=" WORK ").rows[0].number == "27822222222"
    with pytest.raises(BulkRefused, match="no column named 'fax'; its columns are 'home', 'work'"):
        read_csv(data, to_column="fax")


def test_a_file_without_a_number_column_says_how_to_name_one() -> None:
    with pytest.raises(BulkRefused, match="--to-column"):
        read_csv(b"name,city\nBob,Paris\n")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b" \r\n\r\n", "empty"),
        (b"phone\n", "no recipients"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV"),
        (b'phone\n"27821234567\n' + b"x" * 140_000, "cannot be read as CSV"),
    ],
)
def test_bad_files_are_refused_in_plain_words(data: bytes, words: str) -> None:
    with pytest.raises(BulkRefused, match=words):
        read_csv(data)


def test_the_limits_refuse_the_whole_file() -> None:
    with pytest.raises(BulkRefused, match="10 MB"):
        read_csv(b"phone\n" + b"27821234567\n" * (MAX_BYTES // 12 + 1))
    with pytest.raises(BulkRefused, match="100,000 rows"):
        read_csv(b"phone\n" + b"1\n" * (MAX_ROWS + 1))
    assert len(read_csv(b"phone\n" + b"1\n" * MAX_ROWS).rows) == MAX_ROWS


def test_pasted_entries_are_numbered_from_one() -> None:
    rows = read_entries([" +27821234567 ", "", "Jane"])
    assert _numbers(rows) == [(1, "+27821234567"), (2, "Jane")]
    with pytest.raises(BulkRefused, match="no recipient"):
        read_entries(["  "])


@given(st.binary(max_size=2000))
def test_any_bytes_give_rows_or_a_plain_refusal(data: bytes) -> None:
    try:
        rows = read_csv(data)
    except BulkRefused as refusal:
        assert str(refusal)
        return
    assert rows.rows and all(r.row >= 2 for r in rows.rows)


_CELL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(st.lists(st.lists(_CELL, min_size=1, max_size=4), min_size=1, max_size=8), st.booleans())
def test_any_text_table_gives_rows_or_a_plain_refusal(table: list[list[str]], bom: bool) -> None:
    text = "\r\n".join(",".join(cells) for cells in [["phone", "x"], *table])
    data = (codecs.BOM_UTF8 if bom else b"") + text.encode()
    try:
        read_csv(data)
    except BulkRefused as refusal:
        assert str(refusal)
