"""`sms-bot serve` start-up: configuration errors, the start-up line, the listener."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
import requests

from bot.config import settings_from
from bot.serve import (
    EXIT_CONFIG,
    EXIT_RETRY,
    HttpServer,
    _exit_status,
    _scrub,
    _startup_problem,
    main,
)
from bot.testing.app import AppOptions, RunningApp
from bot.testing.signing import SECRET
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for


def _env(fake: FakeSlack, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-test-token-value",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "SMS_CHANNEL": "C0ALERTS",
        "SMS_BOT_DB": str(tmp_path / "db.sqlite3"),
        "PORT": "0",
        **extra,
    }


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        ("SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        ("SMS_CHANNEL", "SMS_CHANNEL"),
    ],
)
def test_missing_setting_is_one_line_naming_it(
    slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    missing: str,
    variable: str,
) -> None:
    env = _env(slack, tmp_path)
    del env[missing]
    assert main(settings_from(env)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"sms-bot: {variable}")
    assert slack.calls == []  # stopped before contacting Slack


def test_unusable_database_is_one_line_naming_sms_bot_db(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    env = _env(slack, tmp_path, SMS_BOT_DB=str(blocker / "db.sqlite3"))
    assert main(settings_from(env)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sms-bot: SMS_BOT_DB")


def test_rejected_token_is_one_line_without_the_secret(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.fail("auth.test", error="invalid_auth")
    assert main(settings_from(_env(slack, tmp_path))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("sms-bot: SLACK_BOT_TOKEN")
    assert "xoxb-test-token-value" not in err and SECRET not in err


def test_port_in_use_is_one_line(
    slack: FakeSlack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holder = HttpServer("127.0.0.1", 0)
    try:
        env = _env(slack, tmp_path, PORT=str(holder.port))
        assert main(settings_from(env)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("sms-bot: HOST/PORT")
    finally:
        holder.stop()


def test_startup_line_names_mode_and_gateway(app: RunningApp) -> None:
    line = app.runtime.describe()
    assert "\n" not in line
    assert "HTTP mode" in line
    assert "sandbox" in line
    assert app.url in line
    for secret in app.settings.secrets():
        assert secret not in line


def test_sandbox_callbacks_point_at_this_app_with_generated_credentials(app: RunningApp) -> None:
    settings = app.services.settings
    assert settings.callback_user and settings.callback_password  # generated for the sandbox
    credentials = (settings.callback_user, settings.callback_password)
    url_check = requests.get(f"{app.url}/clickatell/status", auth=credentials, timeout=10)
    assert url_check.status_code == 200
    # The sandbox reports delivery to this app, which updates the card.
    app.command("send 27825550103 are you there?")

    def received() -> bool:
        updates = app.fake.calls_to("chat.update")
        return any("Received by recipient" in json.dumps(c.params) for c in updates)

    wait_for(received, 10, "the delivery report on the card")


def test_requests_before_the_app_is_ready_get_503() -> None:
    server = HttpServer("127.0.0.1", 0)
    try:
        server.serve(None)  # type: ignore[arg-type]  # listener up, app not assembled yet
        answer = requests.get(f"{server.url}/healthz", timeout=10)
        assert answer.status_code == 503
    finally:
        server.stop()


class _SocketModeStandIn:
    """Records how serve uses Bolt's SocketModeHandler (no websocket in tests)."""

    made: ClassVar[list[_SocketModeStandIn]] = []

    def __init__(self, app: object, app_token: str):
        self.app, self.app_token = app, app_token
        self.connected = self.started = self.closed = False
        _SocketModeStandIn.made.append(self)

    def connect(self) -> None:
        self.connected = True

    def start(self) -> None:  # would block serve's thread
        self.started = True

    def close(self) -> None:
        self.closed = True


def test_socket_mode_connects_and_keeps_http_for_callbacks_and_health(
    make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    import slack_bolt.adapter.socket_mode as socket_mode

    monkeypatch.setattr(socket_mode, "SocketModeHandler", _SocketModeStandIn)
    _SocketModeStandIn.made.clear()
    app = make_app(env={"SLACK_APP_TOKEN": "xapp-1-A0-123-abc", "SLACK_SIGNING_SECRET": ""})
    [handler] = _SocketModeStandIn.made
    assert handler.connected and not handler.started
    assert handler.app_token == "xapp-1-A0-123-abc"
    assert "Socket Mode" in app.runtime.describe()
    assert requests.get(f"{app.url}/healthz", timeout=10).status_code == 200
    assert requests.post(f"{app.url}/slack/events", data=b"x", timeout=10).status_code == 404
    app.stop()
    assert handler.closed


def test_unreachable_slack_is_one_line_naming_slack_api_url(
    slack: FakeSlack, tmp_path: Path
) -> None:
    closed = HttpServer("127.0.0.1", 0)  # a free port, then nobody listens on it
    port = closed.port
    closed.stop()
    unreachable = {"SLACK_API_URL": f"http://127.0.0.1:{port}/api/"}
    options = AppOptions(env={"SLACK_BOT_TOKEN": "xoxb-test-token-value", **unreachable})
    settings = settings_from(options.environment(slack.api_url, tmp_path))
    with pytest.raises(Exception) as failure:  # the harness's client retries without sleeping
        RunningApp(slack, tmp_path, options)
    line = _startup_problem(failure.value, settings)
    assert line.startswith("SLACK_API_URL: cannot reach Slack")
    assert "\n" not in line and "xoxb-test-token-value" not in line
    # Not a configuration error: a later attempt may work, so exit 1, not 2.
    assert _exit_status(failure.value) == EXIT_RETRY == 1


def test_slack_failing_at_start_up_exits_1_and_a_refused_token_2(
    slack: FakeSlack, tmp_path: Path
) -> None:
    options = AppOptions(env={"SLACK_BOT_TOKEN": "xoxb-test-token-value"})
    slack.fail("auth.test", status=503, times=5)  # more than the client's retries
    with pytest.raises(Exception) as failure:
        RunningApp(slack, tmp_path, options)
    assert _exit_status(failure.value) == EXIT_RETRY
    slack.clear_failures()
    slack.fail("auth.test", error="invalid_auth")
    with pytest.raises(Exception) as failure:
        RunningApp(slack, tmp_path, options)
    assert _exit_status(failure.value) == EXIT_CONFIG == 2


def test_scrub_removes_a_realistic_secret_wherever_it_appears() -> None:
    token, signing = "xoxb-1234-5678-AbCdEfGh", "8f14e45fceea167a5a36dedd4bea2543"
    settings = settings_from({"SLACK_BOT_TOKEN": token, "SLACK_SIGNING_SECRET": signing})
    text = f"POST ?token={token}&x=1 failed; header Bearer{token}; secret={signing}."
    scrubbed = _scrub(text, settings)
    assert token not in scrubbed and signing not in scrubbed
    assert scrubbed == "POST ?token=***&x=1 failed; header Bearer***; secret=***."


def test_scrub_leaves_words_alone_with_a_one_letter_secret() -> None:
    settings = settings_from({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    words = "SMS_LOW_BALANCE must be a number of credits"
    assert _scrub(words, settings) == words
    # Standing on its own it is still a secret, and still never printed.
    assert _scrub("signing secret 's' was refused", settings) == "signing secret '***' was refused"


def test_building_the_app_logs_no_bolt_token_warning(
    make_app: Callable[..., RunningApp],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As in production: the token is in the environment too, where Bolt looks for it.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token-value")
    with caplog.at_level(logging.WARNING):
        app = make_app()
    assert app.runtime.app.client.token == app.settings.slack_bot_token
    assert "will be unused" not in caplog.text, caplog.text
    # Only that message is dropped: the Bolt logger still reports everything else.
    with caplog.at_level(logging.WARNING):
        app.runtime.app.logger.warning("something else")
    assert "something else" in caplog.text
