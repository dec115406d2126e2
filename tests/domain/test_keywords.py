"""Opt-out, opt-in and help keywords of an inbound SMS (product.md §6: the first word decides)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.keywords import (
    HELP_KEYWORDS,
    KEYWORD_KINDS,
    NO_KEYWORD,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    Keyword,
    KeywordKind,
    classify_keyword,
)

OUT, IN, HELP = KeywordKind.OPT_OUT, KeywordKind.OPT_IN, KeywordKind.HELP


def test_the_keyword_lists_are_the_specs():
    opt_out = ["CANCEL", "END", "OPTOUT", "QUIT", "REVOKE", "STOP", "STOPALL", "UNSUBSCRIBE"]
    assert sorted(OPT_OUT_KEYWORDS) == opt_out
    assert sorted(OPT_IN_KEYWORDS) == ["START", "SUBSCRIBE", "UNSTOP", "YES"]
    assert sorted(HELP_KEYWORDS) == ["HELP", "INFO"]


@pytest.mark.parametrize("word", sorted(KEYWORD_KINDS))
def test_every_keyword_alone_is_recognised(word: str):
    assert classify_keyword(word) == Keyword(KEYWORD_KINDS[word], word)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Stop.", Keyword(OUT, "STOP")),
        ("stop please", Keyword(OUT, "STOP")),
        ("STOP ALL", Keyword(OUT, "STOP")),
        ("STOPALL", Keyword(OUT, "STOPALL")),
        ('"STOP!!!"', Keyword(OUT, "STOP")),
        ("  stop\n", Keyword(OUT, "STOP")),
        ("Opt-Out", Keyword(OUT, "OPTOUT")),
        ("OptOut", Keyword(OUT, "OPTOUT")),
        ("opt_out", Keyword(OUT, "OPTOUT")),
        ("opt out please", Keyword(OUT, "OPTOUT")),
        ("revoke", Keyword(OUT, "REVOKE")),
        ("Unsubscribe me", Keyword(OUT, "UNSUBSCRIBE")),
        ("quit!", Keyword(OUT, "QUIT")),
        ("End.", Keyword(OUT, "END")),
        ("cancel", Keyword(OUT, "CANCEL")),
        ("STOP🛑", Keyword(OUT, "STOP")),
        ("...stop", Keyword(OUT, "STOP")),
        ("ＳＴＯＰ", Keyword(OUT, "STOP")),  # full-width, from some keyboards
        ("Start", Keyword(IN, "START")),
        ("unstop", Keyword(IN, "UNSTOP")),
        ("Yes!", Keyword(IN, "YES")),
        ("subscribe", Keyword(IN, "SUBSCRIBE")),
        ("HELP", Keyword(HELP, "HELP")),
        ("info?", Keyword(HELP, "INFO")),
    ],
)
def test_the_first_word_decides(text: str, expected: Keyword):
    assert classify_keyword(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "!!!",
        "Stopping by later",
        "Yesterday was fine",
        "Helpful, thanks",
        "Information please",
        "Starting now",
        "stop2",
        "stop-gap measure",
        "Please stop",  # the first word decides, and it is "Please"
        "Don't stop",
        "opt in",
        "Opt",
        "Got it: STOP",
        "1 stop",
    ],
)
def test_anything_else_is_no_keyword(text: str):
    assert classify_keyword(text) == NO_KEYWORD


def test_result_helpers_name_the_kind():
    assert classify_keyword("stop").is_opt_out
    assert classify_keyword("start").is_opt_in
    assert classify_keyword("help").is_help
    none = classify_keyword("hello")
    assert not (none.is_opt_out or none.is_opt_in or none.is_help)
    assert none.keyword is None


# --- properties ---------------------------------------------------------------------------

keywords = st.sampled_from(sorted(KEYWORD_KINDS))
# What may end the first word: anything that is neither a letter, a digit nor a joiner.
separators = st.sampled_from([" ", "\n", "\t", ".", "!", "?", ",", ";", ":", ")", '"', "🙂", "…"])
ascii_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1)


def _random_case(word: str, mask: list[bool]) -> str:
    return "".join(c.upper() if up else c.lower() for c, up in zip(word, mask, strict=False))


@given(st.text())
def test_never_raises_and_answers_a_known_kind(text: str):
    result = classify_keyword(text)
    assert result.kind in set(KeywordKind)
    assert (result.keyword is None) == (result.kind is KeywordKind.NONE)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_case_never_matters(text: str):
    assert (
        classify_keyword(text.upper()) == classify_keyword(text.lower()) == classify_keyword(text)
    )


@given(keywords, st.lists(st.booleans(), min_size=11, max_size=11), separators, st.text())
def test_a_keyword_in_any_case_followed_by_anything_is_that_keyword(
    word: str, mask: list[bool], separator: str, tail: str
):
    text = _random_case(word, mask) + separator + tail
    assert classify_keyword(text) == Keyword(KEYWORD_KINDS[word], word)


@given(ascii_words, separators, st.text())
def test_trailing_text_after_the_first_word_does_not_change_the_result(
    word: str, separator: str, tail: str
):
    if word.upper() == "OPT":  # "OPT OUT" is the one two-word spelling (of OPTOUT)
        return
    assert classify_keyword(word + separator + tail) == classify_keyword(word)


@given(keywords, st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1), st.text())
def test_a_keyword_glued_to_more_letters_is_another_word(word: str, more: str, tail: str):
    glued = (word + more).upper()
    expected = Keyword(KEYWORD_KINDS[glued], glued) if glued in KEYWORD_KINDS else NO_KEYWORD
    assert classify_keyword(word + more + " " + tail) == expected


@given(ascii_words, st.text())
def test_a_first_word_that_is_no_keyword_is_never_an_opt_out(word: str, tail: str):
    if word.upper() in KEYWORD_KINDS or word.upper() == "OPT":
        return
    assert classify_keyword(f"{word} {tail}") == NO_KEYWORD
