"""Compliance keywords in an inbound SMS: opt-out, opt-in and help (product.md §6).

Phones do not type commands, they type sentences: `Stop.`, `stop please`, `STOP ALL`, `"STOP!!!"`,
`Opt-Out`. product.md §6 makes the *first word* decide, whatever its case and punctuation, so
this module's one job is to find that word the same way every time:

- Leading spaces, punctuation, quotes and emoji are skipped; the first word is the first run of
  letters and digits. It ends at the first character that is neither (a space, `.`, `!`, `,`,
  an emoji…), so trailing text never changes the answer.
- Letters glued to a keyword make a different word: `Stopping by later` is not an opt-out and
  `Yesterday…` is not an opt-in. Digits count as letters here for the same reason (`stop2`).
- Hyphens, underscores and apostrophes *between* letters join a word (`Opt-Out`, `opt_out` ->
  `OPTOUT`; `don't` -> `DONT`), because phones and people spell compound keywords that way.
- `OPT OUT` as two words also reads as `OPTOUT`: `OPT` alone means nothing, so the only thing a
  person typing it can mean is the keyword. No other pair of words is joined (`STOP ALL` is
  `STOP`, as the spec says).
- Compatibility forms are folded first (NFKC), so full-width `ＳＴＯＰ` from some keyboards counts.

It imports nothing of the project: it is a rule, the caller records what it means.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class KeywordKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    NONE = "none"


OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "END", "CANCEL", "UNSUBSCRIBE", "QUIT", "OPTOUT", "REVOKE"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES", "SUBSCRIBE"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
# Not typed by anyone: the opt-out record's keyword when the gateway refused a send because the
# recipient had opted out with it (legacy 122, One API 26; product.md §6).
GATEWAY_OPT_OUT = "GATEWAY"
# Not typed by the phone either: the keyword of an opt-out or opt-in an admin made by command
# (`/sms optout`, `/sms optin`); the record names the admin.
ADMIN_CHANGE = "ADMIN"

KEYWORD_KINDS: dict[str, KeywordKind] = {
    **{word: KeywordKind.OPT_OUT for word in OPT_OUT_KEYWORDS},
    **{word: KeywordKind.OPT_IN for word in OPT_IN_KEYWORDS},
    **{word: KeywordKind.HELP for word in HELP_KEYWORDS},
}


@dataclass(frozen=True)
class Keyword:
    """What an inbound SMS asks for. `keyword` is the normalized keyword (`STOP`, `OPTOUT`) that
    decided it, for the opt-out record and the thread note; None when `kind` is NONE."""

    kind: KeywordKind
    keyword: str | None = None

    @property
    def is_opt_out(self) -> bool:
        return self.kind is KeywordKind.OPT_OUT

    @property
    def is_opt_in(self) -> bool:
        return self.kind is KeywordKind.OPT_IN

    @property
    def is_help(self) -> bool:
        return self.kind is KeywordKind.HELP


NO_KEYWORD = Keyword(KeywordKind.NONE)

# A word: letters and digits ([^\W_]), optionally joined by a hyphen, underscore or apostrophe
# between two of them. Anything else ends it.
_JOINERS = "-\u2010\u2011_'\u2019"
_WORD = re.compile(rf"[^\W_]+(?:[{_JOINERS}][^\W_]+)*")
_JOINER = re.compile(rf"[{_JOINERS}]")


def _words(text: str) -> list[str]:
    """The first two words, upper-cased, with joiners removed."""
    normalized = unicodedata.normalize("NFKC", text)
    found = []
    for match in _WORD.finditer(normalized):
        found.append(_JOINER.sub("", match.group()).upper())
        if len(found) == 2:
            break
    return found


def classify_keyword(text: str) -> Keyword:
    """The compliance keyword an inbound SMS's first word is, or NO_KEYWORD."""
    words = _words(text)
    if not words:
        return NO_KEYWORD
    first = words[0]
    if first == "OPT" and words[1:] == ["OUT"]:
        first = "OPTOUT"
    kind = KEYWORD_KINDS.get(first)
    return Keyword(kind, first) if kind else NO_KEYWORD
