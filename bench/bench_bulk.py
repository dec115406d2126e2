"""A 10,000-recipient send through ClickatellClient against the sandbox: HTTP calls and time.

    .venv/bin/python bench/bench_bulk.py [--recipients N] [--in-process]

The client normalizes every number, encodes the text once, and posts chunks of at most 300
recipients (literal commas), each with its own climsgid; results come back in input order.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from bot.gateway.clickatell_http.client import ClickatellClient
from bot.sms.numbers import normalize_msisdn
from bot.testing.sandbox import running_sandbox


class CountingAdapter(HTTPAdapter):
    """Counts the HTTP calls per command on the client's own connection pool."""

    def __init__(self, calls: Counter[str]):
        super().__init__()
        self.calls = calls

    def send(self, request, *args, **kwargs):  # type: ignore[override]
        self.calls.update([request.path_url.rsplit("/", 1)[-1]])
        return super().send(request, *args, **kwargs)


TEXT = "Bulk benchmark: the quick brown fox jumps over the lazy dog"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--in-process", action="store_true", help="run the sandbox in-process")
    args = parser.parse_args()
    recipients = [f"+27 82 {1000000 + i:07d}" for i in range(args.recipients)]
    started = time.perf_counter()
    for number in recipients:
        normalize_msisdn(number)
    normalizing = time.perf_counter() - started
    with running_sandbox(args.in_process) as gateway:
        url = gateway.url
        calls: Counter[str] = Counter()
        session = requests.Session()
        session.mount("http://", CountingAdapter(calls))
        client = ClickatellClient(url, "bench", "bench", "bench", session=session, timeout=60)
        client.auth()
        calls.clear()
        started = time.perf_counter()
        result = client.send(recipients, TEXT)
        elapsed = time.perf_counter() - started
    accepted = sum(1 for m in result.messages if m.apimsgid and m.error is None)
    in_order = [m.to for m in result.messages] == [n.replace(" ", "")[1:] for n in recipients]
    where = "in this process" if args.in_process else "in a separate process"
    print(f"{args.recipients} recipients, one send() call, sandbox {where}")
    print(f"  HTTP calls:        {sum(calls.values())} ({dict(calls)})")
    print(f"  accepted:          {accepted}, results in input order: {in_order}")
    print(f"  chunk climsgids:   {len({m.climsgid for m in result.messages})}")
    print(f"  time:              {elapsed:.2f} s ({args.recipients / elapsed:,.0f} recipients/s)")
    print(f"  (validating the {args.recipients} numbers alone takes {normalizing:.2f} s)")


if __name__ == "__main__":
    main()
