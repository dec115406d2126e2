"""The one command grammar: slash text and command-line words, unit and property tests."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import grammar
from bot.grammar import (
    Balance,
    Cancel,
    Charge,
    Compose,
    ContactAdd,
    ContactRemove,
    Contacts,
    Coverage,
    Help,
    Log,
    Ping,
    Redeem,
    Send,
    Status,
    UsageError,
    parse_argv,
    parse_text,
)

NOW = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)


def text(value: str):
    return parse_text(value, now=NOW)


def argv(*words: str):
    return parse_argv(list(words), now=NOW)


# --- slash text -----------------------------------------------------------------------------------


def test_bare_sms_is_compose():
    assert text("") == Compose()
    assert text("   ") == Compose()


def test_send_simple_keeps_text_raw():
    assert text('send +27821234567 Hi "there", it\'s  me') == Send(
        ("+27821234567",), 'Hi "there", it\'s  me'
    )


def test_send_several_recipients_with_and_without_spaces_after_commas():
    assert text("send 27821234567,bob, 0027821234568 Hello").to == (
        "27821234567",
        "bob",
        "0027821234568",
    )


def test_send_quoted_number_keeps_its_spaces():
    command = text('send "+27 82 123 4567",‘+27 82 123 4568’ Hi')
    assert command.to == ("+27 82 123 4567", "+27 82 123 4568")
    assert command.text == "Hi"


def test_send_options_right_after_send():
    command = text("send --from Acme --at +2h --id abc123 27821234567 Hi there")
    assert command == Send(("27821234567",), "Hi there", "Acme", NOW + timedelta(hours=2), "abc123")


def test_send_option_with_equals_and_quoted_value():
    command = text('send --at="2025-03-11T09:00+02:00" --from=12345 27821234567 Hi')
    assert command.at == datetime(2025, 3, 11, 7, 0, tzinfo=UTC)
    assert command.sender == "12345"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("send", "needs recipients"),
        ("send 27821234567", "needs a text"),
        ("send 27821234567,  ", "recipient is missing"),
        ("send 2782,,2783 hi", "recipient is missing"),
        ("send --bogus 1 27821234567 hi", "Unknown option '--bogus'"),
        ("send --from 27821234567 hi", "needs a text"),
        ("send --from", "--from needs a value"),
        ("send --from Acme --from Beta 1 hi", "given twice"),
        ("send --from TooLongSender1 1 hi", "not a valid sender ID"),
        ("send --id has-dash 1 hi", "1 to 32 letters"),
        ('send "+27 82 hi', "never closed"),
        ('send "+27 82"x hi', "Put a space or a comma"),
    ],
)
def test_send_usage_errors(value, problem):
    with pytest.raises(UsageError) as caught:
        text(value)
    assert problem in str(caught.value)
    assert "Usage: /sms" in str(caught.value)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("+30m", NOW + timedelta(minutes=30)),
        ("+2H", NOW + timedelta(hours=2)),
        ("+7d", NOW + timedelta(days=7)),
        ("+1h30m", NOW + timedelta(hours=1, minutes=30)),
        ("+90m", NOW + timedelta(minutes=90)),
        ("+1d2h", NOW + timedelta(days=1, hours=2)),
        ("13:15", datetime(2025, 3, 10, 13, 15, tzinfo=UTC)),
        ("11:59", datetime(2025, 3, 11, 11, 59, tzinfo=UTC)),  # next occurrence: tomorrow
        ("12:00", datetime(2025, 3, 11, 12, 0, tzinfo=UTC)),  # now is not the future
        ("2025-03-12T08:00:00Z", datetime(2025, 3, 12, 8, 0, tzinfo=UTC)),
        ("2025-03-12T10:00+02:00", datetime(2025, 3, 12, 8, 0, tzinfo=UTC)),
    ],
)
def test_at_forms(when, expected):
    command = text(f"send --at {when} 27821234567 hi")
    assert command.at == expected
    assert command.at.tzinfo is not None and command.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ("+0m", "in the past"),
        ("+", "not a time"),
        ("+1m1h", "not a time"),
        ("2025-03-10T11:00Z", "in the past"),
        ("+8d", "more than 7 days"),
        ("+10081m", "more than 7 days"),
        ("2025-03-12T08:00", "no time zone"),
        ("tomorrow", "not a time"),
        ("25:00", "not a time"),
        ("0001-01-01T00:00+01:00", "not a time"),
    ],
)
def test_at_refusals(when, problem):
    with pytest.raises(UsageError) as caught:
        text(f"send --at {when} 27821234567 hi")
    assert problem in str(caught.value)


def test_id_commands():
    assert text("status abc123") == Status("abc123")
    assert text("Cancel abc123") == Cancel("abc123")
    assert text("charge  abc123 ") == Charge("abc123")
    with pytest.raises(UsageError, match="needs a message ID"):
        text("status")
    with pytest.raises(UsageError, match="takes only a message ID"):
        text("status a b")
    with pytest.raises(UsageError, match="not a message ID"):
        text("status a-b")


def test_no_argument_commands():
    assert text("balance") == Balance()
    assert text("ping") == Ping()
    assert text("contacts") == Contacts()
    assert text("help") == Help()
    assert text("help send") == Help()
    with pytest.raises(UsageError, match="takes no arguments") as caught:
        text("balance now")
    assert str(caught.value).endswith("Usage: /sms balance")


def test_coverage_redeem_log():
    assert text("coverage +27 82 123 4567") == Coverage("+27 82 123 4567")
    assert text('coverage "+27821234567"') == Coverage("+27821234567")
    assert text("redeem 1234-5678-1234-5678") == Redeem("1234567812345678")
    assert text("log") == Log(None)
    assert text("log +27821234567") == Log("+27821234567")
    with pytest.raises(UsageError, match="needs a number"):
        text("coverage")
    with pytest.raises(UsageError, match="16-digit"):
        text("redeem 1234")


def test_contacts():
    assert text('contact add "Jane Doe" +27 82 123 4567') == ContactAdd(
        "Jane Doe", "+27 82 123 4567"
    )
    assert text("contact remove Jane Doe") == ContactRemove("Jane Doe")
    with pytest.raises(UsageError, match="needs a name and a number"):
        text("contact add Jane")
    with pytest.raises(UsageError, match="looks like a number"):
        text("contact add 0821234567 0821234567")
    with pytest.raises(UsageError, match="add or remove"):
        text("contact list")


def test_unknown_command_lists_commands():
    with pytest.raises(UsageError) as caught:
        text("sned 2782 hi")
    message = str(caught.value)
    assert "Unknown command 'sned'" in message and "send, status" in message


# --- argv ---------------------------------------------------------------------------------------


def test_argv_options_after_a_quoted_text_and_words_joined():
    command = argv("send", "27821234567,27821234568", "Hello world", "--from", "Acme")
    assert command == Send(("27821234567", "27821234568"), "Hello world", "Acme")
    assert argv("send", "27821234567", "Hello", "world").text == "Hello world"


def test_argv_double_dash_and_comma_continuation():
    command = argv("send", "--at", "+1h", "2782,", "bob", "--", "--not-an-option", "x")
    assert command.to == ("2782", "bob")
    assert command.text == "--not-an-option x"
    assert command.at == NOW + timedelta(hours=1)


def test_argv_usage_errors_name_the_program():
    with pytest.raises(UsageError) as caught:
        argv("send", "2782")
    assert "Usage: sms-bot send" in str(caught.value)
    with pytest.raises(UsageError, match="needs a value"):
        argv("send", "2782", "hi", "--at")
    with pytest.raises(UsageError, match="command is missing"):
        argv()


def test_argv_other_commands():
    assert argv("balance") == Balance()
    assert argv("status", "abc") == Status("abc")
    assert argv("coverage", "+27", "82", "123", "4567") == Coverage("+27 82 123 4567")
    assert argv("--help") == Help()


def test_help_lists_every_command():
    for prefix in ("/sms", "sms-bot"):
        help_text = grammar.help_text(prefix)
        for word, _, _ in grammar.USAGE:
            assert f"{prefix} {word}" in help_text


# --- properties ---------------------------------------------------------------------------------


@given(st.text())
def test_any_slash_text_gives_a_command_or_usage_error(value):
    try:
        result = parse_text(value, now=NOW)
    except UsageError as error:
        assert "Usage:" in str(error)
    else:
        assert isinstance(result, grammar.Command)


@given(st.lists(st.text()))
def test_any_argv_gives_a_command_or_usage_error(words):
    try:
        result = parse_argv(words, now=NOW)
    except UsageError as error:
        assert "Usage:" in str(error)
    else:
        assert isinstance(result, grammar.Command)


@given(st.lists(st.sampled_from(["send", "--at", "--from", "--id", "+2h", ",", '"', "x", " "])))
def test_send_shaped_noise_never_crashes(words):
    for value in (" ".join(words), "".join(words)):
        with contextlib.suppress(UsageError):
            parse_text("send " + value, now=NOW)
    with contextlib.suppress(UsageError):
        parse_argv(["send", *words], now=NOW)


numbers = st.from_regex(r"\+?[1-9][0-9 ]{6,12}[0-9]", fullmatch=True)
names = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,9}( [A-Za-z0-9._-]{1,8})?", fullmatch=True)
recipients = st.lists(st.one_of(numbers, names), min_size=1, max_size=4).map(tuple)
message_text = st.text(min_size=1).map(str.strip).filter(bool)
message_ids = st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True)
times = st.integers(1, 7 * 24 * 3600).map(lambda s: NOW + timedelta(seconds=s))
senders = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9]{1,11}", fullmatch=True))

sends = st.builds(
    Send,
    to=recipients,
    text=message_text,
    sender=senders,
    at=st.one_of(st.none(), times),
    client_id=st.one_of(st.none(), message_ids),
)
others = st.one_of(
    st.builds(Status, message_ids),
    st.builds(Cancel, message_ids),
    st.builds(Charge, message_ids),
    st.builds(Coverage, numbers),
    st.builds(Redeem, st.from_regex(r"[0-9]{16}", fullmatch=True)),
    st.builds(ContactAdd, names, numbers),
    st.builds(ContactRemove, names),
    st.builds(Log, st.one_of(st.none(), numbers)),
    st.sampled_from([Balance(), Ping(), Contacts(), Help()]),
)


@given(st.one_of(sends, others, st.just(Compose())))
def test_slash_round_trip(command):
    rendered = grammar.to_text(command)
    assert parse_text(rendered, now=NOW) == command


@given(st.one_of(sends, others))
def test_argv_round_trip(command):
    assert parse_argv(grammar.to_argv(command), now=NOW) == command


def test_send_options_are_checked_by_the_clients_own_rules():
    # One rule for --from/--id, the client's: what the grammar accepts the client sends, and
    # what the client refuses the grammar refuses (a sender with a space or a `+` alone).
    from bot.sms.identifiers import validate_client_id as validate_climsgid
    from bot.sms.identifiers import validate_sender

    for sender in ("+27821234567", "Acme", "A1b2C3d4E5f", "1" * 16):
        assert text(f"send --from {sender} 1 hi").sender == validate_sender(sender)
    for bad in ("+", "+Acme", "1" * 17, "Twelve12345x"):
        with pytest.raises(UsageError, match="not a valid sender ID"):
            text(f'send --from "{bad}" 1 hi')
    assert text("send --id " + "a" * 32 + " 1 hi").client_id == validate_climsgid("a" * 32)


def test_voucher_digits_are_ascii():
    with pytest.raises(UsageError, match="16-digit"):
        argv("redeem", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦")


@pytest.mark.parametrize("name", ["O'Brien", "D’Angelo", "Mary-Jane O'Neil"])
def test_a_name_may_hold_an_apostrophe(name: str) -> None:
    typed = f'"{name}"' if " " in name else name  # a name of several words is quoted
    assert parse_text(f"contact add {typed} +27821234567") == ContactAdd(name, "+27821234567")
    assert parse_argv(["contact", "add", name, "+27821234567"]) == ContactAdd(name, "+27821234567")


@pytest.mark.parametrize("name", ["'Bob", 'Bo"b', "a,b"])
def test_a_name_may_not_start_with_a_quote_or_hold_one(name: str) -> None:
    with pytest.raises(UsageError):
        parse_argv(["contact", "add", name, "+27821234567"])
