"""A Slack message as the SMS text the person meant: blocks first, text as fallback, notes."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.message_text import SlackNames, SmsText, slack_message_to_sms, sms_text_from_event

NAMES = SlackNames(user={"U0ALICE": "Alice Example"}.get, channel={"C0GENERAL": "general"}.get)
ISSUE_TEXT = (
    "…till 5 :+1: :slightly_smiling_face: ask <@U0ALICE> or see "
    "<https://example.com/hours|our hours> &amp; *bold*"
)
ISSUE_EXPECTED = (
    "…till 5 👍 🙂 ask Alice Example or see our hours (https://example.com/hours) & bold"
)
# The same reply as Slack's rich_text blocks carry it.
ISSUE_BLOCKS = [
    {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "text", "text": "…till 5 "},
                    {"type": "emoji", "name": "+1", "unicode": "1f44d"},
                    {"type": "text", "text": " "},
                    {"type": "emoji", "name": "slightly_smiling_face", "unicode": "1f642"},
                    {"type": "text", "text": " ask "},
                    {"type": "user", "user_id": "U0ALICE"},
                    {"type": "text", "text": " or see "},
                    {"type": "link", "url": "https://example.com/hours", "text": "our hours"},
                    {"type": "text", "text": " & "},
                    {"type": "text", "text": "bold", "style": {"bold": True}},
                ],
            }
        ],
    }
]
SLACK_TOKEN = re.compile(r"<[^<>]*>")


def section_blocks(*elements: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [*elements]}]}
    ]


def test_the_issue_reproduction_from_text():
    result = slack_message_to_sms(ISSUE_TEXT, names=NAMES)
    assert result == SmsText(ISSUE_EXPECTED, "text")
    assert result.notes == ()


def test_the_issue_reproduction_from_blocks_reads_the_same():
    result = slack_message_to_sms(ISSUE_TEXT, ISSUE_BLOCKS, names=NAMES)
    assert result == SmsText(ISSUE_EXPECTED, "blocks")


def test_blocks_are_preferred_over_text():
    blocks = section_blocks({"type": "text", "text": "from blocks"})
    assert slack_message_to_sms("from text", blocks).text == "from blocks"


def test_unusable_blocks_fall_back_to_text():
    blocks = section_blocks({"type": "text", "text": "half"}, {"type": "brand_new_element"})
    result = slack_message_to_sms("the *whole* message", blocks)
    assert result == SmsText("the whole message", "text")


def test_blocks_that_read_as_nothing_do_not_hide_the_text():
    blocks = section_blocks({"type": "text", "text": "  "})
    assert slack_message_to_sms("something", blocks) == SmsText("something", "text")


def test_non_rich_text_blocks_fall_back_to_text():
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*x*"}}]
    assert slack_message_to_sms("*x*", blocks) == SmsText("x", "text")


def test_workspace_custom_emoji_aliases_are_followed():
    names = SlackNames(custom_emoji={"thumbsup_all": "alias:+1", "shipit": "https://img/s.png"})
    result = slack_message_to_sms("done :thumbsup_all: :shipit: :partyparrot:", names=names)
    assert result.text == "done 👍 :shipit: :partyparrot:"
    assert result.emoji_kept_as_typed == (":shipit:", ":partyparrot:")
    assert result.notes == (
        ":shipit:, :partyparrot: have no standard emoji: the phone gets them as typed.",
    )


def test_an_unknown_emoji_note_names_it():
    result = slack_message_to_sms("yay :partyparrot:")
    assert result.notes == (":partyparrot: has no standard emoji: the phone gets it as typed.",)


def test_files_are_reported_not_sent():
    result = slack_message_to_sms("see attached", files=[{"id": "F1"}])
    assert result.text == "see attached"
    assert result.files_left_out == 1
    assert result.notes == ("The file is not sent by SMS: the phone gets only the text.",)
    two = slack_message_to_sms("see attached", files=[{"id": "F1"}, {"id": "F2"}])
    assert two.notes == ("Files are not sent by SMS: the phone gets only the text.",)


def test_a_file_without_text_says_nothing_can_be_sent():
    result = slack_message_to_sms("", files=[{"id": "F1"}])
    assert result.is_empty
    assert result.notes == ("Files are not sent by SMS, and this reply has no text to send.",)


def test_an_empty_reply_says_so():
    assert slack_message_to_sms("   ").notes == ("This reply has no text to send by SMS.",)
    assert slack_message_to_sms(None).is_empty


def test_events_are_read_as_slack_sends_them():
    event = {
        "type": "message",
        "subtype": "thread_broadcast",
        "text": ISSUE_TEXT,
        "blocks": ISSUE_BLOCKS,
        "files": [{"id": "F1", "name": "menu.pdf"}],
        "thread_ts": "1.2",
    }
    result = sms_text_from_event(event, NAMES)
    assert result == SmsText(ISSUE_EXPECTED, "blocks", files_left_out=1)


def test_the_size_is_that_of_the_converted_text():
    result = slack_message_to_sms("ok :+1:")
    size = result.size()
    assert (size.encoding, size.parts, size.unicode_characters) == ("ucs2", 1, ("👍",))
    plain = slack_message_to_sms("ok *thanks*").size()
    assert (plain.encoding, plain.length, plain.parts) == ("gsm7", 9, 1)


# --- properties ---------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
INLINE_TYPES = ["text", "link", "emoji", "user", "usergroup", "channel", "broadcast", "date"]
SECTION_TYPES = ["rich_text_section", "rich_text_quote", "rich_text_preformatted"]
FIELDS = [
    "text",
    "url",
    "name",
    "unicode",
    "skin_tone",
    "user_id",
    "usergroup_id",
    "channel_id",
    "range",
    "timestamp",
    "fallback",
    "style",
    "indent",
    "offset",
]
FIELD_VALUES = [
    st.sampled_from(["here", "channel", "everyone", "bullet", "ordered"]),
    st.sampled_from(["+1", "wave", "partyparrot", "flag-za", "1f44d", "1f44b-1f3fc", "110000"]),
    st.integers(min_value=-1, max_value=8),
    st.integers(),
    st.none(),
    st.booleans(),
]


def rich_ish(strings: st.SearchStrategy[str]) -> st.SearchStrategy[list[Any]]:
    """Blocks shaped like Slack's rich text (block, sections or lists, inline elements) with
    any values in the fields, plus an occasional unknown type or a stray JSON value."""
    fields = st.dictionaries(
        st.sampled_from(FIELDS), st.one_of(*[strings] * 6, *FIELD_VALUES), max_size=3
    )

    def typed(kinds: list[str], **more: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        kind = st.sampled_from(kinds * 5 + ["team", "new_kind"])
        return st.builds(lambda k, f, **m: {**f, "type": k, **m}, kind, fields, **more)

    inline = st.one_of(*[typed(INLINE_TYPES)] * 9, json_values)
    section = typed(SECTION_TYPES, elements=st.lists(inline, max_size=5))
    rich_list = typed(["rich_text_list"], elements=st.lists(section, max_size=3))
    block = typed(["rich_text"], elements=st.lists(section | rich_list, max_size=4))
    return st.lists(block, max_size=3)


no_token_text = st.text().filter(lambda t: "&" not in t)  # `&lt;` would be literal on purpose
strings_without_brackets = st.text(max_size=20).filter(lambda t: "<" not in t)
plain_text = st.text(alphabet=st.characters(blacklist_characters="<&:*_~`", codec="utf-8"))


@given(st.text() | json_values, rich_ish(st.text(max_size=20)) | json_values, json_values)
def test_never_raises_on_anything(text: Any, blocks: Any, files: Any):
    result = slack_message_to_sms(text, blocks, files=files, names=NAMES)
    assert isinstance(result.text, str)
    assert all(isinstance(note, str) for note in result.notes)


@given(no_token_text)
def test_never_leaves_slack_tokens_in_text(text: str):
    assert SLACK_TOKEN.search(slack_message_to_sms(text, names=NAMES).text) is None


@given(no_token_text, rich_ish(strings_without_brackets))
def test_never_leaves_slack_tokens_from_blocks(text: str, blocks: Any):
    assert SLACK_TOKEN.search(slack_message_to_sms(text, blocks, names=NAMES).text) is None


@given(plain_text)
def test_plain_text_passes_unchanged_and_converting_twice_changes_nothing(text: str):
    once = slack_message_to_sms(text, names=NAMES).text
    assert once == text.strip()
    assert slack_message_to_sms(once, names=NAMES).text == once
