"""Slack's mrkdwn `text` as plain words: tokens, entities, code and formatting marks."""

from __future__ import annotations

import pytest

from bot.slack.emoji_names import EmojiNames
from bot.slack.mrkdwn_text import mrkdwn_to_plain
from bot.slack.references import References, SlackNames, decode_entities, token_labels

PEOPLE = {"U0ALICE": "Alice Example", "U0BOB": "Bob"}
CHANNELS = {"C0GENERAL": "general", "C0HASH": "#already-hashed"}
GROUPS = {"S0ONCALL": "oncall"}


def _names() -> SlackNames:
    return SlackNames(user=PEOPLE.get, channel=CHANNELS.get, usergroup=GROUPS.get)


def plain(text: str, names: SlackNames | None = None) -> str:
    references = References(names or _names(), token_labels(text))
    return mrkdwn_to_plain(text, references, EmojiNames())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ask <@U0ALICE>", "ask Alice Example"),
        ("ask <@U0ALICE|alice>", "ask Alice Example"),  # the lookup wins over a stale label
        ("ask <@U0NOBODY|carol>", "ask carol"),
        ("ask <@U0NOBODY>", "ask @U0NOBODY"),
        ("in <#C0GENERAL|general>", "in #general"),
        ("in <#C0GENERAL>", "in #general"),
        ("in <#C0GENERAL|>", "in #general"),  # newer Slack sends an empty label
        ("in <#C0HASH>", "in #already-hashed"),
        ("in <#C0UNKNOWN>", "in #C0UNKNOWN"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!here|here> <!channel|@channel>", "@here @channel"),
        ("<!subteam^S0ONCALL|@oncall> help", "@oncall help"),
        ("<!subteam^S0ONCALL> help", "@oncall help"),
        ("<!subteam^S0OTHER> help", "@S0OTHER help"),
        ("<!date^1392734382^{date_num}|Posted 2014-02-18>", "Posted 2014-02-18"),
        ("<!date^1392734382^{date_num}>", "2014-02-18 14:39 UTC"),
    ],
)
def test_mentions_become_names(text: str, expected: str):
    assert plain(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see <https://example.com/hours|our hours>", "see our hours (https://example.com/hours)"),
        ("see <https://example.com/hours>", "see https://example.com/hours"),
        ("see <https://example.com|https://example.com>", "see https://example.com"),
        ("see <http://example.com|example.com>", "see example.com"),  # as the person typed it
        ("mail <mailto:a@b.co|a@b.co>", "mail a@b.co"),
        ("mail <mailto:a@b.co|Alice>", "mail Alice (a@b.co)"),
        ("<https://x.co/?a=1&amp;b=2|a &amp; b>", "a & b (https://x.co/?a=1&b=2)"),
        ("<https://x.co/snake_case_path>", "https://x.co/snake_case_path"),
    ],
)
def test_links_become_their_address_with_the_label(text: str, expected: str):
    assert plain(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fish &amp; chips", "fish & chips"),
        ("1 &lt; 2 &gt; 0", "1 < 2 > 0"),
        ("&amp;lt;", "&lt;"),  # decoded exactly once
        ("&lt;@U0ALICE&gt;", "<@U0ALICE>"),  # typed literally: stays literal, not a mention
        ("&lt;!here&gt;", "<!here>"),
        ("&quot; &nbsp;", "&quot; &nbsp;"),  # Slack escapes only three
    ],
)
def test_entities_are_decoded_once_after_tokens(text: str, expected: str):
    assert plain(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*bold* _italic_ ~strike~", "bold italic strike"),
        ("a *bold move*, then", "a bold move, then"),
        ("(*in brackets*)", "(in brackets)"),
        ('"*quoted*"', '"quoted"'),
        ("*_both_*", "both"),
        ("_*both*_", "both"),
        ("**double**", "double"),
        ("*<https://x.co|label>*", "label (https://x.co)"),
        ("*<@U0ALICE>*", "Alice Example"),
        ("*:+1:*", "👍"),
        # ordinary characters are kept
        ("2*3*4", "2*3*4"),
        ("snake_case_name", "snake_case_name"),
        ("a_b", "a_b"),
        ("/_private_/", "/_private_/"),
        ("* not bold *", "* not bold *"),
        ("*a*b*", "*a*b*"),
        ("x *across\nlines* y", "x *across\nlines* y"),
        ("price*", "price*"),
        ("_snake_case_", "_snake_case_"),  # conservative: Slack would italicise it
    ],
)
def test_formatting_marks_go_ordinary_characters_stay(text: str, expected: str):
    assert plain(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("run `make_all *now*`", "run make_all *now*"),
        ("```line_one\n*two* :smile:```", "line_one\n*two* :smile:"),
        ("`a &amp; b`", "a & b"),
        ("*`code`*", "code"),
        ("`:smile:` :smile:", ":smile: 😄"),
        ("one ` backtick", "one ` backtick"),
    ],
)
def test_code_loses_its_backticks_and_keeps_its_content(text: str, expected: str):
    assert plain(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<https://cut.off", "https://cut.off"),  # a truncated token
        ("<<@U0ALICE>>", "Alice Example>"),  # never rebuilds a token
        ("quote&gt; kept >", "quote> kept >"),
    ],
)
def test_raw_brackets_that_open_no_token_are_dropped(text: str, expected: str):
    assert plain(text) == expected


def test_deep_nesting_is_bounded_not_stripped_forever():
    """A pass per nesting level is bounded, so ten thousand stars cannot stall the relay."""
    stars = "*" * 10_000
    assert plain(f"{stars}x{stars}") == f"{stars[3:]}x{stars[3:]}"


def test_the_issue_reproduction():
    text = (
        "…till 5 :+1: :slightly_smiling_face: ask <@U0ALICE> or see "
        "<https://example.com/hours|our hours> &amp; *bold*"
    )
    assert plain(text) == (
        "…till 5 👍 🙂 ask Alice Example or see our hours (https://example.com/hours) & bold"
    )


def test_a_failing_lookup_falls_back_instead_of_losing_the_message():
    def broken(_: str) -> str:
        raise TimeoutError("users.info timed out")

    names = SlackNames(user=broken, channel=broken, usergroup=broken)
    assert plain("<@U0ALICE> <#C0GENERAL> <!subteam^S0X>", names) == "@U0ALICE #C0GENERAL @S0X"


def test_lookups_that_answer_blank_count_as_unknown():
    names = SlackNames(user=lambda _: "  ")
    assert plain("<@U0ALICE|alice>", names) == "alice"


def test_token_labels_collect_what_slack_wrote():
    text = "<@U1|ann> <#C1|general> <!subteam^S1|@team> <https://x|y> <@U2> <#C2|a &amp; b>"
    assert token_labels(text) == {"U1": "ann", "C1": "general", "S1": "@team", "C2": "a & b"}


def test_decode_entities_is_single_pass():
    assert decode_entities("&amp;amp; &amp;gt;") == "&amp; &gt;"
