"""The template and group commands, and `send --template`, in the one grammar: unit and property
tests (slash text and command-line words alike)."""

from __future__ import annotations

import contextlib
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import grammar
from bot.grammar import (
    GroupAdd,
    GroupRemove,
    Groups,
    Send,
    TemplateAdd,
    TemplateRemove,
    Templates,
    UsageError,
    parse_argv,
    parse_text,
)
from tests.test_grammar import NOW, names, numbers, recipients


def test_template_text_is_kept_as_typed() -> None:
    typed = 'template add Reminder Hi {first_name}, it\'s "ready"  at 9'
    assert parse_text(typed) == TemplateAdd("Reminder", 'Hi {first_name}, it\'s "ready"  at 9')
    assert parse_text('template add "Late notice" Sorry {name}') == TemplateAdd(
        "Late notice", "Sorry {name}"
    )
    assert parse_argv(["template", "add", "Reminder", "Hi", "{name}"]) == TemplateAdd(
        "Reminder", "Hi {name}"
    )


def test_template_remove_and_list() -> None:
    assert parse_text("template remove Late notice") == TemplateRemove("Late notice")
    assert parse_text("TEMPLATE REMOVE x") == TemplateRemove("x")
    assert parse_text("templates") == Templates()
    assert parse_argv(["templates"]) == Templates()


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("template", "template needs add or remove"),
        ("template add", "template add needs a name"),
        ("template add Reminder", "needs a text after the name"),
        ("template add Reminder Hi {name", "unmatched brace"),
        ("template add Reminder Hi {x:>5}", "format part"),
        ("template add 123 Hi", "looks like a number"),
        ("template remove", "template remove needs a name"),
        ("templates all", "takes no arguments"),
    ],
)
def test_template_usage_errors(typed: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem) as caught:
        parse_text(typed)
    assert "/sms template" in caught.value.usage or "/sms templates" in caught.value.usage


def test_group_members_by_space_or_comma_quoted_when_spaced() -> None:
    assert parse_text('group add crew +27821111111, Bob, "Ann Lee" 0821234567') == GroupAdd(
        "crew", ("+27821111111", "Bob", "Ann Lee", "0821234567")
    )
    assert parse_text('group add "Night shift" Bob') == GroupAdd("Night shift", ("Bob",))
    assert parse_argv(["group", "add", "crew", "+27821111111,Bob"]) == GroupAdd(
        "crew", ("+27821111111", "Bob")
    )


def test_group_remove_whole_or_members() -> None:
    assert parse_text("group remove crew") == GroupRemove("crew")
    assert parse_text("group remove crew Bob, +27821111111") == GroupRemove(
        "crew", ("Bob", "+27821111111")
    )
    assert parse_text("groups") == Groups()


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("group", "group needs add or remove"),
        ("group list", "group needs add or remove"),
        ("group add", "group add needs a name"),
        ("group add crew", "needs members"),
        ("group add 0821234567 Bob", "looks like a number"),
    ],
)
def test_group_usage_errors(typed: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_text(typed)
    with pytest.raises(UsageError, match=problem) as caught:
        parse_argv(typed.replace(",", " ").split())
    assert caught.value.usage.startswith("sms-bot group")


def test_send_with_a_template_before_or_after_the_recipients() -> None:
    expected = Send(("crew", "Bob"), "", template="Reminder")
    assert parse_text("send crew,Bob --template Reminder", now=NOW) == expected
    assert parse_text("send --template Reminder crew,Bob", now=NOW) == expected
    assert parse_argv(["send", "crew,Bob", "--template", "Reminder"], now=NOW) == expected
    assert parse_argv(["send", "--template=Reminder", "crew,Bob"], now=NOW) == expected


@pytest.mark.parametrize(
    "typed",
    ["send crew --template Reminder and a text", "send --template Reminder crew a text"],
)
def test_send_takes_a_text_or_a_template_not_both(typed: str) -> None:
    with pytest.raises(UsageError, match="either a text or --template"):
        parse_text(typed, now=NOW)


def test_a_text_that_mentions_templates_is_sent_as_typed_after_two_dashes() -> None:
    with pytest.raises(UsageError, match="--template is inside the text"):
        parse_text("send Bob use --template next time", now=NOW)
    assert parse_text("send Bob -- use --template next time", now=NOW) == Send(
        ("Bob",), "use --template next time"
    )


template_text = (
    st.text(alphabet=st.characters(blacklist_characters="{}"), min_size=1)
    .map(str.strip)
    .filter(bool)
    .map(lambda t: t + " {first_name}")
)
saved = st.one_of(
    st.builds(TemplateAdd, names, template_text),
    st.builds(TemplateRemove, names),
    st.builds(GroupAdd, names, st.lists(st.one_of(numbers, names), min_size=1).map(tuple)),
    st.builds(GroupRemove, names, st.lists(st.one_of(numbers, names)).map(tuple)),
    st.sampled_from([Templates(), Groups()]),
    st.builds(Send, recipients, st.just(""), template=names),
)


@given(saved)
def test_slash_round_trip(command: grammar.Command) -> None:
    assert parse_text(grammar.to_text(command), now=NOW) == command


@given(saved)
def test_argv_round_trip(command: grammar.Command) -> None:
    assert parse_argv(grammar.to_argv(command), now=NOW) == command


@given(
    st.lists(
        st.sampled_from(["template", "group", "add", "remove", "--template", ",", '"', "{", "x"])
    )
)
def test_saved_shaped_noise_never_crashes(words: list[str]) -> None:
    for value in (" ".join(words), "".join(words)):
        with contextlib.suppress(UsageError):
            parse_text(value, now=NOW)
    with contextlib.suppress(UsageError):
        parse_argv(words, now=NOW)


@pytest.mark.parametrize(
    "typed",
    ["template add --vip Hello", "group add --vip Bob", "contact add --vip 27821234567"],
)
def test_a_name_shaped_like_an_option_is_refused(typed: str) -> None:
    """`send` reads a leading `--word` as an option, so a contact, group or template named
    `--vip` could be saved but never sent to (`/sms send --vip hi`: unknown option)."""
    with pytest.raises(UsageError, match="looks like an option"):
        parse_text(typed)
    with pytest.raises(UsageError, match="looks like an option"):
        parse_argv(typed.split())


def test_a_second_number_before_template_is_offered_with_the_template() -> None:
    """`send N1 N2 --template T` (a space where the comma belongs) has no text at all: the
    command to copy is the template send to both numbers, not only "send the words
    '27825550100 --template T' as typed" (an SMS nobody meant)."""
    with pytest.raises(UsageError, match="second phone number") as caught:
        parse_text("send 27825550103 27825550100 --template Reminder")
    meant = caught.value.suggestions[0]
    assert parse_text(meant.removeprefix("/sms ")) == Send(
        to=("27825550103", "27825550100"), text="", template="Reminder"
    )
    with pytest.raises(UsageError, match="second phone number") as caught:
        parse_argv(["send", "27825550103", "27825550100", "--template", "Reminder"])
    meant = caught.value.suggestions[0]
    assert parse_argv(shlex.split(meant)[1:]).template == "Reminder"
