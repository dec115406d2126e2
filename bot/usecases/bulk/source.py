"""Reading a bulk send's recipients: a CSV file (Python's `csv`, dialect sniffed) or pasted
entries, into plain rows of cells. Everything wrong with the input is a `BulkRefused` in plain
words; no other exception leaves this module, whatever the bytes (tests feed it random ones).

Decisions:
- Encoding: UTF-8 with or without a BOM (Excel's "CSV UTF-8"); UTF-16 with a BOM (Excel's
  "Unicode Text", tab-separated); otherwise Windows-1252, which is what Excel's plain "CSV"
  export writes on Windows. A file with NUL bytes in it is not text: not a CSV.
- Dialect: `csv.Sniffer` on the first 64 KiB, among `,` `;` (Excel in most of Europe) tab and
  `|`; a file it cannot read (one column) is read as comma-separated. CRLF or LF either way.
- The first record is the header. The number column is `to_column` when given (compared ignoring
  case and spaces), else the first header among to, number, phone, mobile, msisdn, cell (and
  their "phone number"/"mobile_number" variants).
- Rows are numbered as a spreadsheet numbers them: the header is row 1, so the first recipient
  is row 2. Blank lines keep their number but are not rows to send.
- Limits: 10 MB and 100,000 rows. Past either the whole file is refused, nothing stored: a list
  that large is a mistake or a job for a campaign tool, and half a send is worse than none.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.templates import field_key
from bot.usecases.bulk.model import BulkRefused

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
NUMBER_HEADERS = ("to", "number", "phone", "mobile", "msisdn", "cell")
_NUMBER_KEYS = {
    *NUMBER_HEADERS,
    "phone number",
    "mobile number",
    "cell number",
    "cellphone",
    "telephone",
    "tel",
}


@dataclass(frozen=True)
class SourceRow:
    """One recipient as read: its row number, the number as typed, and every cell by header."""

    row: int
    number: str
    cells: dict[str, str]


@dataclass(frozen=True)
class SourceRows:
    columns: tuple[str, ...]  # the headers, as written (empty for pasted entries)
    rows: tuple[SourceRow, ...]


def decode(data: bytes) -> str:
    """The file's text (see the module's decisions); BulkRefused when it is not text."""
    if len(data) > MAX_BYTES:
        raise BulkRefused(
            f"The file is {len(data) / 1_048_576:.1f} MB; a bulk send takes files up to 10 MB. "
            "Split it into smaller files."
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decoded(data, "utf-16")
    elif b"\x00" in data:
        text = None
    else:
        text = _decoded(data, "utf-8-sig") or _decoded(data, "cp1252")
    if text is None or "\x00" in text:
        raise BulkRefused(
            "That file is not a CSV file (it holds binary data). Save the list as CSV "
            "(comma- or semicolon-separated text) and try again."
        )
    return text


def _decoded(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """The sniffed dialect; when the Sniffer cannot tell (blank lines, one column, quoted
    newlines confuse it), the candidate delimiter the header row uses most, else a comma."""
    sample = text[:_SNIFF_BYTES]
    if len(text) > _SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    lines = [line for line in sample.splitlines() if line.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS)
    except csv.Error:
        pass
    header = lines[0] if lines else ""
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return _Separated(best if counts[best] else ",")


class _Separated(csv.Dialect):
    """Excel's dialect with another delimiter."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.quotechar = '"'
        self.doublequote = True
        self.skipinitialspace = False
        self.lineterminator = "\r\n"
        self.quoting = csv.QUOTE_MINIMAL
        super().__init__()


def _records(text: str) -> list[list[str]]:
    """Every record of the file (at most MAX_ROWS after the header)."""
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    records: list[list[str]] = []
    try:  # a cell over csv's own limit (128 KiB) is a csv.Error too: no contact list has one
        for record in reader:
            if len(records) > MAX_ROWS:
                raise BulkRefused(
                    f"The file has more than {MAX_ROWS:,} rows; a bulk send takes at most "
                    f"{MAX_ROWS:,}. Split it into smaller files."
                )
            records.append(record)
    except csv.Error as error:
        raise BulkRefused(
            f"That file cannot be read as CSV (line {reader.line_num}: {error}). Check its "
            "quotes, or save it again as CSV."
        ) from None
    return records


def _number_column(headers: Sequence[str], to_column: str | None) -> int:
    keys = [field_key(header) for header in headers]
    if to_column is not None:
        wanted = field_key(to_column)
        if wanted in keys:
            return keys.index(wanted)
        raise BulkRefused(
            f"The file has no column named {to_column!r}; its columns are {_listed(headers)}."
        )
    for index, key in enumerate(keys):
        if key.replace("_", " ").replace("-", " ") in _NUMBER_KEYS:
            return index
    raise BulkRefused(
        "No column of the file holds the phone numbers: name one of them "
        f"{', '.join(NUMBER_HEADERS)} in the first row, or choose it (--to-column NAME). "
        f"Its first row is {_listed(headers)}."
    )


def _listed(headers: Sequence[str]) -> str:
    shown = [repr(header) for header in headers[:12]]
    more = f" and {len(headers) - 12} more" if len(headers) > 12 else ""
    return ", ".join(shown) + more if shown else "empty"


def read_csv(data: bytes, to_column: str | None = None) -> SourceRows:
    """The rows of a CSV file; BulkRefused for an empty file, one that is not a CSV, one over
    the limits, or one without a number column."""
    text = decode(data)
    if not text.strip():
        raise BulkRefused("The file is empty: it needs a header row and one row per recipient.")
    records = _records(text)
    header_at = next((i for i, record in enumerate(records) if any(c.strip() for c in record)), 0)
    headers = [cell.strip() for cell in records[header_at]]
    column = _number_column(headers, to_column)
    columns: dict[str, int] = {}
    for index, header in enumerate(headers):
        if header:
            columns.setdefault(header, index)
    rows = []
    for offset, record in enumerate(records[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in record):
            continue
        cells = {name: _cell(record, index) for name, index in columns.items()}
        rows.append(SourceRow(offset, _cell(record, column), cells))
    if not rows:
        raise BulkRefused("The file has a header row but no recipients under it.")
    return SourceRows(tuple(h for h in columns), tuple(rows))


def _cell(record: Sequence[str], index: int) -> str:
    return record[index].strip() if index < len(record) else ""


def read_entries(entries: Sequence[str]) -> SourceRows:
    """Pasted numbers or contact names, one row each (numbered from 1)."""
    typed = [entry.strip() for entry in entries if entry.strip()]
    if not typed:
        raise BulkRefused("There is no recipient: paste numbers or contact names.")
    if len(typed) > MAX_ROWS:
        raise BulkRefused(
            f"That is {len(typed):,} recipients; a bulk send takes at most {MAX_ROWS:,}."
        )
    return SourceRows((), tuple(SourceRow(i, raw, {}) for i, raw in enumerate(typed, start=1)))
