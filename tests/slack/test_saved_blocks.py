"""The template and group builders: within Slack's limits however many there are, and every
saved word escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.blocks.base import MAX_BLOCKS, SECTION_LIMIT
from bot.blocks.contacts import contact_replaced_message, contact_saved_message
from bot.blocks.saved import groups_message, templates_message, templates_view
from bot.domain.records import Group, Template

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _fits(blocks: list[dict], most: int = MAX_BLOCKS) -> bool:
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    return len(blocks) <= most and all(len(t) <= SECTION_LIMIT for t in texts)


def test_many_long_templates_fit_a_message_and_a_modal() -> None:
    templates = [Template(f"t{i}", "x" * 3000, NOW) for i in range(200)]
    message = templates_message(templates)
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert _fits(message.blocks) and "…and 155 more" in shown
    assert _fits(templates_view(templates)["blocks"], 100)


def test_many_large_groups_fit_a_message() -> None:
    members = tuple(f"2782{i:07d}" for i in range(500))
    groups = [Group(f"g{i}", members, NOW) for i in range(100)]
    message = groups_message(groups, {members[0]: "Ann"})
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert _fits(message.blocks) and "(500 members)" in shown and "Ann (+27 82 000 0000)" in shown


def test_saved_words_are_escaped() -> None:
    template = Template("<!channel>", "Hi <@U1> & {name}", NOW)
    shown = json.dumps(templates_message([template]).blocks)
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown and "&amp;" in shown
    group = Group("<b>", ("27821111111",), NOW)
    assert "&lt;b&gt;" in json.dumps(groups_message([group], {}).blocks)


def test_a_contacts_changed_number_names_the_groups_that_follow_it() -> None:
    one = contact_saved_message("Ann", "27825550109", False, "27825550103", ["crew"]).text
    assert one.endswith("(replacing +27 82 555 0103). The group crew now has the new number.")
    two = contact_replaced_message("Ann", None, "27825550103", "27825550109", ["crew", "night"])
    assert "sends to it. The groups crew, night now have the new number." in two.text
    none = contact_replaced_message("Ann", None, "27825550103", "27825550109").text
    assert none.endswith("for everyone who sends to it.")
