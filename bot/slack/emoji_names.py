"""Slack emoji names to the emoji a phone shows, with the maintained `emoji` library.

Slack names its emoji after iamcal's emoji-data, the `emoji` library after Unicode's CLDR names
plus GitHub-style aliases. Most Slack names are among the library's aliases (`+1`, `thumbsup`,
`slightly_smiling_face`); the rest differ in systematic ways, handled here as rules rather than
a table, each tried in turn against the library's names and aliases:

- hyphens for underscores: Slack `man-shrugging`, `woman-bowing` -> `man_shrugging`, ...;
- Slack `male-`/`female-` professions are the library's `man_`/`woman_` (`male-technologist`);
- Slack families list their members (`man-woman-boy`), the library says `family_man_woman_boy`;
- Slack `flag-za` is the ISO 3166 code, which is the flag's two regional indicator letters;
  `flag-england` is the library's `England`;
- Slack `skin-tone-2`..`skin-tone-6` are the five Fitzpatrick modifiers, in order; a tone after
  an emoji (`:wave::skin-tone-3:`) asks for the library's toned variant of that emoji.

`SLACK_NAME_ALIASES` holds only the Slack names no rule reaches (see each entry). Every result
is checked with `emoji.is_emoji`, so a rule can never invent a sequence that is not an emoji.
A name nobody knows (a custom image such as `partyparrot`) stays as typed, and is remembered so
the thread can say so.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

import emoji

# Slack names (iamcal emoji-data short names, which Slack's picker inserts) that the library
# spells differently and no rule above reaches; each value is the library's own name, so the
# library still supplies the character.
SLACK_NAME_ALIASES: dict[str, str] = {
    # Slack's own legacy name for 🙂, still accepted in messages; not in any emoji standard.
    "simple_smile": "slightly_smiling_face",
    # iamcal short names built from the Unicode character name, where CLDR chose another:
    "face_palm": "facepalm",  # 🤦 FACE PALM
    "hand_with_index_and_middle_fingers_crossed": "crossed_fingers",  # 🤞
    "i_love_you_hand_sign": "love-you_gesture",  # 🤟
    "face_with_cowboy_hat": "cowboy_hat_face",  # 🤠
    # iamcal short names of their own:
    "the_horns": "sign_of_the_horns",  # 🤘
    "spock-hand": "vulcan_salute",  # 🖖
    "knife_fork_plate": "fork_and_knife_with_plate",  # 🍽️
    "smiling_face_with_3_hearts": "smiling_face_with_hearts",  # 🥰
}

# skin-tone-2 .. skin-tone-6, lightest to darkest: the library's names of the five modifiers.
SKIN_TONE_NAMES = (
    "light_skin_tone",
    "medium-light_skin_tone",
    "medium_skin_tone",
    "medium-dark_skin_tone",
    "dark_skin_tone",
)
_FIRST_SKIN_TONE = 2
_SKIN_TONE_NAME = re.compile(r"skin-tone-([2-6])")
_FAMILY_MEMBERS = frozenset({"man", "woman", "boy", "girl"})
_REGIONAL_INDICATOR_A = 0x1F1E6
_ALIAS_HOPS = 5  # custom aliases may point at other custom aliases; never loop forever


@functools.cache
def _library_names() -> tuple[dict[str, str], dict[str, str]]:
    """The library's alias and CLDR names -> emoji, indexed once from its own `EMOJI_DATA`.

    `emoji.emojize` finds a name by scanning all ~5,000 entries (about 3 ms per unknown name),
    so a reply full of unknown shortcodes would take seconds. This index holds the same data
    with the same precedence (aliases before names, fully-qualified emoji only, first wins).
    """
    fully_qualified = emoji.STATUS["fully_qualified"]
    aliases: dict[str, str] = {}
    names: dict[str, str] = {}
    for character, data in emoji.EMOJI_DATA.items():
        if data.get("status", fully_qualified + 1) > fully_qualified:
            continue
        for alias in data.get("alias", ()):
            aliases.setdefault(alias.strip(":"), character)
        names.setdefault(str(data.get("en", "")).strip(":"), character)
    return aliases, names


def library_emoji(name: str) -> str | None:
    """The emoji the library knows by `name` (an alias or a CLDR name), else None."""
    aliases, names = _library_names()
    key = unicodedata.normalize("NFKC", name)
    found = aliases.get(key) or names.get(key)
    return found if found and emoji.is_emoji(found) else None


def skin_tone(tone: int) -> str | None:
    """The modifier for Slack's skin tone number (2..6; 1 is Slack's "no tone")."""
    index = tone - _FIRST_SKIN_TONE
    return library_emoji(SKIN_TONE_NAMES[index]) if 0 <= index < len(SKIN_TONE_NAMES) else None


def with_skin_tone(base: str, tone: int | None) -> str:
    """`base` in the skin tone asked for, when the library has that variant; else `base`."""
    if tone is None or not 0 <= tone - _FIRST_SKIN_TONE < len(SKIN_TONE_NAMES):
        return base
    name = emoji.demojize(base, delimiters=("", ""))
    toned = library_emoji(f"{name}_{SKIN_TONE_NAMES[tone - _FIRST_SKIN_TONE]}")
    return toned or base


_SKIN_TONES = frozenset(filter(None, (skin_tone(n) for n in range(2, 7))))


def _flag(code: str) -> str | None:
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        return library_emoji(code.title())  # flag-england -> England
    letters = "".join(chr(_REGIONAL_INDICATOR_A + ord(c) - ord("a")) for c in code.lower())
    return letters if emoji.is_emoji(letters) else None


def _gendered(name: str) -> str | None:
    for slack, library in (("male_", "man_"), ("female_", "woman_")):
        if name.startswith(slack):
            return library_emoji(library + name.removeprefix(slack))
    return None


def _family(name: str) -> str | None:
    members = name.split("_")
    if len(members) > 1 and set(members) <= _FAMILY_MEMBERS:
        return library_emoji("family_" + name)
    return None


def _standard_by_rule(name: str) -> str | None:
    if tone := _SKIN_TONE_NAME.fullmatch(name):
        return skin_tone(int(tone.group(1)))
    if name.startswith("flag-"):
        return _flag(name.removeprefix("flag-"))
    underscored = name.replace("-", "_")
    return library_emoji(underscored) or _gendered(underscored) or _family(underscored)


def standard_emoji(name: str) -> str | None:
    """The Unicode emoji Slack shows for its standard (non-custom) emoji `name`, else None."""
    if alias := SLACK_NAME_ALIASES.get(name):
        return library_emoji(alias)
    return library_emoji(name) or _standard_by_rule(name)


def emoji_from_hex(code_points: str) -> str | None:
    """Slack's `unicode` field of a rich-text emoji (`1f44b-1f3fc`) as the characters."""
    try:
        points = [int(part, 16) for part in code_points.split("-")]
    except ValueError:
        return None
    if not points or any(not 0 < p <= 0x10FFFF or 0xD800 <= p <= 0xDFFF for p in points):
        return None
    return "".join(chr(p) for p in points)


class EmojiNames:
    """Resolves the emoji of one message: standard names first, then the workspace's custom
    emoji the caller supplies (Slack's `emoji.list`: name -> `alias:other_name`, an image URL,
    or, from callers that know better, the emoji itself). Names left as typed are remembered in
    `kept_as_typed` so the thread can say what the phone will see."""

    def __init__(self, custom: Mapping[str, str] | None = None) -> None:
        self._custom = custom or {}
        self._kept: dict[str, None] = {}  # an ordered set

    @property
    def kept_as_typed(self) -> tuple[str, ...]:
        """Shortcodes left as typed, in order of appearance, once each."""
        return tuple(self._kept)

    def resolve(self, name: str) -> str | None:
        """The emoji for `name`, standard or custom, or None."""
        for _ in range(_ALIAS_HOPS):
            if found := standard_emoji(name):
                return found
            target = self._custom.get(name)
            if not isinstance(target, str) or not target:
                return None
            if emoji.purely_emoji(target):
                return target
            if target.startswith(("http://", "https://")):
                return None  # a custom image: a phone cannot show it
            name = target.removeprefix("alias:")
        return None

    def shortcode(self, name: str, tone: int | None = None, typed: str | None = None) -> str:
        """`:name:` (with an optional skin tone) as the phone should read it: the emoji, or
        `typed` (what the person wrote) when nobody knows the name."""
        found = self.resolve(name)
        if found is not None:
            return with_skin_tone(found, tone)
        shown = typed if typed is not None else f":{name}:"
        self._kept[shown] = None
        return shown

    def element(self, name: str, code_points: str | None, tone: int | None) -> str:
        """A rich-text emoji element: Slack's own `unicode` when it sent one (already toned),
        else the name."""
        if code_points and (exact := emoji_from_hex(code_points)) is not None:
            already_toned = any(c in _SKIN_TONES for c in exact)
            return exact if already_toned else with_skin_tone(exact, tone)
        return self.shortcode(name, tone)


# `:name:` optionally followed by Slack's `:skin-tone-N:`. Slack names are lower case letters,
# digits, `_`, `-` and `+` (`+1`).
SHORTCODE = re.compile(r":([a-z0-9_+-]+):(?::skin-tone-([2-6]):)?")


def _inside_a_word(text: str, start: int, end: int) -> bool:
    """`10:30:45`, `1:100:2` or `a:b:c` is a time, a ratio or a key path, not an emoji:
    letters or digits on both sides. (`hi:wave:` with a space after is still an emoji.)"""
    return start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum()


def emojize_shortcodes(text: str, names: EmojiNames) -> str:
    """Every Slack shortcode in plain text as its emoji; unknown ones stay as typed."""

    def replace(match: re.Match[str]) -> str:
        if _inside_a_word(text, match.start(), match.end()):
            return match.group()
        tone = int(match.group(2)) if match.group(2) else None
        return names.shortcode(match.group(1), tone, typed=match.group())

    return SHORTCODE.sub(replace, text)
