"""Secrets never appear in logs or error messages (product.md §2).

A full run of the real app with every secret configured to a distinctive value: a real-gateway
configuration (the sandbox behind a scripted proxy that makes the first two `auth` calls fail),
slash commands, a card post Slack refuses, Slack answering 503 for a while, callbacks with the
right and the wrong credentials, a forged Slack request, an inbound SMS and a thread reply
texted back. Everything the run produced is collected — every log record at DEBUG level and
above (tracebacks included), stdout and stderr, every HTTP answer of the app, and every call
Slack received (the messages people see) — and scanned for each of `settings.secrets()`, also
in the encodings a leak would take (URL-encoded, in a basic-auth header)."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from bot.config import settings_from
from bot.gateway.clickatell_http.sandbox import SandboxServer
from bot.serve import main
from bot.testing.app import INBOUND, RunningApp
from bot.testing.callbacks import get, mo_params, post, status_params
from bot.testing.gateway import ScriptedGateway
from bot.testing.signing import SlackRequest, event_callback, signed_headers, slash_command
from bot.testing.slack import FakeSlack
from bot.testing.waiting import wait_for

BOT_TOKEN = "xoxb-7fa3c91e-SECRET-bot-token-55d0"
SIGNING_SECRET = "signing-SECRET-b8e4f0a2c6d19e37"
GATEWAY_PASSWORD = "gw-Pa55/word+SECRET&c3"  # characters that change when URL-encoded
CALLBACK_USER = "clickatell"
CALLBACK_PASSWORD = "cb-SECRET-1e9d7c55aa02"
API_ID = "3141592"
GATEWAY_USER = "acme-sms"
ADMIN = "U0ADMIN"
ECHO = "27825550103"


@pytest.fixture
def gateway() -> Iterator[tuple[SandboxServer, ScriptedGateway]]:
    """The sandbox as a real account (only these credentials), behind a proxy whose first two
    `auth` answers are 001: the balance watcher's check at start-up, then a command, fail."""
    sandbox = SandboxServer(api_id=API_ID, user=GATEWAY_USER, password=GATEWAY_PASSWORD)
    sandbox.start()
    proxy = ScriptedGateway(upstream=sandbox.url)
    proxy.on("auth", "ERR: 001, Authentication failed", "ERR: 001, Authentication failed")
    try:
        yield sandbox, proxy
    finally:
        proxy.close()
        sandbox.stop()


class Run:
    """The app, and everything it said over HTTP."""

    def __init__(self, app: RunningApp) -> None:
        self.app = app
        self.answers: list[str] = []
        self._ids = 0

    def command(self, text: str) -> str:
        self._ids += 1
        name = f"cmd{self._ids}"
        request = slash_command(
            text, user_id=ADMIN, trigger_id=name, response_url=self.app.fake.response_url(name)
        )
        self.keep(self.signed(request))
        found = self.app.fake.wait_for_call("response_url", lambda c: c.path.endswith("/" + name))
        return json.dumps(found[0].params, ensure_ascii=False)

    def signed(self, request: SlackRequest) -> requests.Response:
        headers = request.headers(SIGNING_SECRET)
        return self.app.http.post(
            self.app.url + "/slack/events", data=request.body, headers=headers
        )

    def keep(self, answer: requests.Response) -> requests.Response:
        self.answers.append(f"{answer.status_code} {answer.headers} {answer.text}")
        return answer


def _leak_forms(secret: str, user: str | None) -> list[str]:
    forms = {secret, quote(secret, safe=""), quote(secret), quote(secret, safe="").lower()}
    if user is not None:
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return sorted(forms)


def test_no_secret_in_logs_output_or_messages(
    gateway: tuple[SandboxServer, ScriptedGateway],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _, proxy = gateway
    caplog.set_level(logging.DEBUG)
    env = {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "CLICKATELL_API_ID": API_ID,
        "CLICKATELL_USER": GATEWAY_USER,
        "CLICKATELL_PASSWORD": GATEWAY_PASSWORD,
        "CLICKATELL_BASE_URL": proxy.url,
        "CLICKATELL_CALLBACK_USER": CALLBACK_USER,
        "CLICKATELL_CALLBACK_PASSWORD": CALLBACK_PASSWORD,
        "SMS_ADMINS": ADMIN,
    }
    with FakeSlack() as slack:
        slack.fail("chat.postMessage", error="invalid_auth")  # the first card is refused
        options = dataclasses.replace(INBOUND, env=env)
        app = RunningApp(slack, tmp_path, options)  # balance watcher on
        run = Run(app)
        try:
            _full_run(run, slack, proxy)
        finally:
            app.stop()
        slack_seen = [json.dumps(c.params, ensure_ascii=False) for c in slack.calls]
        settings = app.services.settings

    output = capfd.readouterr()
    corpus = "\n".join([caplog.text, output.out, output.err, *run.answers, *slack_seen])
    # The run did what it is meant to: failures were logged and told, at DEBUG level too.
    assert "balance check failed" in caplog.text
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert "did not accept the login" in corpus
    assert set(settings.secrets()) == {
        BOT_TOKEN,
        SIGNING_SECRET,
        GATEWAY_PASSWORD,
        CALLBACK_PASSWORD,
    }
    users = {GATEWAY_PASSWORD: GATEWAY_USER, CALLBACK_PASSWORD: CALLBACK_USER}
    for secret in settings.secrets():
        for form in _leak_forms(secret, users.get(secret)):
            where = corpus.find(form)
            assert where < 0, f"secret leaked as {form!r}: …{corpus[max(0, where - 200) : where]}"


def _full_run(run: Run, slack: FakeSlack, proxy: ScriptedGateway) -> None:
    app = run.app
    wait_for(lambda: proxy.calls("auth"), what="the balance watcher's failing auth")

    # A command meets the second failing auth; the next one goes through.
    assert "did not accept the login" in run.command("balance")
    assert "Credit" in run.command("balance")

    # A send whose card Slack refuses (invalid_auth): the person is told, the SMS goes out.
    told = run.command(f"send {ECHO} Hello there")
    assert "could not post the card" in told.lower()
    send = wait_for(
        lambda: (s := app.storage.sends.get(1)) and s.recipients[0].apimsgid and s,
        what="the send's result",
    )
    apimsgid = send.recipients[0].apimsgid

    # Slack down for a while, then callbacks: right credentials, wrong password, wrong account.
    slack.fail("chat.postMessage", status=503, times=2)
    auth = (CALLBACK_USER, CALLBACK_PASSWORD)
    url = app.url + "/clickatell/"
    good = status_params(apimsgid, "004", api_id=API_ID)
    assert run.keep(post(app.http, url + "status", good, auth)).status_code == 200
    mo = mo_params("mo-secret-1", "27821234567", "Who is this?", api_id=API_ID)
    assert run.keep(post(app.http, url + "mo", mo, auth)).status_code == 200
    wrong = (CALLBACK_USER, "not-the-password")
    assert run.keep(get(app.http, url + "status", good, wrong)).status_code == 401
    other = status_params(apimsgid, "004", api_id="999")
    assert run.keep(post(app.http, url + "status", other, auth)).status_code == 403
    assert (
        run.keep(post(app.http, url + "mo", {"api_id": API_ID, "from": "x"}, auth)).status_code
        == 400
    )

    # A forged Slack request (signed with another secret).
    forged = slash_command("balance", response_url=app.fake.response_url("forged"))
    headers = signed_headers("guessed-secret", forged.body)
    answer = app.http.post(app.url + "/slack/events", data=forged.body, headers=headers)
    assert run.keep(answer).status_code == 401

    # The inbound SMS starts a conversation; a reply in its thread is texted back.
    (root_ts,) = wait_for(
        lambda: [ts for (ch, ts) in app.fake.messages if ch == "C0SMS"], what="the conversation"
    )
    reply = event_callback(
        {
            "type": "message",
            "channel": "C0SMS",
            "user": ADMIN,
            "text": "It is the SMS desk",
            "ts": "1800000000.000001",
            "thread_ts": root_ts,
        },
        event_id="Ev0SECRET",
    )
    assert run.keep(run.signed(reply)).status_code == 200
    wait_for(
        lambda: any(r.form().get("text") == b"It is the SMS desk" for r in proxy.calls("sendmsg")),
        what="the thread reply at the gateway",
    )

    # An admin command the gateway refuses, and the health check.
    run.command("redeem 0000000000000000")
    run.keep(requests.get(app.url + "/healthz", timeout=10))
    # (The refused card's updates wait for a card that never came; they are not waited for.)
    wait_for(lambda: not app.storage.inbox.unprocessed(limit=1), what="the callbacks processed")


APP_TOKEN = "xapp-1-A0SMS-SECRET-app-token-9b2f"


@pytest.mark.parametrize("failing", ["auth.test", "apps.connections.open"])
def test_no_secret_when_start_up_fails_in_socket_mode(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    failing: str,
) -> None:
    """Slack refusing the bot token or the app-level token stops start-up with one line; neither
    it nor the log holds any secret (the app token is only used in Socket Mode)."""
    caplog.set_level(logging.DEBUG)
    with FakeSlack() as slack:
        slack.fail(failing, error="invalid_auth")
        settings = settings_from(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_APP_TOKEN": APP_TOKEN,
                "SLACK_API_URL": slack.api_url,
                "SMS_CHANNEL": "C0SMS",
                "CLICKATELL_PASSWORD": GATEWAY_PASSWORD,
                "CLICKATELL_CALLBACK_PASSWORD": CALLBACK_PASSWORD,
                "SMS_BOT_DB": str(tmp_path / "db.sqlite3"),
                "PORT": "0",
            }
        )
        assert main(settings) != 0
        assert slack.calls_to(failing)
    output = capfd.readouterr()
    assert output.err.startswith("sms-bot: SLACK_")
    corpus = "\n".join([caplog.text, output.out, output.err])
    assert APP_TOKEN in settings.secrets()
    for secret in settings.secrets():
        for form in _leak_forms(secret, None):
            assert form not in corpus, f"secret leaked as {form!r}"
