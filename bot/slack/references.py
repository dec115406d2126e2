"""How Slack's references read on a phone: people, channels, groups, broadcasts, dates, links.

Slack refers to people, channels and user groups by ID (`<@U0ALICE>`, a rich-text `user`
element); a phone needs the name. Looking a name up is I/O (`users.info`,
`conversations.info`), so the caller injects the lookups (`SlackNames`) and caches them; this
module only calls them and falls back, in order, to the label Slack put in the token
(`<@U1|alice>`, `<!subteam^S1|@oncall>`), then to the ID itself (`@U0ALICE`). A lookup that
raises counts as "unknown": a failed lookup must never lose the message being relayed.

One `References` serves one message: it also knows the labels found in that message's `text`,
so a rich-text element that carries only an ID (a `usergroup` element) can still use the label
Slack wrote for the same ID in the mrkdwn text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

Lookup = Callable[[str], str | None]

BROADCASTS = frozenset({"here", "channel", "everyone"})
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITY_CHARACTERS = {"amp": "&", "lt": "<", "gt": ">"}
_TOKEN = re.compile(r"<([^<>]*)>")
_ADDRESS_SCHEMES = ("mailto:", "tel:")
_WEB_SCHEMES = ("https://", "http://")


def _unknown(_: str) -> str | None:
    return None


@dataclass(frozen=True)
class SlackNames:
    """The caller's knowledge of the workspace, all optional.

    `user(id)` -> the person's name (display name or real name, the caller's choice);
    `channel(id)` -> the channel's name, with or without `#`; `usergroup(id)` -> the group's
    handle, with or without `@`; `custom_emoji` -> the workspace's custom emoji as Slack's
    `emoji.list` returns them (name -> `alias:name` or an image URL) or name -> emoji.
    """

    user: Lookup = _unknown
    channel: Lookup = _unknown
    usergroup: Lookup = _unknown
    custom_emoji: Mapping[str, str] = field(default_factory=dict)


def decode_entities(text: str) -> str:
    """Slack's three escapes, decoded exactly once (`&amp;lt;` is the text `&lt;`)."""
    return _ENTITY.sub(lambda m: _ENTITY_CHARACTERS[m.group(1)], text)


def token_labels(text: str) -> dict[str, str]:
    """ID -> label of every labelled user, channel and user-group token in mrkdwn `text`."""
    labels: dict[str, str] = {}
    for match in _TOKEN.finditer(text):
        target, _, label = match.group(1).partition("|")
        if not label:
            continue
        if target.startswith(("@", "#")):
            labels[target[1:]] = decode_entities(label)
        elif target.startswith("!subteam^"):
            labels[target.removeprefix("!subteam^")] = decode_entities(label)
    return labels


def _ask(lookup: Lookup, key: str) -> str | None:
    try:
        answer = lookup(key)
    except Exception:  # a failed lookup must not lose the message: fall back to label or ID
        return None
    return answer.strip() if isinstance(answer, str) and answer.strip() else None


def _prefixed(prefix: str, name: str) -> str:
    return name if name.startswith(prefix) else prefix + name


def _bare(address: str) -> str:
    """The address as people write it: without `mailto:`/`tel:`."""
    for scheme in _ADDRESS_SCHEMES:
        if address.lower().startswith(scheme):
            return address[len(scheme) :]
    return address


def _same_address(label: str, url: str) -> bool:
    """Whether the label just repeats the address (`example.com` for `http://example.com/`)."""

    def core(value: str) -> str:
        value = _bare(value.strip()).lower()
        for scheme in _WEB_SCHEMES:
            value = value.removeprefix(scheme)
        return value.rstrip("/")

    return core(label) == core(url)


def _utc_date(timestamp: str) -> str:
    try:
        moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class References:
    """Readable words for the references in one message."""

    def __init__(self, names: SlackNames, labels: Mapping[str, str] | None = None) -> None:
        self._names = names
        self._labels = labels or {}

    def user(self, user_id: str, label: str = "") -> str:
        """The person's name, else the label Slack gave, else `@ID`."""
        return (
            _ask(self._names.user, user_id)
            or label
            or self._labels.get(user_id)
            or _prefixed("@", user_id)
        )

    def channel(self, channel_id: str, label: str = "") -> str:
        name = label or self._labels.get(channel_id) or _ask(self._names.channel, channel_id)
        return _prefixed("#", name or channel_id)

    def usergroup(self, group_id: str, label: str = "") -> str:
        name = label or self._labels.get(group_id) or _ask(self._names.usergroup, group_id)
        return _prefixed("@", name or group_id)

    @staticmethod
    def broadcast(scope: str) -> str:
        """`@here`, `@channel`, `@everyone`: the words Slack shows."""
        return "@" + scope

    @staticmethod
    def date(timestamp: str, fallback: str = "") -> str:
        """Slack's own fallback text for a date; without one, the moment in UTC."""
        return fallback or _utc_date(timestamp)

    @staticmethod
    def link(url: str, label: str = "") -> str:
        """`label (address)`; just the address when there is no label; the label alone when it
        merely repeats the address (`example.com`, `a@b.c`): that is what the person typed."""
        address, label = _bare(url.strip()), label.strip()
        if not address or _same_address(label, url):
            return label or address
        return f"{label} ({address})" if label else address

    def token(self, inside: str) -> str:
        """A mrkdwn `<…>` token (what is between the brackets) as readable words."""
        target, _, label = inside.partition("|")
        target, label = decode_entities(target), decode_entities(label)
        if target.startswith("@"):
            return self.user(target[1:], label)
        if target.startswith("#"):
            return self.channel(target[1:], label)
        if target.startswith("!"):
            return self._special(target[1:], label)
        return self.link(target, label)

    def _special(self, command: str, label: str) -> str:
        """`<!here>`, `<!subteam^S1|@team>`, `<!date^1392734382^{date}|Feb 18>`, `<!foo>`."""
        head, _, rest = command.partition("^")
        if head in BROADCASTS:
            return self.broadcast(head)
        if head == "subteam":
            return self.usergroup(rest, label)
        if head == "date":
            return self.date(rest.partition("^")[0], label)
        return label or (_prefixed("@", head) if head else "")
