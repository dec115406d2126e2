"""A phone text longer than one Slack section is split into sections BEFORE it is escaped, so
no section ends inside an entity (`…&` / `lt;tail&gt;`) and each fits Slack's 3,000 characters
(issue 16, case 12). An MO callback over loopback, posted by the real app to the fake Slack."""

from __future__ import annotations

import re

import pytest

from bot.blocks.base import SECTION_LIMIT, quote, unescape
from tests.hardening.support import (
    SMS_CHANNEL,
    InboundHarness,
    mo_params,
    post,
    text_sections,
    wait_for,
)

# Anything but a whole entity after an ampersand is a cut one.
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")

TEXTS = {
    # escaped, "<" becomes "&lt;" at 2,898-2,901: the old 2,900-character cut fell inside it
    "entity at the boundary": "x" * 2898 + "<tail>" + " end",
    # every character escapes to five: any cut by escaped length lands in an entity
    "ampersands only": "&" * 3000,
    "mixed": ("a<b>&c " * 900),
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_a_long_phone_text_is_split_between_entities(app: InboundHarness, name: str) -> None:
    text = TEXTS[name]
    params = mo_params(f"mo-long-{len(name)}", "27821234567", text)
    assert post(app.http, app.url + "/clickatell/mo", params, app.callback_auth).status_code == 200
    (message,) = wait_for(lambda: app.fake.posts(SMS_CHANNEL), what="the SMS in Slack")
    sections = text_sections(message)
    assert len(sections) > 1
    for number, section in enumerate(sections):
        assert len(section) <= SECTION_LIMIT, (number, len(section))
        assert not BROKEN_ENTITY.search(section), (number, section[:20], section[-20:])
    assert unescape("".join(sections)) == text


@pytest.mark.parametrize("text", ["y" * 2498 + "<b>", "&" * 600, "<" * 2500])
def test_a_card_quoting_a_long_text_clips_it_between_entities(text: str) -> None:
    """The card quotes the sent text clipped to 2,500 characters: clipped after escaping, an
    entity could be cut in half there too."""
    quoted = quote(text)
    assert not BROKEN_ENTITY.search(quoted), quoted[-20:]
    assert quoted.endswith("…") and len(quoted) <= 2500 + 1
    assert text.startswith(unescape(quoted[1:-1]))
