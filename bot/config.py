"""Configuration from the environment (product.md §2).

`load_settings()` loads `.env` from the working directory first (never overriding variables that
are already set), then validates every variable. A missing or malformed setting raises
`ConfigError`, whose message is the one line start-up prints: the variable and what it must hold.
Secrets are never part of that message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

import phonenumbers
from dotenv import load_dotenv

from bot.domain.quiet_hours import BadQuietHours, QuietHours
from bot.storage.location import is_postgres_url

DEFAULT_BASE_URL = "https://api.clickatell.com"
DEFAULT_PLATFORM_URL = "https://platform.clickatell.com"
Integration = Literal["one", "rest", "http"]  # CLICKATELL_INTEGRATION: the API key's type
INTEGRATIONS: tuple[Integration, ...] = ("one", "rest", "http")
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_LOW_BALANCE = 10.0
# SMS_HELP_REPLY when unset: `{team}` becomes the Slack workspace's name.
DEFAULT_HELP_REPLY = "{team} texts you from Slack. Reply STOP to opt out, START to opt back in."


class ConfigError(Exception):
    def __init__(self, variable: str, requirement: str):
        self.variable = variable
        super().__init__(f"{variable} {requirement}")


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    sms_channel: str | None = None
    clickatell_api_id: str | None = None
    clickatell_user: str | None = None
    clickatell_password: str | None = None
    clickatell_api_key: str | None = None
    clickatell_integration: Integration = "one"
    clickatell_base_url: str = DEFAULT_BASE_URL
    clickatell_base_url_given: bool = False  # CLICKATELL_BASE_URL set, not the default
    clickatell_from: str | None = None
    clickatell_timeout: float = 10.0
    callback_user: str | None = None
    callback_password: str | None = None
    callback_token: str | None = None
    default_region: str | None = None
    max_parts: int = 3
    quiet_hours: QuietHours | None = None  # SMS_QUIET_HOURS: bulk and scheduled sends wait
    allowed_users: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()
    low_balance: float = DEFAULT_LOW_BALANCE  # credits; 0 turns the low-balance alert off
    help_reply: str = DEFAULT_HELP_REPLY  # texted back to HELP/INFO; "" sends nothing
    stop_reply: str = ""  # texted once to a number that opts out; "" sends nothing
    db_path: str = "./sms-bot.sqlite3"
    host: str = "127.0.0.1"
    port: int = 3000

    @property
    def uses_sandbox(self) -> bool:
        """No real account configured: the built-in sandbox gateway is used."""
        return not self.clickatell_api_id and not self.clickatell_api_key

    @property
    def uses_portal(self) -> bool:
        """A Clickatell Portal API key is configured: the Platform gateway is used."""
        return bool(self.clickatell_api_key)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def uses_postgres(self) -> bool:
        """SMS_BOT_DB is a PostgreSQL URL (several replicas may share it), not a SQLite file."""
        return is_postgres_url(self.db_path)

    @property
    def local_state_prefix(self) -> str:
        """Where files beside the database go (the gateway commands' sandbox state): next to a
        SQLite file, or in the working directory when the database is a server."""
        return "./sms-bot" if self.uses_postgres else self.db_path

    def secrets(self) -> list[str]:
        """Every configured secret, for scrubbing and for tests that scan logs."""
        values = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.clickatell_password,
            self.clickatell_api_key,
            self.callback_password,
            self.callback_token,
            _database_password(self.db_path),
        ]
        return [v for v in values if v]

    def require_serve(self) -> None:
        """Check what `serve` needs beyond what every command needs."""
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN", "is required for serve: the bot token (xoxb-…)")
        if not self.slack_bot_token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN", "must be a bot token starting with xoxb-")
        if not self.socket_mode and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET",
                "is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)",
            )
        if not self.sms_channel:
            raise ConfigError(
                "SMS_CHANNEL", "is required for serve: a channel ID such as C0123456789"
            )
        if self.uses_portal and not self.callback_token:
            raise ConfigError(
                "CLICKATELL_CALLBACK_TOKEN",
                "is required for serve with CLICKATELL_API_KEY: the secret the Portal's "
                "callback URLs carry as ?token=… (any long random text, e.g. from "
                "`openssl rand -hex 24`)",
            )
        if self.clickatell_api_id and not self.callback_password:
            raise ConfigError(
                "CLICKATELL_CALLBACK_PASSWORD",
                "is required for serve with a real gateway: the password callbacks must carry",
            )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _number(env: Mapping[str, str], name: str, default, kind, low, high, what: str):
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(name, f"must be {what}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be {what}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    raw = _text(env, name) or default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, "must be an http:// or https:// URL")
    return raw


def _user_ids(env: Mapping[str, str], name: str) -> frozenset[str]:
    ids = [item.strip() for item in env.get(name, "").split(",") if item.strip()]
    for user_id in ids:
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", user_id):
            raise ConfigError(name, "must be comma-separated Slack user IDs such as U0123ABCD")
    return frozenset(ids)


def _region(env: Mapping[str, str]) -> str | None:
    raw = _text(env, "SMS_DEFAULT_REGION")
    if raw is None:
        return None
    region = raw.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError("SMS_DEFAULT_REGION", "must be a two-letter region code such as ZA or GB")
    return region


def _quiet_hours(env: Mapping[str, str]) -> QuietHours | None:
    raw = _text(env, "SMS_QUIET_HOURS")
    try:
        return None if raw is None else QuietHours.parse(raw)
    except BadQuietHours as error:
        raise ConfigError("SMS_QUIET_HOURS", str(error)) from None


def _channel(env: Mapping[str, str]) -> str | None:
    raw = _text(env, "SMS_CHANNEL")
    if raw is not None and not re.fullmatch(r"[CGD][A-Z0-9]{2,}", raw):
        raise ConfigError("SMS_CHANNEL", "must be a channel ID such as C0123456789, not a name")
    return raw


def settings_from(env: Mapping[str, str]) -> Settings:
    """Validate a mapping of variables (no `.env` loading): the pure part, for tests."""
    api_id = _text(env, "CLICKATELL_API_ID")
    if api_id and not (_text(env, "CLICKATELL_USER") and _text(env, "CLICKATELL_PASSWORD")):
        raise ConfigError(
            "CLICKATELL_USER",
            "and CLICKATELL_PASSWORD are required when CLICKATELL_API_ID is set",
        )
    api_key = _text(env, "CLICKATELL_API_KEY")
    if api_key and api_id:
        raise ConfigError(
            "CLICKATELL_API_KEY",
            "and CLICKATELL_API_ID cannot both be set: use CLICKATELL_API_KEY for a Clickatell "
            "Portal account, or CLICKATELL_API_ID (with CLICKATELL_USER and CLICKATELL_PASSWORD) "
            "for a legacy HTTP API account",
        )
    base_url = _text(env, "CLICKATELL_BASE_URL")
    default_url = DEFAULT_PLATFORM_URL if api_key else DEFAULT_BASE_URL
    return Settings(
        slack_bot_token=_text(env, "SLACK_BOT_TOKEN"),
        slack_signing_secret=_text(env, "SLACK_SIGNING_SECRET"),
        slack_app_token=_app_token(env),
        slack_api_url=_url(env, "SLACK_API_URL", DEFAULT_SLACK_API_URL),
        sms_channel=_channel(env),
        clickatell_api_id=api_id,
        clickatell_user=_text(env, "CLICKATELL_USER"),
        clickatell_password=_text(env, "CLICKATELL_PASSWORD"),
        clickatell_api_key=api_key,
        clickatell_integration=_integration(env),
        clickatell_base_url=_url(env, "CLICKATELL_BASE_URL", default_url).rstrip("/"),
        clickatell_base_url_given=base_url is not None,
        clickatell_from=_sender(env),
        clickatell_timeout=_number(
            env, "CLICKATELL_TIMEOUT", 10.0, float, 0.1, 300, "a number of seconds (0.1 to 300)"
        ),
        callback_user=_text(env, "CLICKATELL_CALLBACK_USER"),
        callback_password=_text(env, "CLICKATELL_CALLBACK_PASSWORD"),
        callback_token=_token(env),
        default_region=_region(env),
        max_parts=_number(env, "SMS_MAX_PARTS", 3, int, 1, 255, "a whole number from 1 to 255"),
        quiet_hours=_quiet_hours(env),
        allowed_users=_user_ids(env, "SMS_ALLOWED_USERS"),
        admins=_user_ids(env, "SMS_ADMINS"),
        low_balance=_number(
            env,
            "SMS_LOW_BALANCE",
            DEFAULT_LOW_BALANCE,
            float,
            0,
            1e9,
            "a number of credits (0 turns the alert off)",
        ),
        help_reply=_reply_text(env, "SMS_HELP_REPLY", DEFAULT_HELP_REPLY),
        stop_reply=_reply_text(env, "SMS_STOP_REPLY", ""),
        db_path=_database(env),
        host=_text(env, "HOST") or "127.0.0.1",
        port=_number(env, "PORT", 3000, int, 0, 65535, "a port number (0 to 65535)"),
    )


def _reply_text(env: Mapping[str, str], name: str, default: str) -> str:
    """An automatic reply's text: unset gives `default`, set but empty turns the reply off."""
    if name not in env:
        return default
    text = " ".join(env[name].split())
    if any(ord(ch) < 32 for ch in env[name] if ch not in "\t\n\r"):
        raise ConfigError(name, "must be plain text (no control characters)")
    return text


def _database(env: Mapping[str, str]) -> str:
    """A SQLite path, or a PostgreSQL URL checked for shape here (its port) so a typo stops
    start-up with a line that names the variable; the value is never repeated, it may hold a
    password. Whether the server takes it is for start-up to find out."""
    raw = _text(env, "SMS_BOT_DB") or "./sms-bot.sqlite3"
    if not is_postgres_url(raw):
        return raw
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None:
        raise ConfigError(
            "SMS_BOT_DB",
            "must be a PostgreSQL URL such as postgresql://user:password@host:5432/database, "
            "or a SQLite file path",
        )
    return raw


def _database_password(location: str) -> str | None:
    """The password in a PostgreSQL URL (for scrubbing it from any message), if there is one."""
    if not is_postgres_url(location):
        return None
    try:
        password = urlsplit(location).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _integration(env: Mapping[str, str]) -> Integration:
    raw = (_text(env, "CLICKATELL_INTEGRATION") or "one").lower()
    for integration in INTEGRATIONS:
        if raw == integration:
            return integration
    raise ConfigError(
        "CLICKATELL_INTEGRATION",
        "must be one (One API), rest (SMS REST) or http (SMS HTTP): the type of the Portal "
        "integration the API key belongs to",
    )


def _token(env: Mapping[str, str]) -> str | None:
    """CLICKATELL_CALLBACK_TOKEN goes into URLs as it is: only characters a URL keeps."""
    token = _text(env, "CLICKATELL_CALLBACK_TOKEN")
    if token is not None and not re.fullmatch(r"[A-Za-z0-9._~-]+", token):
        raise ConfigError(
            "CLICKATELL_CALLBACK_TOKEN",
            "must be letters, digits and . _ ~ - only (it goes in a URL)",
        )
    return token


def _app_token(env: Mapping[str, str]) -> str | None:
    token = _text(env, "SLACK_APP_TOKEN")
    if token and not token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN", "must be an app-level token starting with xapp-")
    return token


def _sender(env: Mapping[str, str]) -> str | None:
    sender = _text(env, "CLICKATELL_FROM")
    if sender is None:
        return None
    digits = sender.lstrip("+")
    if not (re.fullmatch(r"\d{1,16}", digits) or re.fullmatch(r"[A-Za-z0-9 ]{1,11}", sender)):
        raise ConfigError(
            "CLICKATELL_FROM", "must be at most 16 digits or at most 11 letters and digits"
        )
    return digits if digits.isdigit() else sender


def load_settings(env: Mapping[str, str] | None = None, dotenv_path: str = ".env") -> Settings:
    """Load `.env` (without overriding the environment), then validate."""
    if env is None:
        load_dotenv(dotenv_path, override=False)
        env = os.environ
    return settings_from(env)
