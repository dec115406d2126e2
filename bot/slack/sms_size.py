"""Encoding and parts of a converted reply, in words for its thread (issue 12).

An emoji turns an otherwise GSM-7 reply into UCS-2, which more than halves what one part holds
(160 -> 70), so the thread says so whenever a relayed reply is UCS-2 or longer than one part,
and names the characters responsible. A reply over the part limit is refused with the reason.

This is the only module here that imports the gateway's measuring function; it is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

import emoji

# The one import of the measuring function. After the storage/gateway restructuring it lives in
# bot.sms.encoding; the integrator changes this line only.
from bot.sms.encoding import measure

_SHOWN_CHARACTERS = 5
_ENCODING_WORDS = {"gsm7": "GSM-7", "ucs2": "Unicode (UCS-2)"}


def _parts(count: int) -> str:
    return f"{count} SMS part" + ("" if count == 1 else "s")


def unicode_characters(text: str) -> tuple[str, ...]:
    """The characters (whole emoji, with their modifiers) that need UCS-2, in order, once each."""
    found: list[str] = []
    covered: set[int] = set()
    for item in emoji.emoji_list(text):
        covered.update(range(item["match_start"], item["match_end"]))
        if measure(item["emoji"])[0] == "ucs2":
            found.append(item["emoji"])
    for index, char in enumerate(text):
        if index not in covered and measure(char)[0] == "ucs2":
            found.append(char)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class SmsSize:
    """What a text costs as SMS: `encoding` ("gsm7"/"ucs2"), `length` in septets or UCS-2
    units, `parts`, and the characters that made it UCS-2."""

    encoding: str
    length: int
    parts: int
    unicode_characters: tuple[str, ...] = ()

    @property
    def is_unicode(self) -> bool:
        return self.encoding == "ucs2"

    def _culprits(self) -> str:
        shown = " ".join(self.unicode_characters[:_SHOWN_CHARACTERS])
        hidden = len(self.unicode_characters) - _SHOWN_CHARACTERS
        return shown + (f" and {hidden} more" if hidden > 0 else "")

    def _encoding_words(self) -> str:
        words = _ENCODING_WORDS.get(self.encoding, self.encoding)
        return f"{words}, because of {self._culprits()}" if self.unicode_characters else words

    def thread_note(self) -> str | None:
        """The note for a relayed reply: only when it is UCS-2 or more than one part."""
        if not self.is_unicode and self.parts <= 1:
            return None
        return f"Sent as {self._encoding_words()}: {_parts(self.parts)}."

    def refusal(self, max_parts: int) -> str | None:
        """Why the reply is not sent, when it needs more than `max_parts` parts; else None."""
        if self.parts <= max_parts:
            return None
        remedy = "shorten it"
        if self.unicode_characters:
            remedy += f" or leave out {self._culprits()}"
        return (
            f"Not sent: this reply needs {_parts(self.parts)} as {self._encoding_words()}, "
            f"and the limit is {max_parts}. To send it, {remedy} and reply again."
        )


def measure_sms(text: str) -> SmsSize:
    """Encoding, length, parts and UCS-2 characters of `text` as the gateway will send it."""
    encoding, length, parts = measure(text)
    culprits = unicode_characters(text) if encoding == "ucs2" else ()
    return SmsSize(encoding, length, parts, culprits)
