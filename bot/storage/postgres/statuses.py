"""A batch of delivery reports applied in three statements, whatever its size: the inbox
worker's hot path.

Applying reports one by one costs two round trips each (find and lock the recipient, write it);
on a server that is a network hop away that, not the work, limits how fast a burst of callbacks
is processed. Here every recipient any report can match is read and locked at once (in id
order, so two batches never deadlock), the reports are applied in order in memory exactly as
one-by-one application would (the forward-only rule is the domain's `moves_forward`; a report
that fills a missing apimsgid makes later reports with that apimsgid match it), and the
recipients that changed are written back in one statement.

A report naming no number (the Portal's One API) matches by its client ID alone when exactly one
recipient has it, as `find_recipient` does; any report settles an unknown outcome
(`SETTLED_BY_A_REPORT`), as `update_status` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import bot.storage.postgres.rows as rows
from bot.domain.delivery import SETTLED_BY_A_REPORT, moves_forward
from bot.domain.records import StatusApplied, StatusUpdate
from bot.storage.postgres.database import Connection

_CANDIDATES = """
    SELECT id, send_id, apimsgid, climsgid, msisdn, status, state, status_progress,
           status_words, status_at, charge, error_code, error_description
    FROM recipients
    WHERE apimsgid = ANY(%(apimsgids)s::text[])
       OR (climsgid, msisdn) IN (
           SELECT * FROM unnest(%(climsgids)s::text[], %(msisdns)s::text[]))
       OR climsgid = ANY(%(solo)s::text[])
    ORDER BY id
    FOR UPDATE"""

_WRITE = """
    UPDATE recipients r SET status = u.status, state = u.state, status_progress = u.progress,
        status_words = u.words, status_at = u.at, charge = u.charge, apimsgid = u.apimsgid,
        error_code = u.error_code, error_description = u.error_description
    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::text[],
                %s::timestamptz[], %s::float8[], %s::text[], %s::text[], %s::text[])
         AS u (id, status, state, progress, words, at, charge, apimsgid, error_code,
               error_description)
    WHERE r.id = u.id"""


@dataclass
class _Recipient:
    """One recipient's status columns as the batch leaves them."""

    id: int
    send_id: int
    apimsgid: str | None
    status: str | None
    state: str | None
    progress: int | None
    words: str | None
    at: datetime | None
    charge: float | None
    error_code: str | None
    error_description: str | None
    touched: bool = False


def apply_reports(conn: Connection, reports: Sequence[StatusUpdate]) -> list[StatusApplied | None]:
    """`find_recipient` + `update_status` for each report, in order, in the caller's unit."""
    if not reports:
        return []
    found = conn.execute(_CANDIDATES, _candidate_keys(reports)).fetchall()
    recipients = {row["id"]: _recipient(row) for row in found}
    by_apimsgid: dict[str, int] = {}
    by_client: dict[tuple[str, str], int] = {}
    by_climsgid: dict[str, list[int]] = {}
    for row in found:  # in id order: the newest recipient of a key wins, as find_recipient's
        if row["apimsgid"]:
            by_apimsgid[row["apimsgid"]] = row["id"]
        by_client[(row["climsgid"], row["msisdn"])] = row["id"]
        by_climsgid.setdefault(row["climsgid"], []).append(row["id"])
    results: list[StatusApplied | None] = []
    for report in reports:
        match = by_apimsgid.get(rows.nul_free(report.apimsgid)) if report.apimsgid else None
        if match is None and report.climsgid and report.msisdn:
            match = by_client.get((rows.nul_free(report.climsgid), rows.nul_free(report.msisdn)))
        elif match is None and report.climsgid:
            # No number: the client ID names a recipient only when exactly one has it.
            owners = by_climsgid.get(rows.nul_free(report.climsgid), [])
            match = owners[0] if len(owners) == 1 else None
        if match is None:
            results.append(None)
            continue
        recipient = recipients[match]
        changed = _apply(recipient, report)
        filled = rows.nul_free(recipient.apimsgid or "")
        if filled and filled not in by_apimsgid:
            by_apimsgid[filled] = recipient.id  # filled by this report
        results.append(StatusApplied(recipient.id, recipient.send_id, changed))
    _write(conn, [r for r in recipients.values() if r.touched])
    return results


def _candidate_keys(reports: Sequence[StatusUpdate]) -> dict[str, list[str]]:
    pairs = [(r.climsgid, r.msisdn) for r in reports if r.climsgid and r.msisdn]
    return {
        "apimsgids": sorted({r.apimsgid for r in reports if r.apimsgid}),
        "climsgids": [climsgid for climsgid, _ in pairs],
        "msisdns": [msisdn for _, msisdn in pairs],
        # every recipient of a client ID a report without a number names, to count its owners
        "solo": sorted({r.climsgid for r in reports if r.climsgid and not r.msisdn}),
    }


def _recipient(row: rows.Row) -> _Recipient:
    return _Recipient(
        id=row["id"],
        send_id=row["send_id"],
        apimsgid=row["apimsgid"],
        status=row["status"],
        state=row["state"],
        progress=row["status_progress"],
        words=row["status_words"],
        at=row["status_at"],
        charge=row["charge"],
        error_code=row["error_code"],
        error_description=row["error_description"],
    )


def _apply(recipient: _Recipient, report: StatusUpdate) -> bool:
    """What `update_status` writes: the status only if it moves forward, a charge whenever
    given, an apimsgid only where none is known, an unknown outcome settled. Returns whether the
    status changed."""
    forward = moves_forward(recipient.progress, report.status)
    if forward:
        recipient.status = report.status.code
        recipient.state = report.status.state.value
        recipient.progress = report.status.progress
        recipient.words = report.status.words
        recipient.at = rows.as_utc(report.at)
    if report.charge is not None:
        recipient.charge = report.charge
    if recipient.apimsgid is None and report.apimsgid:
        recipient.apimsgid = report.apimsgid
    if recipient.error_code in SETTLED_BY_A_REPORT:
        recipient.error_code = recipient.error_description = None
    recipient.touched = True
    return forward


def _write(conn: Connection, touched: list[_Recipient]) -> None:
    if not touched:
        return
    columns = zip(
        *(
            (
                r.id,
                r.status,
                r.state,
                r.progress,
                r.words,
                r.at,
                r.charge,
                r.apimsgid,
                r.error_code,
                r.error_description,
            )
            for r in touched
        ),
        strict=True,
    )
    conn.execute(_WRITE, [list(column) for column in columns])
