"""`send` lines that look mistyped, read the same on both surfaces; `--at` in the person's zone.

The slash command and the command line share one layout (bot.send_grammar): these tests read
every line both ways, as Slack text and as shell words, and expect the same outcome.
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.grammar import Send, UsageError, parse_argv, parse_text
from bot.when import local_zone, parse_when, zone_matters

NOW = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)
JOHANNESBURG = ZoneInfo("Africa/Johannesburg")  # UTC+2, no daylight saving
NEW_YORK = ZoneInfo("America/New_York")  # daylight saving from 2025-03-09 07:00 UTC


def both(line: str, **reading) -> tuple[object, object]:
    """The line read as slash text and as command-line words (split as a shell would)."""
    outcomes = []
    for read in (
        lambda: parse_text(line, now=NOW, **reading),
        lambda: parse_argv(shlex.split(line), now=NOW, **reading),
    ):
        try:
            outcomes.append(read())
        except UsageError as error:
            outcomes.append(error)
    return outcomes[0], outcomes[1]


def refusal(line: str, **reading) -> tuple[UsageError, UsageError]:
    slash, argv = both(line, **reading)
    assert isinstance(slash, UsageError), slash
    assert isinstance(argv, UsageError), argv
    return slash, argv


# --- a second number where the text should start ----------------------------------------------


def test_a_second_number_is_refused_with_the_corrected_command():
    slash, argv = refusal("send 27825550103 27825550100 hi")
    assert "'27825550100' looks like a second phone number" in slash.problem
    assert slash.suggestions == (
        "/sms send 27825550103,27825550100 hi",
        "/sms send 27825550103 -- 27825550100 hi",
    )
    assert argv.suggestions == (
        "sms-bot send 27825550103,27825550100 hi",
        "sms-bot send 27825550103 -- '27825550100 hi'",
    )
    assert "    /sms send 27825550103,27825550100 hi" in str(slash)  # shown to copy


def test_the_corrected_commands_read_as_meant():
    slash, argv = refusal("send --at +1h 27825550103 +27825550100, 27825550101 hi there")
    meant, as_typed = (parse_text(s.removeprefix("/sms "), now=NOW) for s in slash.suggestions)
    assert meant == Send(
        ("27825550103", "+27825550100", "27825550101"), "hi there", at=NOW + timedelta(hours=1)
    )
    assert as_typed.text == "+27825550100, 27825550101 hi there"
    for suggestion, expected in zip(argv.suggestions, (meant, as_typed), strict=True):
        assert parse_argv(shlex.split(suggestion)[1:], now=NOW) == expected


def test_national_numbers_count_only_with_a_default_region():
    line = "send 0825550103 0825550100 hi"
    refusal(line, region="ZA")
    slash, argv = both(line)  # no region: 0825550100 is no number anywhere, so it is text
    assert slash == argv == Send(("0825550103",), "0825550100 hi")


@pytest.mark.parametrize(
    "body",
    [
        "2024 results are in",
        "100 rand due Friday",
        "10:30 works for me",
        "911 if it gets worse",
        "12345 is your code",
        "0800 123 456 is the helpline",
        "+1h is fine",
    ],
)
def test_a_text_starting_with_digits_is_a_text(body):
    slash, argv = both(f"send 27825550103 {body}", region="ZA")
    assert slash == argv == Send(("27825550103",), body)


def test_a_number_alone_is_refused_and_offered_as_text():
    slash, _ = refusal("send 27825550103 27825550100")
    assert slash.suggestions == ("/sms send 27825550103 -- 27825550100",)
    assert parse_text("send 27825550103 -- 27825550100", now=NOW).text == "27825550100"


def test_a_quoted_number_is_a_text():
    assert parse_argv(["send", "27825550103", "27825550100 is my new number"], now=NOW) == Send(
        ("27825550103",), "27825550100 is my new number"
    )


# --- options after the recipients and after the text -------------------------------------------


def test_options_right_after_the_recipients_are_options():
    slash, argv = both("send 27825550103 --at +1h --from Acme running late")
    expected = Send(("27825550103",), "running late", "Acme", NOW + timedelta(hours=1))
    assert slash == argv == expected


def test_options_after_a_one_word_or_quoted_text_are_options():
    slash, argv = both("send 27825550103 hi --at +1h")
    assert slash == argv == Send(("27825550103",), "hi", at=NOW + timedelta(hours=1))
    slash, argv = both('send 27825550103 "running late" --at=+1h --id late1')
    expected = Send(
        ("27825550103",), "running late", at=NOW + timedelta(hours=1), client_id="late1"
    )
    assert slash == argv == expected


def test_an_option_among_the_words_of_a_text_is_refused_with_both_readings():
    slash, argv = refusal("send 27825550103 Happy birthday! --from Mom")
    assert "--from is inside the text" in slash.problem
    assert slash.suggestions == (
        "/sms send --from Mom 27825550103 Happy birthday!",
        "/sms send 27825550103 -- Happy birthday! --from Mom",
    )
    assert argv.suggestions == (
        "sms-bot send --from Mom 27825550103 'Happy birthday!'",
        "sms-bot send 27825550103 -- 'Happy birthday! --from Mom'",
    )
    meant = parse_text(slash.suggestions[0].removeprefix("/sms "), now=NOW)
    assert meant == Send(("27825550103",), "Happy birthday!", "Mom")
    as_typed = parse_text(slash.suggestions[1].removeprefix("/sms "), now=NOW)
    assert as_typed.text == "Happy birthday! --from Mom"


def test_the_reported_mistype_is_refused_not_sent_with_the_option_in_its_text():
    slash, _ = refusal("send 27825550103 see you --at +1h then")
    assert slash.suggestions[0] == "/sms send --at +1h 27825550103 see you then"


def test_an_unknown_option_after_a_word_is_a_usage_error_naming_the_escape():
    slash, argv = refusal("send 27825550103 hi --jsn")
    assert "Unknown option '--jsn'" in slash.problem and "put -- before" in slash.problem
    assert argv.problem == slash.problem


def test_double_dash_sends_the_text_as_typed():
    assert parse_text("send 27825550103 -- --at +1h  is  literal", now=NOW).text == (
        "--at +1h  is  literal"
    )
    assert parse_text("send -- 27825550103 27825550100 hi", now=NOW).text == "27825550100 hi"


def test_dashes_that_are_no_option_stay_text():
    slash, argv = both("send 27825550103 Meet at 5 -- bring ID --- or -5")
    assert slash == argv == Send(("27825550103",), "Meet at 5 -- bring ID --- or -5")


# --- properties -----------------------------------------------------------------------------------

plain_words = st.from_regex(r"[A-Za-z!?.:@#%&*()]{1,8}", fullmatch=True)
line_words = st.lists(
    st.one_of(
        plain_words,
        st.sampled_from(["--at", "--from", "--id", "+1h", "Acme", "--", "27825550100", "x,"]),
        st.from_regex(r"[0-9]{1,12}", fullmatch=True),
    ),
    max_size=8,
)


@given(line_words)
def test_both_surfaces_read_a_line_alike(words):
    line = " ".join(["send", "27825550103", *words])
    slash, argv = both(line, region="ZA")
    if isinstance(slash, UsageError):
        assert isinstance(argv, UsageError)
        assert slash.problem == argv.problem
    else:
        assert slash == argv


@given(st.text(min_size=1).map(str.strip).filter(bool))
def test_double_dash_keeps_any_text(body):
    assert parse_text(f"send 27825550103 -- {body}", now=NOW).text == body
    assert parse_argv(["send", "27825550103", "--", body], now=NOW).text == body


@given(
    st.integers(1000, 2999).map(str) | st.from_regex(r"[0-9]{1,3}(\.[0-9]{2})?", fullmatch=True),
    st.lists(plain_words, min_size=1, max_size=4),
)
def test_years_and_prices_start_real_messages(first, rest):
    body = " ".join([first, *rest])
    for region in (None, "ZA", "GB", "US"):
        assert parse_text(f"send 27825550103 {body}", now=NOW, region=region).text == body


@given(line_words)
def test_every_suggestion_reads_without_a_further_refusal(words):
    line = " ".join(["send", "27825550103", *words])
    slash, argv = both(line, region="ZA")
    if not isinstance(slash, UsageError):
        return
    for suggestion in slash.suggestions:
        try:
            parse_text(suggestion.removeprefix("/sms "), now=NOW, region="ZA")
        except UsageError as error:  # only an option's own value may still be wrong
            assert not error.suggestions and "not both" not in error.problem, error
    for suggestion in argv.suggestions:
        try:
            parse_argv(shlex.split(suggestion)[1:], now=NOW, region="ZA")
        except UsageError as error:
            assert not error.suggestions and "not both" not in error.problem, error


def test_words_beside_a_template_are_never_offered_as_a_corrected_command():
    """Two numbers, words and --template: putting the numbers together would still give a text
    and a template (refused), so only the text as typed is offered."""
    with pytest.raises(UsageError, match="second phone number") as refused:
        parse_text("send 27825550103 27825550100 hello --template T", now=NOW, region="ZA")
    assert refused.value.suggestions == ("/sms send 27825550103 -- 27825550100 hello --template T",)


# --- --at in the person's time zone ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "zone", "expected"),
    [
        ("15:00", JOHANNESBURG, datetime(2025, 3, 10, 13, 0, tzinfo=UTC)),  # 14:00 there now
        ("13:00", JOHANNESBURG, datetime(2025, 3, 11, 11, 0, tzinfo=UTC)),  # tomorrow
        ("14:00", None, datetime(2025, 3, 10, 14, 0, tzinfo=UTC)),  # zone unknown: UTC
        ("2025-03-12T08:00", JOHANNESBURG, datetime(2025, 3, 12, 6, 0, tzinfo=UTC)),
        ("2025-03-12 08:00", NEW_YORK, datetime(2025, 3, 12, 12, 0, tzinfo=UTC)),
        ("2025-03-12T08:00Z", NEW_YORK, datetime(2025, 3, 12, 8, 0, tzinfo=UTC)),
    ],
)
def test_at_is_read_in_the_persons_zone(when, zone, expected):
    slash, argv = both(f"send --at '{when}' 27825550103 hi", zone=zone)
    assert slash == argv
    assert slash.at == expected


def test_next_clock_time_crosses_a_daylight_saving_change():
    saturday_afternoon = datetime(2025, 3, 8, 20, 0, tzinfo=UTC)  # 15:00 EST
    at = parse_when("09:00", saturday_afternoon, NEW_YORK)
    assert at == datetime(2025, 3, 9, 13, 0, tzinfo=UTC)  # 09:00 EDT on Sunday
    assert parse_when("16:00", saturday_afternoon, NEW_YORK) == datetime(
        2025, 3, 8, 21, 0, tzinfo=UTC
    )


zones = st.sampled_from(
    [UTC, JOHANNESBURG, NEW_YORK, ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Chatham")]
)


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(0, 23),
    st.integers(0, 59),
    zones,
)
def test_a_clock_time_is_its_next_occurrence_on_the_local_wall_clock(now, hour, minute, zone):
    at = parse_when(f"{hour:02d}:{minute:02d}", now, zone)
    local = at.astimezone(zone)
    assert now < at <= now + timedelta(days=1, hours=1)  # an hour more across a DST change
    wall = datetime.combine(local.date(), local.time().replace(hour=hour, minute=minute))
    if wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        assert (local.hour, local.minute) == (hour, minute)  # the time exists that day


def test_zone_matters_only_for_clock_and_naive_times():
    assert zone_matters("14:00") and zone_matters("2025-03-12T08:00")
    assert not zone_matters("+1h30m") and not zone_matters("")


def test_the_command_line_zone_comes_from_tz():
    assert local_zone({"TZ": "Africa/Johannesburg"}) == JOHANNESBURG
    assert local_zone({"TZ": ":America/New_York"}) == NEW_YORK
    assert local_zone({"TZ": "Not/AZone"}) is not None  # falls back to the machine's


def test_a_bulk_option_among_the_words_of_its_text_is_refused_with_the_corrected_command():
    """`sms-bot bulk list.csv Happy --at 09:00 birthday` is read as send's would be: an option
    splitting the text is a mistype, refused with the command to copy, never a bulk send of
    "Happy birthday" at 09:00 (the words were joined across it before)."""
    with pytest.raises(UsageError, match="--at is inside the text") as caught:
        parse_argv(["bulk", "list.csv", "Happy", "--at", "09:00", "birthday"], now=NOW)
    meant, as_typed = caught.value.suggestions
    assert shlex.split(meant) == [
        "sms-bot", "bulk", "--at", "09:00", "list.csv", "Happy birthday"
    ]  # fmt: skip
    assert shlex.split(as_typed)[2:] == ["--", "list.csv", "Happy --at 09:00 birthday"]
    for command in (meant, as_typed):
        parse_argv(shlex.split(command)[1:], now=NOW)  # each reads without a refusal
    trailing = parse_argv(["bulk", "list.csv", "Hi", "there", "--dry-run"], now=NOW)
    assert trailing.text == "Hi there" and trailing.dry_run
