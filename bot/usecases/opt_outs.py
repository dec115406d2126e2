"""Admins' opt-out commands (product.md §5): opting a number out or in by hand, and the list of
opted-out numbers with who, when and how, also as CSV text."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.domain.keywords import ADMIN_CHANGE, GATEWAY_OPT_OUT
from bot.domain.records import OptOut
from bot.sms.numbers import normalize_msisdn
from bot.storage import Storage
from bot.usecases.opt_out_cancels import record_opt_out

CSV_COLUMNS = ("number", "contact", "opted_out_at_utc", "how", "by")


@dataclass(frozen=True)
class OptChange:
    msisdn: str
    changed: bool  # False: it already was in that state


@dataclass(frozen=True)
class OptedOutLine:
    msisdn: str
    contact_name: str | None
    at: datetime
    how: str  # in plain words
    by: str | None  # the admin, when one did it


def opt_out_by_admin(
    storage: Storage, settings: Settings, number: str, admin: str, at: datetime
) -> OptChange:
    msisdn = normalize_msisdn(number, settings.default_region)
    return OptChange(msisdn, record_opt_out(storage, msisdn, ADMIN_CHANGE, at=at, by=admin))


def opt_in_by_admin(
    storage: Storage, settings: Settings, number: str, admin: str, at: datetime
) -> OptChange:
    msisdn = normalize_msisdn(number, settings.default_region)
    return OptChange(msisdn, storage.opt_outs.opt_in(msisdn, ADMIN_CHANGE, at=at, by=admin))


def how_words(record: OptOut) -> str:
    """How a number opted out: the phone's keyword, the gateway's code, or an admin."""
    if record.keyword == GATEWAY_OPT_OUT:
        return "the gateway refused a send: opted out with Clickatell (code 122 / 26)"
    if record.keyword == ADMIN_CHANGE:
        return "an admin's /sms optout"
    return f"texted {record.keyword}"


def opted_out_lines(storage: Storage) -> list[OptedOutLine]:
    """Every number out now, the most recent first."""
    records = [r for r in storage.opt_outs.all() if r.opted_out]
    records.sort(key=lambda r: (r.changed_at, r.msisdn), reverse=True)
    names = storage.contacts.names_for([r.msisdn for r in records])
    return [
        OptedOutLine(r.msisdn, names.get(r.msisdn), r.changed_at, how_words(r), r.changed_by)
        for r in records
    ]


def opted_out_csv(lines: list[OptedOutLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        when = line.at.strftime("%Y-%m-%d %H:%M:%S")
        writer.writerow(["+" + line.msisdn, line.contact_name or "", when, line.how, line.by or ""])
    return out.getvalue()
