"""What the soak sends, decided up front: its options, its fresh secrets, each `/sms send`
command (by index) and each SMS from a phone the app never texted (by number).

Everything is a pure function of the index and the options, so the oracle can tell from a token
in a message (`soak-000123`, `ext-000045`) exactly what was meant to happen to it.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from bot.gateway.clickatell_http.callbacks import concatenation_udh
from bot.gateway.clickatell_http.sandbox import (
    NUMBER_DELIVERY_FAILS,
    NUMBER_ECHOES,
    NUMBER_STAYS_AT_GATEWAY,
)
from bot.testing.callbacks import mo_params

API_ID = "soak"
GATEWAY_USER = "soak-user"
CALLBACK_USER = "clickatell"
USER = "U0SOAK"
SMS_CHANNEL = "C0SOAKSMS"
EXTERNAL_PHONES = tuple(f"2783900{k:04d}" for k in range(20))  # never sent to: MO-only phones
ECHO_SPACING = 8.0  # seconds between sends to the echoing number: its reply has one right thread


@dataclass(frozen=True)
class Options:
    minutes: float
    rate: float  # commands per second
    callbacks: float  # external callbacks per second
    mo_rate: float  # of which inbound SMS per second (all posted in SMS_CHANNEL: <= 1/s)
    channels: int
    drain: float
    sample: float
    session_ttl: float
    seed: int
    trace_memory: bool = False
    replicas: int = 1  # serve processes on one database (more than one: PostgreSQL)
    db: str = "sqlite"  # "sqlite" (a file) or "postgresql" (a throwaway cluster)

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0

    @property
    def echo_every(self) -> int:
        """Every n-th command goes to the echoing number, at least ECHO_SPACING apart."""
        return max(10, math.ceil(ECHO_SPACING * self.rate))

    @property
    def mo_every(self) -> int:
        return max(1, round(self.callbacks / self.mo_rate)) if self.mo_rate > 0 else 0


@dataclass(frozen=True)
class Command:
    """One `/sms send` of the soak; its text starts with a token unique to it."""

    index: int
    kind: str  # plain, unicode, multi, tally, echo
    channel: str
    to: tuple[str, ...]
    text: str

    @property
    def token(self) -> str:
        return f"soak-{self.index:06d}"

    @property
    def slash_text(self) -> str:
        return f"send {','.join(self.to)} {self.text}"


def plain_number(index: int, slot: int) -> str:
    """A distinct ordinary number per command and recipient slot (delivered: 003, 004)."""
    return str(27_821_000_000 + index * 16 + slot)


def plan_command(index: int, options: Options) -> Command:
    channel = f"C0SOAK{index % options.channels:02d}"
    token = f"soak-{index:06d}"
    if index % options.echo_every == 0:
        return Command(index, "echo", channel, (NUMBER_ECHOES,), f"{token} echo please")
    if index % 50 == 25:
        plain = (plain_number(index, slot) for slot in range(10))
        to = (*plain, NUMBER_DELIVERY_FAILS, NUMBER_STAYS_AT_GATEWAY)
        return Command(index, "tally", channel, to, f"{token} to twelve phones")
    if index % 5 == 2:
        odd = NUMBER_DELIVERY_FAILS if index % 2 else NUMBER_STAYS_AT_GATEWAY
        to = (plain_number(index, 0), plain_number(index, 1), odd, plain_number(index, 2))
        return Command(index, "multi", channel, to, f"{token} to four phones [ok] ~ {{x}}")
    if index % 5 == 4:
        text = f"{token} Привет, мир ✅ € ünïcödé 📱"
        return Command(index, "unicode", channel, (plain_number(index, 0),), text)
    text = f"{token} hello from the soak, message {index}"
    return Command(index, "plain", channel, (plain_number(index, 0),), text)


@dataclass(frozen=True)
class ExternalMo:
    """An SMS from a phone that was never sent to, posted straight at /clickatell/mo."""

    number: int
    sender: str
    text: str
    first: bool  # the first SMS from this phone: it starts a conversation in SMS_CHANNEL
    control: bool  # carries Slack control sequences that must be shown literally

    @property
    def token(self) -> str:
        return f"ext-{self.number:06d}"


TWO_PARTS = (" first half of a long reply, ", "and here is the second half.")


def plan_mo(number: int) -> tuple[ExternalMo, list[dict[str, str | bytes]]]:
    """The SMS and the callbacks (one or more requests) that deliver it."""
    sender = EXTERNAL_PHONES[number % len(EXTERNAL_PHONES)]
    token, variant = f"ext-{number:06d}", number % 5
    first = number < len(EXTERNAL_PHONES)
    momsgid = f"soakmo{number:06d}"
    if variant == 1:
        text = f"{token} hi <!channel> & <@U0BOSS> <https://x.test|click>"
        mo = ExternalMo(number, sender, text, first, True)
        return mo, [_mo(momsgid, sender, text)]
    if variant == 2:
        text = f"{token} Здравствуйте ✅"
        mo = ExternalMo(number, sender, text, first, False)
        return mo, [_mo(momsgid, sender, text, charset="UTF-16BE")]
    if variant == 3:  # two parts, the second first
        parts = (token + TWO_PARTS[0], TWO_PARTS[1])
        mo = ExternalMo(number, sender, "".join(parts), first, False)
        udh = [concatenation_udh(number % 256, 2, seq) for seq in (1, 2)]
        calls = [
            _mo(f"{momsgid}p{seq}", sender, parts[seq - 1], udh=udh[seq - 1]) for seq in (2, 1)
        ]
        return mo, calls
    text = f"{token} hello from a phone"
    mo = ExternalMo(number, sender, text, first, False)
    call = _mo(momsgid, sender, text)
    return mo, [call, call] if variant == 4 else [call]  # variant 4: the gateway retries it


def _mo(momsgid: str, sender: str, text: str, **options: Any) -> dict[str, str | bytes]:
    return mo_params(momsgid, sender, text, api_id=API_ID, **options)


@dataclass(frozen=True)
class Secrets:
    """Fresh secrets for the run; the app's log is searched for each of them at the end."""

    signing: str = field(default_factory=lambda: secrets.token_hex(16))
    gateway_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    callback_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def all(self) -> tuple[str, ...]:
        return (self.signing, self.gateway_password, self.callback_password)
