"""PostgreSQL only: `sms-bot serve` pointed at a database it cannot use stops with one line that
names SMS_BOT_DB and never prints the password, before it contacts Slack."""

from __future__ import annotations

import pytest

from bot.config import settings_from
from bot.serve import main
from tests.support.postgres import PASSWORD, ThrowawayCluster, free_loopback_port


def _serve_with(database: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-token-value",
        "SLACK_SIGNING_SECRET": "signing-secret-value",
        "SLACK_API_URL": f"http://127.0.0.1:{free_loopback_port()}/api/",  # never reached
        "SMS_CHANNEL": "C0ALERTS",
        "SMS_BOT_DB": database,
        "PORT": "0",
    }


@pytest.mark.parametrize("problem", ["wrong password", "refused", "malformed"])
def test_an_unusable_postgres_database_is_one_line_without_the_password(
    postgres_cluster: ThrowawayCluster,
    postgres_url: str,
    capsys: pytest.CaptureFixture[str],
    problem: str,
) -> None:
    secret = "Pa55-w0rd-Never-Printed"
    database = postgres_url.rsplit("/", 1)[1]
    url = {
        "wrong password": postgres_cluster.url(database, password=secret),
        "refused": f"postgresql://sms:{secret}@127.0.0.1:{free_loopback_port()}/{database}",
        "malformed": f"postgresql://sms:{secret}%zz@127.0.0.1:{postgres_cluster.port}/x",
    }[problem]
    assert main(settings_from(_serve_with(url))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sms-bot: SMS_BOT_DB: ")
    assert secret not in err and PASSWORD not in err
    assert "postgresql://sms" in err or "sms_bot_test@127.0.0.1" in err  # names the database
