"""Template rules: fields named, filled, refused up front, never evaluated."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.templates import (
    MalformedTemplate,
    UnknownFields,
    check_fields,
    contact_values,
    fields_of,
    fixed_text,
    missing_fields,
    render,
)


def test_fields_are_listed_once_in_order_of_first_use():
    assert fields_of("Hi {first_name}, order {Order} for {first_name}") == ("first_name", "Order")


def test_fields_match_columns_ignoring_case_and_spaces():
    text = "Hi {First Name}, your code is {code}"
    assert render(text, {" first name ": "Ann", "CODE": "42"}) == "Hi Ann, your code is 42"


def test_unknown_fields_are_all_named_before_anything_is_filled():
    with pytest.raises(UnknownFields) as caught:
        render("{a} {b} {c}", {"b": "x"})
    assert caught.value.fields == ("a", "c")
    assert "{a}, {c}" in str(caught.value)
    assert missing_fields("{name}", ["name", "first_name"]) == ()
    check_fields("no fields at all", [])


def test_doubled_braces_are_literal():
    assert render("{{literal}} {x}", {"x": "1"}) == "{literal} 1"
    assert fields_of("{{x}}") == ()


@pytest.mark.parametrize("text", ["Hi {name", "Hi name}", "{}", "{ }", "{x:>10}", "{x!r}"])
def test_malformed_templates_are_refused_with_a_reason(text):
    with pytest.raises(MalformedTemplate):
        fields_of(text)


def test_attribute_and_index_syntax_are_plain_names_never_lookups():
    assert render("{a.__class__} {b[0]}", {"a.__class__": "x", "b[0]": "y"}) == "x y"
    with pytest.raises(UnknownFields):
        render("{a.__class__}", {"a": "x"})


def test_contact_values_give_name_and_first_name():
    assert contact_values("Mary O'Brien") == {"name": "Mary O'Brien", "first_name": "Mary"}
    assert contact_values(None) == {"name": "", "first_name": ""}


@given(st.text().filter(lambda s: "{" not in s and "}" not in s))
def test_text_without_braces_renders_to_itself(text):
    assert render(text, {}) == text


@given(st.text(alphabet=st.characters(blacklist_characters="{}:!"), min_size=1).filter(str.strip))
def test_any_plain_field_name_is_filled_with_its_value(name):
    assert render("<{" + name + "}>", {name: "V"}) == "<V>"


def test_the_fixed_text_is_the_template_with_its_fields_empty() -> None:
    assert fixed_text("Hi {Name}, see you {{soon}} at {time}") == "Hi , see you {soon} at "
    assert fixed_text("No fields") == "No fields"
