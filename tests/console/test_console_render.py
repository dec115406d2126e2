"""The console's Block Kit / mrkdwn renderer: pure functions, checked line by line."""

from __future__ import annotations

import string
import time

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.base import escape
from bot.blocks.compose import ComposeValues, compose_view
from bot.console.render import (
    Control,
    Style,
    changed_lines,
    controls,
    indent,
    mrkdwn,
    render_block,
    render_blocks,
    render_message,
    text_object,
    view_fields,
    view_notes,
    view_title,
)

PLAIN = Style(ansi=False, unicode=True, users={"U0ME": "you"}, channels={"C0SMS": "sms"})
ASCII = Style(ansi=False, unicode=False)
ANSI = Style(ansi=True, unicode=True)


def numbered(start: int = 1):
    """A numberer handing out 1, 2, 3 … and remembering what it was asked about."""
    seen: list[Control] = []

    def number(control: Control) -> int:
        seen.append(control)
        return start + len(seen) - 1

    return number, seen


# --------------------------------------------------------------------------- mrkdwn


def test_bold_italic_strike_lose_their_markers_without_ansi() -> None:
    assert mrkdwn("*SMS* to _Bob_ was ~sent~", PLAIN) == "SMS to Bob was sent"


def test_ansi_renders_emphasis_as_attributes() -> None:
    assert mrkdwn("*bold* and _it_", ANSI) == "\033[1mbold\033[22m and \033[3mit\033[23m"


def test_markers_inside_words_are_not_formatting() -> None:
    assert mrkdwn("2*3*4 and snake_case_name", PLAIN) == "2*3*4 and snake_case_name"


def test_links_show_text_and_url() -> None:
    assert mrkdwn("see <https://example.com/a?b=1|the docs>", PLAIN) == (
        "see the docs (https://example.com/a?b=1)"
    )
    assert mrkdwn("<https://example.com>", PLAIN) == "https://example.com"
    assert mrkdwn("<mailto:a@b.c|a@b.c>", PLAIN) == "a@b.c (mailto:a@b.c)"


def test_mentions_use_known_names() -> None:
    text = "<@U0ME> in <#C0SMS> cc <@U0OTHER> <!channel> <!here> <!subteam^S1|@ops>"
    assert mrkdwn(text, PLAIN) == "@you in #sms cc @U0OTHER @channel @here @ops"


def test_dates_show_in_this_machines_time_zone(monkeypatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30
    time.tzset()
    try:
        shown = mrkdwn("due <!date^1740821400^{date_short_pretty} {time}|2025-03-01 09:30 UTC>")
        assert shown == "due 2025-03-01 15:00"
        assert mrkdwn("<!date^soon^{time}|whenever>") == "whenever"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_escaped_control_characters_are_shown_literally_and_never_parsed() -> None:
    phone_text = "<!channel> <@U0ME> <https://evil.example|click> & more"
    shown = mrkdwn(escape(phone_text), PLAIN)
    assert shown == phone_text


def test_double_escaped_entities_come_out_once_unescaped() -> None:
    assert mrkdwn("&amp;lt;", PLAIN) == "&lt;"


def test_inline_code_is_not_formatted_and_loses_backticks() -> None:
    assert mrkdwn("id `a*b*c` *done*", PLAIN) == "id a*b*c done"


def test_code_fences_keep_their_lines() -> None:
    assert mrkdwn("Usage:\n```/sms send TO TEXT\n/sms balance```", PLAIN) == (
        "Usage:\n/sms send TO TEXT\n/sms balance"
    )


def test_quotes_become_a_bar() -> None:
    assert mrkdwn(">Are you coming?\n>\n>Bye", PLAIN) == "│ Are you coming?\n│\n│ Bye"
    assert mrkdwn(">quoted", ASCII) == "| quoted"


def test_an_escaped_greater_than_at_line_start_is_not_a_quote() -> None:
    assert mrkdwn("&gt; not a quote", PLAIN) == "> not a quote"


def test_emoji_codes_become_emoji_only_in_unicode() -> None:
    assert mrkdwn(":white_check_mark: ok :no_such_emoji:", PLAIN) == "✅ ok :no_such_emoji:"
    assert mrkdwn(":white_check_mark: ok", ASCII) == ":white_check_mark: ok"


def test_plain_text_objects_are_literal_but_decode_entities() -> None:
    obj = {"type": "plain_text", "text": "*not bold* &lt;3 :tada:", "emoji": False}
    assert text_object(obj, PLAIN) == "*not bold* <3 :tada:"
    assert text_object({**obj, "emoji": True}, PLAIN) == "*not bold* <3 🎉"


@given(st.text(alphabet=st.characters(exclude_characters="*_~`:\r"), max_size=80))
def test_escaped_text_without_markup_reads_back_exactly(text: str) -> None:
    assert mrkdwn(escape(text), ASCII) == text


@given(st.text(max_size=80))
def test_plain_text_round_trips_any_text(text: str) -> None:
    assert text_object({"type": "plain_text", "text": escape(text), "emoji": False}) == text


@given(st.text(alphabet=string.printable, max_size=80))
def test_no_ansi_codes_without_ansi(text: str) -> None:
    assert "\033" not in mrkdwn(text.replace("\033", ""), PLAIN)


# --------------------------------------------------------------------------- blocks


def test_header_section_fields_context_divider() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Balance"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Credit:* 12.5"},
            "fields": [
                {"type": "mrkdwn", "text": "*To*\n+27 82 555 0103"},
                {"type": "plain_text", "text": "1 part"},
            ],
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": ":test_tube: Sandbox"},
                {"type": "image", "image_url": "https://x/y.png", "alt_text": "logo"},
            ],
        },
    ]
    assert render_blocks(blocks, PLAIN) == [
        "Balance",
        "Credit: 12.5",
        "To",
        "+27 82 555 0103",
        "1 part",
        "─" * 40,
        "🧪 Sandbox  ·  [image: logo]",
    ]


def button(action_id: str, label: str, **extra: str) -> dict:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        **extra,
    }


def options(*labels: str) -> list[dict]:
    return [{"text": {"type": "plain_text", "text": label}} for label in labels]


def test_buttons_are_numbered_by_the_caller_and_styled() -> None:
    number, seen = numbered(7)
    block = {
        "type": "actions",
        "block_id": "card-1",
        "elements": [
            button("cancel", "Cancel", style="danger", value="1"),
            button("docs", "Docs", url="https://example.com"),
        ],
    }
    assert render_block(block, PLAIN, number) == ["[7] Cancel   [8] Docs (https://example.com)"]
    assert [c.label for c in seen] == ["Cancel", "Docs"]
    assert seen[0].block_id == "card-1"
    assert render_block(block, ANSI, numbered()[0])[0].startswith("\033[31m[1] Cancel\033[39m")


def test_section_accessory_button_and_menus() -> None:
    number, _ = numbered()
    block = {
        "type": "section",
        "block_id": "b",
        "text": {"type": "mrkdwn", "text": "Scheduled"},
        "accessory": button("x", "Stop"),
    }
    assert render_block(block, PLAIN, number) == ["Scheduled", "[1] Stop"]
    menu = {
        "type": "actions",
        "elements": [
            {"type": "static_select", "options": options("a", "b")},
            {"type": "datepicker", "placeholder": {"type": "plain_text", "text": "pick"}},
        ],
    }  # fmt: skip
    assert render_block(menu, PLAIN) == ["(menu: a / b)   (datepicker: pick)"]


def test_controls_lists_every_button_in_order() -> None:
    blocks = [
        {
            "type": "section",
            "block_id": "s",
            "text": {"type": "mrkdwn", "text": "x"},
            "accessory": button("one", "1"),
        },
        {
            "type": "actions",
            "block_id": "a",
            "elements": [button("two", "2"), {"type": "static_select", "action_id": "menu"}],
        },
    ]
    assert [(c.block_id, c.element["action_id"]) for c in controls(blocks)] == [
        ("s", "one"),
        ("a", "two"),
    ]


def test_rich_text_image_input_and_unknown_blocks_are_never_dropped_silently() -> None:
    rich = {
        "type": "rich_text",
        "elements": [
            {
                "type": "rich_text_section",
                "elements": [
                    {"type": "text", "text": "hi "},
                    {"type": "user", "user_id": "U0ME"},
                    {"type": "emoji", "name": "tada"},
                    {"type": "link", "url": "https://x.example"},
                ],
            }
        ],
    }
    assert render_block(rich, PLAIN) == ["hi @you🎉https://x.example"]
    assert render_block({"type": "image", "alt_text": "chart"}, PLAIN) == ["[image: chart]"]
    assert render_block({"type": "video"}, PLAIN) == ["[video block]"]


def test_a_message_without_blocks_shows_its_text() -> None:
    assert render_message({"text": "*hi* <@U0ME>"}, PLAIN) == ["hi @you"]
    assert render_message({"text": "", "blocks": []}, PLAIN) == []
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "from blocks"}}]
    assert render_message({"text": "fallback", "blocks": blocks}, PLAIN) == ["from blocks"]


# --------------------------------------------------------------------------- modals


def test_the_compose_modal_becomes_questions_with_its_preview_notes() -> None:
    view = compose_view("C0SMS", ComposeValues(text="Hello €"), max_parts=3, sandbox=True)
    assert view_title(view, PLAIN) == "Send an SMS"
    fields = view_fields(view, PLAIN)
    assert [(f.block_id, f.label, f.optional, f.dispatches) for f in fields] == [
        ("recipients", "To", False, False),
        ("text", "Text", False, True),
        ("when", "Send at (optional)", True, False),
    ]
    assert fields[0].hint.startswith("Numbers with country code")
    assert fields[1].initial == "Hello €"
    preview = view_notes(view, PLAIN, after="text")
    assert len(preview) == 1 and "1 part" in preview[0] and "UCS-2" in preview[0]
    assert view_notes(view, PLAIN, after="when") == ["🧪 Sandbox gateway: no real SMS is sent."]
    assert view_notes(view, PLAIN, after="nope") == []


# --------------------------------------------------------------------------- layout


def test_changed_lines_are_the_new_lines_only() -> None:
    old = ["heading", "⏳ Sending…", "1 part"]
    new = ["heading", "✅ Received", "1 part"]
    assert changed_lines(old, new) == ["✅ Received"]
    assert changed_lines(new, new) == []
    assert changed_lines(["a"], ["a", "a"]) == ["a"]


def test_indent_leaves_empty_lines_empty() -> None:
    assert indent(["a", "", "b"], 3) == ["   a", "", "   b"]
