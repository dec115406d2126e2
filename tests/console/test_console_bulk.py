"""A bulk send in `sms-bot console`: the form's file input takes a path (the file is shared with
the stand-in as Slack shares a picked file), the preview's Send is pressed like any button, and the
progress card and the result file show in the channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.test_console_pipe import ConsoleProcess, console  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def test_a_bulk_send_from_a_csv_file(console: ConsoleProcess, tmp_path: Path) -> None:  # noqa: F811
    people = tmp_path / "people.csv"
    people.write_text("number,name\n+27821234567,Ann\n+27821234568,Bob\n+27821234567,Ann again\n")
    console.expect(r"sms-bot console")
    console.send("/sms bulk")
    console.expect(r"opened a form: .*Bulk SMS")
    for answer in (str(people), "", "", "Hi {name}", ""):  # file, group, numbers, text, time
        console.send(answer)
    console.expect(r"\*?3 rows\*?: \*?2 to send\*? · 1 duplicate")
    console.expect(r"Hi Ann")
    send = console.expect(r"\[(\d+)\] Send 2 SMS").group(1)
    console.send(f"press {send}")
    console.send("y")
    console.expect(r"progress card is in")
    console.expect(r"Bulk SMS.* by ")
    console.send("wait 20")
    console.expect(r"bulk-.*-result\.csv|Result of the bulk send", timeout=60)
