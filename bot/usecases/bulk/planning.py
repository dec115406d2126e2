"""`prepare`: from a source to a stored plan, every check done before anything is sent.

Each row is checked in order and either planned (its message rendered exactly as it will be
sent, with its own client message ID) or skipped with a reason: an invalid number, a duplicate of
an earlier row, an opted-out number, or a message longer than SMS_MAX_PARTS. Over-long rows are
skipped, not the whole plan refused: personalised rows differ in length, and one long name
should not stop a thousand short messages; the preview counts them so the sender decides.

What refuses the whole plan (`BulkRefused`, nothing stored): input that cannot be read, a
template field that no column and no contact fills (named), a malformed template, and a plan in
which no row can be sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain import access
from bot.domain.bulk import NewBulk, NewBulkRow, RowState
from bot.domain.templates import CONTACT_FIELDS, TemplateError, contact_values, field_key, render
from bot.domain.templates import check_fields as check_template_fields
from bot.gateway.base import GatewayError
from bot.sms.encoding import TextTooLong, encode_text
from bot.sms.numbers import InvalidNumber, normalize_msisdn
from bot.sms.refusals import Refused
from bot.usecases.bulk.model import BulkPlan, BulkRefused, BulkRowPreview, BulkSkip, BulkSource
from bot.usecases.bulk.source import SourceRow, SourceRows, read_csv, read_entries
from bot.usecases.ports import AppPorts

PREVIEW_ROWS = 3
MAX_COVERAGE_CALLS = 20  # distinct prefixes asked about; the rest are estimated from them
COVERAGE_PREFIX = 5  # digits: country code and network prefix, what a price depends on
OPTED_OUT = "opted out"


@dataclass(frozen=True)
class _Checked:
    row: int
    to: str
    text: str
    parts: int
    encoding: str


def prepare(
    ports: AppPorts,
    source: BulkSource,
    text: str,
    *,
    starter: str,
    channel: str | None,
    store: bool = True,
) -> BulkPlan:
    """The checked plan, stored unless `store` is False (a dry run)."""
    settings = ports.settings
    if not access.may_use(settings.allowed_users, settings.admins, starter):
        raise BulkRefused(access.not_allowed_text(starter))
    if not text.strip():
        raise BulkRefused("The message is empty: type the text to send (it may use {fields}).")
    rows = _read(ports, source)
    _check_fields(text, rows)
    checked, skipped, counts = _check_rows(ports, rows, text)
    if not checked:
        raise BulkRefused(_nothing_to_send(skipped))
    planned = _planned_rows(ports, checked, skipped)
    worst = max(checked, key=lambda c: (c.parts, c.encoding == "ucs2"))
    plan = NewBulk(
        bulk_id=planned.bulk_id,
        starter=starter,
        channel=channel,
        text=text,
        parts=worst.parts,
        encoding="ucs2" if any(c.encoding == "ucs2" for c in checked) else "gsm7",
        credits_estimate=estimate_credits(ports, checked),
        rows=len(rows.rows),
        valid=len(checked),
        invalid=counts["invalid"],
        duplicates=counts["duplicates"],
        opted_out=counts["opted_out"],
    )
    if store:
        ports.storage.bulks.create(plan, planned.rows)
    return plan_of(plan, checked[:PREVIEW_ROWS], skipped)


def plan_of(plan: NewBulk, preview: Sequence[_Checked], skipped: Sequence[BulkSkip]) -> BulkPlan:
    return BulkPlan(
        plan_id=plan.bulk_id,
        rows=plan.rows,
        valid=plan.valid,
        invalid=plan.invalid,
        duplicates=plan.duplicates,
        opted_out=plan.opted_out,
        parts=plan.parts,
        encoding=plan.encoding,
        credits_estimate=plan.credits_estimate,
        preview=tuple(BulkRowPreview(c.row, c.to, c.text) for c in preview),
        skipped=tuple(skipped),
        text=plan.text,
        starter=plan.starter,
        channel=plan.channel,
    )


def _read(ports: AppPorts, source: BulkSource) -> SourceRows:
    given = [source.csv_bytes is not None, bool(source.numbers), source.group is not None]
    if sum(given) != 1:
        raise BulkRefused("Choose one source of recipients: a CSV file, a group or numbers.")
    if source.csv_bytes is not None:
        return read_csv(source.csv_bytes, source.to_column)
    if source.numbers:
        return read_entries(_groups_expanded(ports, source.numbers))
    group = ports.storage.groups.get(source.group or "")
    if group is None:
        raise BulkRefused(f"There is no group named {source.group!r}. See /sms groups.")
    if not group.members:
        raise BulkRefused(f"The group {group.name} has no members yet.")
    return read_entries(group.members)


def _groups_expanded(ports: AppPorts, typed: Sequence[str]) -> list[str]:
    """Pasted entries with each group name (that is not also a contact's) replaced by its
    members: a group name works wherever a recipient does."""
    entries: list[str] = []
    for raw in typed:
        name = raw.strip()
        group = None
        if _could_be_name(name) and ports.storage.contacts.get(name) is None:
            group = ports.storage.groups.get(name)
        entries += list(group.members) if group is not None else [raw]
    return entries


def _could_be_name(raw: str) -> bool:
    return bool(raw) and raw[0] not in "+0123456789("


def _check_fields(text: str, rows: SourceRows) -> None:
    try:
        check_template_fields(text, [*rows.columns, *CONTACT_FIELDS])
    except TemplateError as error:
        raise BulkRefused(f"{error} Nothing was sent.") from None


def _check_rows(
    ports: AppPorts, rows: SourceRows, text: str
) -> tuple[list[_Checked], list[BulkSkip], dict[str, int]]:
    region = ports.settings.default_region
    opted_out = {o.msisdn for o in ports.storage.opt_outs.all() if o.opted_out}
    numbers = {row.row: _number(ports, row, region) for row in rows.rows}
    valid = [n for n in numbers.values() if isinstance(n, str)]
    names = ports.storage.contacts.names_for(list(dict.fromkeys(valid))) if valid else {}
    first_row: dict[str, int] = {}
    checked: list[_Checked] = []
    skipped: list[BulkSkip] = []
    counts = {"invalid": 0, "duplicates": 0, "opted_out": 0}
    for row in rows.rows:
        number = numbers[row.row]
        if isinstance(number, InvalidNumber):
            counts["invalid"] += 1
            skipped.append(BulkSkip(row.row, row.number, f"invalid number: {_reason(number)}"))
            continue
        if number in first_row:
            counts["duplicates"] += 1
            skipped.append(BulkSkip(row.row, number, f"duplicate of row {first_row[number]}"))
            continue
        first_row[number] = row.row
        if number in opted_out:
            counts["opted_out"] += 1
            skipped.append(BulkSkip(row.row, number, OPTED_OUT))
            continue
        outcome = _message(row, number, names.get(number), text, ports.settings.max_parts)
        if isinstance(outcome, BulkSkip):
            skipped.append(outcome)
        else:
            checked.append(outcome)
    return checked, skipped, counts


def _number(ports: AppPorts, row: SourceRow, region: str | None) -> str | InvalidNumber:
    raw = row.number
    if _could_be_name(raw) and not row.cells:
        contact = ports.storage.contacts.get(raw)  # a pasted contact name
        if contact is not None:
            return contact.msisdn
    try:
        return normalize_msisdn(raw, region)
    except InvalidNumber as error:
        return error


def _reason(error: InvalidNumber) -> str:
    words = str(error)
    return words.split(": ", 1)[1] if ": " in words else words


def _message(
    row: SourceRow, number: str, name: str | None, text: str, max_parts: int
) -> _Checked | BulkSkip:
    values = {**contact_values(name), **{field_key(k): v for k, v in row.cells.items()}}
    try:
        message = render(text, values)
        encoded = encode_text(message, max_parts)
    except TextTooLong as error:
        return BulkSkip(row.row, number, f"too long: {error}")
    except (Refused, TemplateError) as error:
        return BulkSkip(row.row, number, f"cannot be sent: {error}")
    return _Checked(row.row, number, message, encoded.parts, encoded.encoding)


def _nothing_to_send(skipped: Sequence[BulkSkip]) -> str:
    first = "; ".join(f"row {s.row}: {s.reason}" for s in skipped[:3])
    return f"No row can be sent ({first}). Nothing was sent."


@dataclass(frozen=True)
class _Planned:
    bulk_id: str
    rows: list[NewBulkRow]


def _planned_rows(
    ports: AppPorts, checked: Sequence[_Checked], skipped: Sequence[BulkSkip]
) -> _Planned:
    """Every row to store, in row order, the sendable ones each with its own client ID (what a
    restart asks the gateway about, so no row is ever sent twice)."""
    bulk_id = secrets.token_hex(8)
    rows = [
        NewBulkRow(c.row, c.to, c.text, client_id(bulk_id, c.row), RowState.PENDING)
        for c in checked
    ]
    rows += [NewBulkRow(s.row, s.to, "", "", RowState.SKIPPED, s.reason) for s in skipped]
    return _Planned(bulk_id, sorted(rows, key=lambda r: r.row))


def client_id(bulk_id: str, row: int) -> str:
    """A row's client message ID: letters and digits, at most 32, unique per run and row."""
    return f"b{bulk_id}r{row}"


def estimate_credits(ports: AppPorts, checked: Iterable[_Checked]) -> float | None:
    """Legacy: the coverage charge of each row's number × its parts, asking the gateway once
    per number prefix (at most MAX_COVERAGE_CALLS prefixes; rows beyond them are priced at the
    average of those asked). None when the gateway cannot tell (the Portal) or does not answer."""
    if not ports.gateway.capabilities.coverage:
        return None
    charges: dict[str, float] = {}
    total = 0.0
    unpriced = 0  # parts of rows whose prefix was not asked about
    for row in checked:
        prefix = row.to[:COVERAGE_PREFIX]
        if prefix not in charges and len(charges) < MAX_COVERAGE_CALLS:
            try:
                coverage = ports.gateway.coverage(row.to)
            except GatewayError:
                return None
            charges[prefix] = coverage.charge if coverage.routable and coverage.charge else 0.0
        if prefix in charges:
            total += charges[prefix] * row.parts
        else:
            unpriced += row.parts
    if unpriced and charges:
        total += unpriced * sum(charges.values()) / len(charges)
    return round(total, 4)
