"""The result file's cells are never formulas to a spreadsheet."""

from __future__ import annotations

import pytest

from bot.usecases.bulk.control import escape_cell


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+27821234567", "'+27821234567"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Hi Bob", "Hi Bob"),
        ("27821234567", "27821234567"),
        ("", ""),
    ],
)
def test_formula_looking_cells_are_escaped(cell: str, written: str) -> None:
    assert escape_cell(cell) == written
