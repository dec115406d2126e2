"""`sms-bot serve` with a Clickatell Portal API key: the callback token is required, and the two
callback URLs to paste into the Portal are given once, token included, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.config import settings_from
from bot.gateway.clickatell_http.sandbox import SandboxServer
from bot.serve import main
from bot.testing.app import RunningApp
from bot.testing.signing import SECRET
from bot.testing.slack import FakeSlack

KEY = "the-portal-integration-key"
TOKEN = "callback-token-9d2e7f"


@pytest.fixture
def portal() -> Iterator[SandboxServer]:
    with SandboxServer(api_key=KEY) as sandbox:
        yield sandbox


def test_serve_with_an_api_key_and_no_token_is_one_line_naming_it(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token-value",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "SMS_CHANNEL": "C0ALERTS",
        "SMS_BOT_DB": str(tmp_path / "db.sqlite3"),
        "PORT": "0",
        "CLICKATELL_API_KEY": KEY,
    }
    assert main(settings_from(env)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sms-bot: CLICKATELL_CALLBACK_TOKEN")
    assert KEY not in err and slack.calls == []


def test_the_callback_urls_carry_the_token_and_only_they_do(
    make_app: Callable[..., RunningApp], portal: SandboxServer
) -> None:
    app = make_app(
        env={
            "CLICKATELL_API_KEY": KEY,
            "CLICKATELL_BASE_URL": portal.url,
            "CLICKATELL_CALLBACK_TOKEN": TOKEN,
            "CLICKATELL_INTEGRATION": "rest",
        }
    )
    line = app.runtime.describe()
    assert portal.url in line and "Clickatell Portal, SMS REST" in line
    assert TOKEN not in line and KEY not in line
    urls = app.runtime.portal_callbacks()
    assert urls is not None and "\n" not in urls
    assert f"{app.url}/clickatell/status?token={TOKEN}" in urls
    assert f"{app.url}/clickatell/mo?token={TOKEN}" in urls
    assert KEY not in urls
    assert app.services.gateway.balance().currency == "ZAR"  # the real client, not a sandbox


def test_no_urls_to_paste_without_a_portal(app: RunningApp) -> None:
    assert app.runtime.portal_callbacks() is None
