import pytest

from bot.config import ConfigError, settings_from


def test_defaults_use_the_sandbox():
    settings = settings_from({})
    assert settings.uses_sandbox
    assert settings.clickatell_timeout == 10.0
    assert settings.max_parts == 3
    assert (settings.host, settings.port) == ("127.0.0.1", 3000)
    assert settings.low_balance == 10.0


def test_low_balance_is_a_setting() -> None:
    assert settings_from({"SMS_LOW_BALANCE": "2.5"}).low_balance == 2.5
    assert settings_from({"SMS_LOW_BALANCE": "0"}).low_balance == 0.0  # the alert is off


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SMS_MAX_PARTS": "zero"}, "SMS_MAX_PARTS"),
        ({"SMS_MAX_PARTS": "0"}, "SMS_MAX_PARTS"),
        ({"PORT": "70000"}, "PORT"),
        ({"CLICKATELL_TIMEOUT": "-1"}, "CLICKATELL_TIMEOUT"),
        ({"SMS_DEFAULT_REGION": "XX"}, "SMS_DEFAULT_REGION"),
        ({"SMS_ALLOWED_USERS": "alice"}, "SMS_ALLOWED_USERS"),
        ({"SMS_CHANNEL": "#general"}, "SMS_CHANNEL"),
        ({"SLACK_APP_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
        ({"CLICKATELL_BASE_URL": "ftp://x"}, "CLICKATELL_BASE_URL"),
        ({"CLICKATELL_API_ID": "123"}, "CLICKATELL_USER"),
        ({"SMS_LOW_BALANCE": "lots"}, "SMS_LOW_BALANCE"),
        ({"SMS_LOW_BALANCE": "-1"}, "SMS_LOW_BALANCE"),
        ({"SMS_LOW_BALANCE": "nan"}, "SMS_LOW_BALANCE"),
        ({"SMS_LOW_BALANCE": "inf"}, "SMS_LOW_BALANCE"),
        ({"CLICKATELL_INTEGRATION": "smpp"}, "CLICKATELL_INTEGRATION"),
        ({"CLICKATELL_CALLBACK_TOKEN": "a b&c"}, "CLICKATELL_CALLBACK_TOKEN"),
        (
            {
                "CLICKATELL_API_KEY": "k",
                "CLICKATELL_API_ID": "1",
                "CLICKATELL_USER": "u",
                "CLICKATELL_PASSWORD": "p",
            },
            "CLICKATELL_API_KEY",
        ),
    ],
)
def test_malformed_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        settings_from(env)
    assert str(caught.value).startswith(variable + " ")


def test_serve_requirements_never_echo_secrets():
    settings = settings_from(
        {"SLACK_BOT_TOKEN": "xoxb-secret-value", "SLACK_SIGNING_SECRET": "s3cret"}
    )
    with pytest.raises(ConfigError) as caught:
        settings.require_serve()
    assert caught.value.variable == "SMS_CHANNEL"
    assert "secret" not in str(caught.value).lower().replace("xoxb-…", "")


def test_real_gateway_needs_callback_password_for_serve():
    settings = settings_from(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "SMS_CHANNEL": "C123",
            "CLICKATELL_API_ID": "1",
            "CLICKATELL_USER": "u",
            "CLICKATELL_PASSWORD": "p",
        }
    )
    with pytest.raises(ConfigError) as caught:
        settings.require_serve()
    assert caught.value.variable == "CLICKATELL_CALLBACK_PASSWORD"


def test_a_postgresql_url_is_a_database_not_a_file_path() -> None:
    for url in ("postgresql://bot:pw@db:5432/sms", "postgres://bot@db/sms", "postgresql:///sms"):
        settings = settings_from({"SMS_BOT_DB": url})
        assert settings.db_path == url and settings.uses_postgres
        assert settings.local_state_prefix == "./sms-bot"  # not a "file" beside a URL
    sqlite = settings_from({"SMS_BOT_DB": "/var/lib/sms-bot/db.sqlite3"})
    assert not sqlite.uses_postgres and sqlite.local_state_prefix == "/var/lib/sms-bot/db.sqlite3"


def test_the_database_password_is_a_secret_and_never_echoed() -> None:
    settings = settings_from({"SMS_BOT_DB": "postgresql://bot:S3cr%40t-pw@db:5432/sms"})
    assert "S3cr@t-pw" in settings.secrets()
    with pytest.raises(ConfigError) as caught:
        settings_from({"SMS_BOT_DB": "postgresql://bot:S3cr3t-pw@db:port/sms"})
    assert str(caught.value).startswith("SMS_BOT_DB ")
    assert "S3cr3t" not in str(caught.value)


def test_an_api_key_means_the_portal_at_its_own_default_url():
    settings = settings_from({"CLICKATELL_API_KEY": "key", "CLICKATELL_INTEGRATION": "REST"})
    assert settings.uses_portal and not settings.uses_sandbox
    assert settings.clickatell_integration == "rest"
    assert settings.clickatell_base_url == "https://platform.clickatell.com"
    assert not settings.clickatell_base_url_given
    assert settings_from({"CLICKATELL_API_KEY": "key"}).clickatell_integration == "one"
    given = settings_from({"CLICKATELL_API_KEY": "k", "CLICKATELL_BASE_URL": "http://x:1/"})
    assert (given.clickatell_base_url, given.clickatell_base_url_given) == ("http://x:1", True)


def test_both_kinds_of_account_name_both_variables():
    env = {
        "CLICKATELL_API_KEY": "k",
        "CLICKATELL_API_ID": "1",
        "CLICKATELL_USER": "u",
        "CLICKATELL_PASSWORD": "p",
    }
    with pytest.raises(ConfigError) as caught:
        settings_from(env)
    assert "CLICKATELL_API_KEY" in str(caught.value) and "CLICKATELL_API_ID" in str(caught.value)


def test_serve_with_an_api_key_needs_the_callback_token_and_never_echoes_it():
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "SMS_CHANNEL": "C123",
        "CLICKATELL_API_KEY": "the-portal-key-value",
    }
    with pytest.raises(ConfigError) as caught:
        settings_from(env).require_serve()
    assert caught.value.variable == "CLICKATELL_CALLBACK_TOKEN"
    assert "the-portal-key-value" not in str(caught.value)
    with_token = settings_from({**env, "CLICKATELL_CALLBACK_TOKEN": "tok-123"})
    with_token.require_serve()  # no callback password needed: the Portal sends the token
    assert {"the-portal-key-value", "tok-123"} <= set(with_token.secrets())


def test_automatic_replies_default_set_and_off() -> None:
    default = settings_from({})
    assert "{team}" in default.help_reply and "STOP" in default.help_reply
    assert default.stop_reply == ""
    chosen = settings_from({"SMS_HELP_REPLY": " Call  us ", "SMS_STOP_REPLY": "Bye."})
    assert (chosen.help_reply, chosen.stop_reply) == ("Call us", "Bye.")
    assert settings_from({"SMS_HELP_REPLY": ""}).help_reply == ""  # set but empty: no reply
