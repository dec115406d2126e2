"""Slack's `rich_text` blocks as plain words, and refusal of what is not understood."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.emoji_names import EmojiNames
from bot.slack.references import References, SlackNames
from bot.slack.rich_text import NotRichText, rich_text_blocks, rich_text_to_plain

NAMES = SlackNames(
    user={"U0ALICE": "Alice Example"}.get,
    channel={"C0GENERAL": "general"}.get,
    usergroup={"S0ONCALL": "oncall"}.get,
)


def text(value: str, **style: bool) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "text", "text": value}
    if style:
        element["style"] = style
    return element


def section(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text_section", "elements": list(elements)}


def rich(*elements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "rich_text", "block_id": "b1", "elements": list(elements)}]


def plain(blocks: list[dict[str, Any]], labels: dict[str, str] | None = None) -> str:
    emoji = EmojiNames({"thumbsup_all": "alias:+1"})
    return rich_text_to_plain(rich_text_blocks(blocks), References(NAMES, labels), emoji)


def test_styled_text_keeps_only_the_words():
    blocks = rich(
        section(
            text("plain "),
            text("bold", bold=True),
            text(" "),
            text("it", italic=True),
            text(" "),
            text("gone", strike=True),
            text(" "),
            text("x_y", code=True),
        )
    )
    assert plain(blocks) == "plain bold it gone x_y"


def test_emoji_elements():
    blocks = rich(
        section(
            {"type": "emoji", "name": "+1", "unicode": "1f44d"},
            {"type": "emoji", "name": "wave", "unicode": "1f44b-1f3fc", "skin_tone": 3},
            {"type": "emoji", "name": "wave", "skin_tone": 5},
            {"type": "emoji", "name": "simple_smile"},
            {"type": "emoji", "name": "thumbsup_all"},
            {"type": "emoji", "name": "partyparrot"},
        )
    )
    assert plain(blocks) == "👍👋🏼👋🏾🙂👍:partyparrot:"


def test_mentions_channels_groups_and_broadcasts():
    blocks = rich(
        section(
            {"type": "user", "user_id": "U0ALICE"},
            text(" "),
            {"type": "user", "user_id": "U0NOBODY"},
            text(" "),
            {"type": "channel", "channel_id": "C0GENERAL"},
            text(" "),
            {"type": "usergroup", "usergroup_id": "S0ONCALL"},
            text(" "),
            {"type": "usergroup", "usergroup_id": "S0LABELLED"},
            text(" "),
            {"type": "broadcast", "range": "here"},
            text(" "),
            {"type": "broadcast", "range": "everyone"},
        )
    )
    labels = {"S0LABELLED": "@team"}  # found in the message's mrkdwn text
    assert plain(blocks, labels) == "Alice Example @U0NOBODY #general @oncall @team @here @everyone"


def test_links_and_dates():
    blocks = rich(
        section(
            {"type": "link", "url": "https://example.com/hours", "text": "our hours"},
            text(" "),
            {"type": "link", "url": "https://example.com/a_b"},
            text(" "),
            {"type": "link", "url": "mailto:a@b.co", "text": "a@b.co"},
            text(" "),
            {"type": "date", "timestamp": 1392734382, "format": "{date}", "fallback": "Feb 18"},
            text(" "),
            {"type": "color", "value": "#FF0000"},
        )
    )
    expected = "our hours (https://example.com/hours) https://example.com/a_b a@b.co Feb 18 #FF0000"
    assert plain(blocks) == expected


def test_text_elements_are_literal():
    """Rich text holds characters as typed: nothing to decode, nothing to parse."""
    blocks = rich(section(text("fish & chips &amp; <@U0ALICE> *not bold* :smile: 2*3*4")))
    assert plain(blocks) == "fish & chips &amp; <@U0ALICE> *not bold* :smile: 2*3*4"


def test_lists_quotes_and_code_start_on_their_own_lines():
    blocks = rich(
        section(text("Agenda:\n")),
        {
            "type": "rich_text_list",
            "style": "ordered",
            "indent": 0,
            "elements": [section(text("one")), section(text("two"))],
        },
        {
            "type": "rich_text_list",
            "style": "bullet",
            "indent": 1,
            "elements": [section(text("detail"))],
        },
        {
            "type": "rich_text_list",
            "style": "ordered",
            "indent": 0,
            "offset": 2,
            "elements": [section(text("three"))],
        },
        {"type": "rich_text_quote", "elements": [text("quoted\nsecond")]},
        {"type": "rich_text_preformatted", "elements": [text("make *all*\n  indented")]},
        section(text("bye")),
    )
    assert plain(blocks) == (
        "Agenda:\n1. one\n2. two\n  - detail\n3. three\n> quoted\n> second\n"
        "make *all*\n  indented\nbye"
    )


def test_bullets_are_gsm_characters():
    blocks = rich({"type": "rich_text_list", "style": "bullet", "elements": [section(text("a"))]})
    assert plain(blocks) == "- a"


def test_several_rich_text_blocks_are_lines():
    blocks = rich(section(text("first"))) + rich(section(text("second")))
    assert plain(blocks) == "first\nsecond"


def test_only_rich_text_blocks_are_used():
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}, *rich()]
    assert [b["type"] for b in rich_text_blocks(blocks)] == ["rich_text"]
    assert rich_text_blocks(None) == []
    assert rich_text_blocks({"type": "rich_text"}) == []
    assert rich_text_blocks(["rich_text", 3]) == []


@pytest.mark.parametrize(
    "element",
    [
        {"type": "team", "team_id": "T1"},
        {"type": "something_new"},
        {"type": ["not", "a", "string"]},
        {"type": "text", "text": 5},
        {"type": "emoji", "name": "wave", "skin_tone": "3"},
        {"type": "broadcast", "range": "nobody"},
        {"type": "date"},
        {"type": "link", "url": None},
    ],
)
def test_what_is_not_understood_is_refused_not_dropped(element: dict[str, Any]):
    with pytest.raises(NotRichText):
        plain(rich(section(element)))


def test_a_list_item_must_be_a_section():
    blocks = rich({"type": "rich_text_list", "elements": [text("loose")]})
    with pytest.raises(NotRichText):
        plain(blocks)
