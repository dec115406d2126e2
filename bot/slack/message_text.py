"""A Slack message as the plain text the person meant, for an SMS (product.md §6, issue 12).

A reply typed in a conversation thread reaches Slack as markup: `:+1:` shortcodes, `<@U…>`
mentions, `<https://…|label>` links, `&amp;` escapes, `*bold*` marks, and (for messages people
type) `rich_text` blocks holding the same content already parsed. A phone must get the words:
👍, the person's name, `label (https://…)`, `&`, `bold`.

`slack_message_to_sms` prefers the `rich_text` blocks, because Slack has parsed them already
(no guessing about `*` or `_`), and falls back to the mrkdwn `text` when there are none or they
hold something we do not understand. It is pure: names come from lookups the caller injects
(`SlackNames`), and it never raises for any input, so no reply is lost to a conversion error.
The result says what the thread should be told (files left out, emoji a phone cannot show).

The pieces: `emoji_names` (shortcodes), `references` (mentions, channels, links, dates),
`mrkdwn_text` (the `text` field), `rich_text` (the blocks), `sms_size` (encoding and parts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.slack.emoji_names import EmojiNames
from bot.slack.mrkdwn_text import mrkdwn_to_plain
from bot.slack.references import References, SlackNames, token_labels
from bot.slack.rich_text import NotRichText, rich_text_blocks, rich_text_to_plain
from bot.slack.sms_size import SmsSize, measure_sms

__all__ = [
    "SlackNames",
    "SmsSize",
    "SmsText",
    "measure_sms",
    "slack_message_to_sms",
    "sms_text_from_event",
]

NO_NAMES = SlackNames()


@dataclass(frozen=True)
class SmsText:
    """What a Slack message becomes for a phone.

    `text`: the converted text (surrounding whitespace trimmed). `source`: whether it came from
    the rich-text blocks or the mrkdwn `text`. `files_left_out`: files attached to the message,
    which SMS cannot carry. `emoji_kept_as_typed`: shortcodes no emoji was found for (custom
    image emoji such as `:partyparrot:`), which reach the phone as typed.
    """

    text: str
    source: Literal["blocks", "text"]
    files_left_out: int = 0
    emoji_kept_as_typed: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to send: the relay must say so in the thread instead of sending."""
        return not self.text.strip()

    @property
    def notes(self) -> tuple[str, ...]:
        """Sentences for the thread about what was left out or could not be converted."""
        notes: list[str] = []
        if self.files_left_out and self.is_empty:
            notes.append("Files are not sent by SMS, and this reply has no text to send.")
        elif self.files_left_out:
            files = "The file is" if self.files_left_out == 1 else "Files are"
            notes.append(f"{files} not sent by SMS: the phone gets only the text.")
        elif self.is_empty:
            notes.append("This reply has no text to send by SMS.")
        if self.emoji_kept_as_typed:
            shown = ", ".join(self.emoji_kept_as_typed)
            one = len(self.emoji_kept_as_typed) == 1
            has, it = ("has", "it") if one else ("have", "them")
            notes.append(f"{shown} {has} no standard emoji: the phone gets {it} as typed.")
        return tuple(notes)

    def size(self) -> SmsSize:
        """Encoding and parts of the converted text (what the thread note reports)."""
        return measure_sms(self.text)


def _from_blocks(
    blocks: object, references: References, custom: Mapping[str, str]
) -> tuple[str, EmojiNames] | None:
    """(text, emoji names) from the rich-text blocks, or None when they are absent or unusable."""
    rich = rich_text_blocks(blocks)
    if not rich:
        return None
    emoji = EmojiNames(custom)
    try:
        return rich_text_to_plain(rich, references, emoji), emoji
    except NotRichText:
        return None


def _count_files(files: object) -> int:
    return len(files) if isinstance(files, list | tuple) else 0


def slack_message_to_sms(
    text: str | None,
    blocks: object = None,
    *,
    files: object = None,
    names: SlackNames = NO_NAMES,
) -> SmsText:
    """The SMS text for a Slack message: its `text`, `blocks` and `files` as the event has
    them (any JSON-ish value is accepted), with names from `names`."""
    raw = text if isinstance(text, str) else ""
    custom = names.custom_emoji if isinstance(names.custom_emoji, Mapping) else {}
    references = References(names, token_labels(raw))
    converted = _from_blocks(blocks, references, custom)
    if converted is not None and (converted[0].strip() or not raw.strip()):
        plain, emoji = converted
        source: Literal["blocks", "text"] = "blocks"
    else:
        emoji = EmojiNames(custom)
        plain, source = mrkdwn_to_plain(raw, references, emoji), "text"
    return SmsText(plain.strip(), source, _count_files(files), emoji.kept_as_typed)


def sms_text_from_event(event: Mapping[str, Any], names: SlackNames = NO_NAMES) -> SmsText:
    """`slack_message_to_sms` for a `message` event (plain, `thread_broadcast`, `file_share`)."""
    return slack_message_to_sms(
        event.get("text"), event.get("blocks"), files=event.get("files"), names=names
    )
