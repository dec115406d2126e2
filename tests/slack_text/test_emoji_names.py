"""Slack emoji names to emoji: the library's aliases, Slack's spellings, tones, custom emoji."""

from __future__ import annotations

import emoji
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.emoji_names import (
    SLACK_NAME_ALIASES,
    EmojiNames,
    emoji_from_hex,
    emojize_shortcodes,
    library_emoji,
    standard_emoji,
    with_skin_tone,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("+1", "👍"),
        ("thumbsup", "👍"),
        ("-1", "👎"),
        ("slightly_smiling_face", "🙂"),
        ("simple_smile", "🙂"),
        ("wave", "👋"),
        ("white_check_mark", "✅"),
        ("tada", "🎉"),
        ("man-shrugging", "🤷‍♂️"),  # Slack hyphens, library underscores
        ("male-technologist", "👨‍💻"),  # Slack male-/female-, library man_/woman_
        ("female-police-officer", "👮‍♀️"),
        ("man-woman-boy", "👨‍👩‍👦"),  # Slack lists a family's members
        ("flag-za", "🇿🇦"),  # Slack flags are ISO 3166 codes
        ("flag-gb", "🇬🇧"),
        ("flag-england", emoji.emojize(":England:")),
        ("skin-tone-3", "🏼"),
        ("face_palm", "🤦"),
    ],
)
def test_slack_names_become_the_emoji(name: str, expected: str):
    assert standard_emoji(name) == expected


@pytest.mark.parametrize("name", ["partyparrot", "flag-zz", "skin-tone-7", "", "a:b", "man-cat"])
def test_unknown_names_have_no_standard_emoji(name: str):
    assert standard_emoji(name) is None


@pytest.mark.parametrize(("slack", "library"), sorted(SLACK_NAME_ALIASES.items()))
def test_every_alias_entry_is_needed_and_reaches_an_emoji(slack: str, library: str):
    """An entry the library (or a rule) already covers is dead weight; one whose target the
    library does not know would silently do nothing."""
    assert library_emoji(slack) is None
    assert library_emoji(library) is not None
    assert standard_emoji(slack) == library_emoji(library)


@pytest.mark.parametrize(
    ("base", "tone", "expected"),
    [
        ("👋", 3, "👋🏼"),
        ("👍", 2, "👍🏻"),
        ("👍", 6, "👍🏿"),
        ("🤦‍♂️", 4, "🤦🏽‍♂️"),
        ("❤️", 4, "❤️"),  # no toned heart: the emoji without the tone
        ("👋", 1, "👋"),  # Slack's 1 is "no tone"
        ("👋", None, "👋"),
        ("👋", 99, "👋"),
    ],
)
def test_skin_tones_use_the_librarys_toned_variant(base: str, tone: int | None, expected: str):
    assert with_skin_tone(base, tone) == expected


def test_custom_emoji_follow_aliases_and_keep_images_as_typed():
    names = EmojiNames(
        {
            "thumbsup_all": "alias:thumbsup",
            "chain": "alias:thumbsup_all",
            "yay": "🎉",
            "partyparrot": "https://emoji.slack-edge.com/T1/partyparrot/abc.gif",
            "loop_a": "alias:loop_b",
            "loop_b": "alias:loop_a",
        }
    )
    assert names.shortcode("thumbsup_all") == "👍"
    assert names.shortcode("chain", 5) == "👍🏾"
    assert names.shortcode("yay") == "🎉"
    assert names.shortcode("partyparrot") == ":partyparrot:"
    assert names.shortcode("loop_a") == ":loop_a:"
    names.shortcode("partyparrot")
    assert names.kept_as_typed == (":partyparrot:", ":loop_a:")


def test_a_rich_text_element_prefers_slacks_own_code_points():
    names = EmojiNames()
    assert names.element("wave", "1f44b-1f3fc", 3) == "👋🏼"  # already toned: not twice
    assert names.element("wave", "1f44b", 3) == "👋🏼"
    assert names.element("wave", "not-hex", None) == "👋"
    assert names.element("partyparrot", None, None) == ":partyparrot:"


@pytest.mark.parametrize("bad", ["", "zz", "110000", "d800", "0", "1f44b--1f3fc"])
def test_invalid_code_points_are_refused(bad: str):
    assert emoji_from_hex(bad) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("till 5 :+1: :slightly_smiling_face:", "till 5 👍 🙂"),
        (":wave::skin-tone-3: hi", "👋🏼 hi"),
        (":+1::skin-tone-2:", "👍🏻"),
        (":smile::smile:", "😄😄"),
        ("at 5:+1:", "at 5👍"),
        ("meet at 10:30:45", "meet at 10:30:45"),  # a time, not :30:
        ("ratio 1:100:2", "ratio 1:100:2"),
        ("look :partyparrot:", "look :partyparrot:"),
        ("a:b:c", "a:b:c"),
        (":Smile:", ":Smile:"),  # Slack names are lower case
    ],
)
def test_shortcodes_in_text(text: str, expected: str):
    assert emojize_shortcodes(text, EmojiNames()) == expected


@given(st.text())
def test_arbitrary_names_never_raise(name: str):
    names = EmojiNames({name: name, "x": "alias:" + name})
    names.shortcode(name)
    names.shortcode("x", 3)
    names.element(name, name, 4)
    emojize_shortcodes(f":{name}: :{name}::skin-tone-2:", names)


def test_the_name_index_answers_as_the_librarys_own_alias_lookup():
    """`library_emoji` indexes the library's data for speed; it must agree with
    `emoji.emojize(..., language="alias")`, including on names the library does not know."""
    known = sorted(emoji.EMOJI_DATA.items(), key=lambda item: item[1]["en"])[::50]
    names = [data["en"].strip(":") for _, data in known]
    names += [a.strip(":") for _, data in known for a in data.get("alias", [])]
    names += ["+1", "thumbsup", "simple_smile", "partyparrot", "flag-za", "Smile", "ｔａｄａ"]
    for name in names:
        by_library = emoji.emojize(f":{name}:", language="alias")
        assert library_emoji(name) == (None if by_library == f":{name}:" else by_library), name
