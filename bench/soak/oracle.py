"""The soak's oracle: what should have happened, from the plan and the gateway's own records,
against what happened — what the fake Slack shows and what the app's database holds.

Each check is a `Tally`: how many were expected, and how many were lost, duplicated or wrong (in
the wrong place or showing the wrong thing), with a few examples.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.soak.cards import COMMAND_TOKEN, block_text, card_index
from bench.soak.load import Sent, Stream, ThreadReply
from bench.soak.plan import SMS_CHANNEL, Command, ExternalMo
from bot.blocks.base import escape
from bot.gateway.clickatell_http.codes import describe_status, is_final
from bot.gateway.clickatell_http.sandbox import SentMessage
from bot.sms.numbers import display_number
from bot.testing.state import AppState

RECEIVED, FAILED, QUEUED = "white_check_mark", "x", "outbox_tray"
ECHO_TOKEN = re.compile(r"Got it: soak-(\d{6})")
MO_TOKEN = re.compile(r"ext-(\d{6})")
CONTROL_SEQUENCES = ("<!channel>", "<@U0BOSS>", "<https://")


@dataclass(frozen=True)
class Tally:
    """One integrity check: how many were expected, and how many were lost, duplicated or
    wrong (in the wrong place or showing the wrong thing)."""

    name: str
    expected: int
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    examples: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong)

    def line(self) -> str:
        verdict = "ok" if self.clean else "PROBLEM"
        text = (
            f"  {self.name:<46} {self.expected:>6} expected: lost {self.lost}, "
            f"duplicated {self.duplicated}, wrong {self.wrong}  [{verdict}]"
        )
        if self.examples:
            text += "\n" + "\n".join(f"      e.g. {e}" for e in self.examples[:3])
        return text


@dataclass(frozen=True)
class Post:
    channel: str
    ts: str
    thread_ts: str | None
    blob: str  # the message as JSON (ensure_ascii=False), for searching

    @property
    def order(self) -> tuple[int, int]:
        seconds, _, fraction = self.ts.partition(".")
        return int(seconds), int(fraction or 0)


@dataclass
class Snapshot:
    """Everything the checks compare, taken at one moment."""

    sent: list[Sent]
    replies: list[ThreadReply]
    mos: list[ExternalMo]
    gateway: list[SentMessage]
    messages: dict[tuple[str, str], dict[str, Any]]
    reactions: dict[tuple[str, str], list[str]]

    def posts(self) -> Iterable[Post]:
        for (channel, ts), message in self.messages.items():
            if message.get("user"):  # a person's message (the thread replies we typed)
                continue
            blob = json.dumps(message, ensure_ascii=False)
            yield Post(channel, ts, message.get("thread_ts"), blob)


def _by_token(posts: Iterable[Post], pattern: re.Pattern[str]) -> dict[int, list[Post]]:
    found: dict[int, list[Post]] = defaultdict(list)
    for post in posts:
        for index in {int(m.group(1)) for m in pattern.finditer(post.blob)}:
            found[index].append(post)
    return found


def check_cards(snap: Snapshot, by_command: dict[int, list[SentMessage]]) -> list[Tally]:
    cards: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for key, message in snap.messages.items():
        index = card_index(message)
        if index is not None:
            cards[index].append(key)
    acked = [s.command for s in snap.sent if s.status == 200]
    lost = [c for c in acked if not cards.get(c.index)]
    doubled = [c for c in acked if len(cards.get(c.index, [])) > 1]
    wrong = []
    for command in acked:
        keys = cards.get(command.index, [])
        if len(keys) == 1:
            problem = card_problem(command, snap.messages[keys[0]], by_command[command.index])
            if problem:
                wrong.append(f"{command.token}: {problem}")
    return [
        Tally(
            "send cards (one per command)",
            len(acked),
            len(lost),
            len(doubled),
            0,
            tuple(f"{c.token} lost" for c in lost) + tuple(f"{c.token} twice" for c in doubled),
        ),
        Tally("card states matching the gateway's", len(acked), 0, 0, len(wrong), tuple(wrong)),
    ]


_STATE_WORDS = {"004": "received", "003": "on the way"}


def card_problem(command: Command, card: Mapping[str, Any], gateway: list[SentMessage]) -> str:
    """What the card shows that the gateway's records contradict; '' when it matches."""
    if card.get("channel") != command.channel:
        return f"in {card.get('channel')}, not {command.channel}"
    by_number = {m.to: m for m in gateway}
    recipients = block_text(card["blocks"][3])
    if len(command.to) > 10:  # a tally: counts per state
        states = Counter(
            _STATE_WORDS.get(by_number[n].status, "failed") if n in by_number else "missing"
            for n in command.to
        )
        if states["missing"]:
            return f"{states['missing']} recipients have no gateway message"
        # The summary reads ":white_check_mark: 10 received · :x: 1 failed · ...".
        lacking = [f"{n} {word}" for word, n in states.items() if f": {n} {word}" not in recipients]
        return f"the tally lacks {lacking}: {recipients!r}" if lacking else ""
    lines = recipients.split("\n")
    for number in command.to:
        message = by_number.get(number)
        if message is None:
            return f"no gateway message for {number}"
        shown = [line for line in lines if display_number(number) in line]
        words = escape(describe_status(message.status))
        if len(shown) != 1 or words not in shown[0] or message.apimsgid not in shown[0]:
            return f"{number} shows {shown} but the gateway says {message.status}"
    return ""


def check_sms(snap: Snapshot, by_command: dict[int, list[SentMessage]]) -> list[Tally]:
    expected = lost = doubled = wrong = 0
    examples: list[str] = []
    for sent in snap.sent:
        if sent.status != 200:
            continue
        command = sent.command
        counts = Counter(m.to for m in by_command.get(command.index, []))
        expected += len(command.to)
        lost += sum(1 for n in command.to if counts[n] == 0)
        doubled += sum(counts[n] - 1 for n in command.to if counts[n] > 1)
        strays = [n for n in counts if n not in command.to]
        texts = [m for m in by_command.get(command.index, []) if m.text != command.text]
        wrong += len(strays) + len(texts)
        if strays or texts or sorted(counts.elements()) != sorted(command.to):
            examples.append(f"{command.token}: {dict(counts)}, texts as typed: {not texts}")
    per_chunk = Counter((m.climsgid, m.to) for m in snap.gateway)
    twice = sum(count - 1 for count in per_chunk.values() if count > 1)
    return [
        Tally(
            "SMS per command and phone (gateway's list)",
            expected,
            lost,
            doubled,
            wrong,
            tuple(examples),
        ),
        Tally("SMS per climsgid and phone", len(per_chunk), 0, twice, 0),
    ]


def check_echoes(snap: Snapshot) -> Tally:
    """Each echo command's phone reply: posted once, in the thread of that command's card."""
    echoes = [s.command for s in snap.sent if s.status == 200 and s.command.kind == "echo"]
    posts = _by_token(snap.posts(), ECHO_TOKEN)
    cards = {card_index(m): key for key, m in snap.messages.items()}
    lost = doubled = wrong = 0
    examples = []
    for command in echoes:
        found = posts.get(command.index, [])
        lost += not found
        doubled += max(0, len(found) - 1)
        card = cards.get(command.index)
        misplaced = [p for p in found if card is None or (p.channel, p.thread_ts) != card]
        wrong += len(misplaced)
        if misplaced:
            where = f"{misplaced[0].channel}/{misplaced[0].thread_ts}"
            examples.append(f"{command.token}: reply in {where}, card {card}")
    return Tally(
        "phone replies in their card's thread", len(echoes), lost, doubled, wrong, tuple(examples)
    )


def check_inbound(snap: Snapshot) -> Tally:
    """Each external SMS: posted once, literally, where its phone's conversation is, in order."""
    posts = _by_token(snap.posts(), MO_TOKEN)
    roots: dict[str, Post] = {}
    for mo in snap.mos:
        found = posts.get(mo.number, [])
        if mo.first and len(found) == 1:
            roots[mo.sender] = found[0]
    lost = doubled = wrong = 0
    examples: list[str] = []
    last: dict[str, tuple[int, int]] = {}
    for mo in snap.mos:
        found = posts.get(mo.number, [])
        lost += not found
        doubled += max(0, len(found) - 1)
        if len(found) != 1:
            continue
        problem = _mo_problem(mo, found[0], roots.get(mo.sender), last.get(mo.sender))
        last[mo.sender] = found[0].order
        if problem:
            wrong += 1
            examples.append(f"{mo.token}: {problem}")
    return Tally(
        "SMS from other phones (external MO)", len(snap.mos), lost, doubled, wrong, tuple(examples)
    )


def _mo_problem(
    mo: ExternalMo, post: Post, root: Post | None, previous: tuple[int, int] | None
) -> str:
    if post.channel != SMS_CHANNEL:
        return f"posted in {post.channel}"
    if mo.first and post.thread_ts:
        return "the first SMS of a phone is not a new conversation"
    if not mo.first and (root is None or post.thread_ts != root.ts):
        return f"in thread {post.thread_ts}, not the phone's conversation"
    if json.dumps(escape(mo.text), ensure_ascii=False)[1:-1] not in post.blob:
        return "text not shown literally"
    if mo.control and any(seq in post.blob for seq in CONTROL_SEQUENCES):
        return "a Slack control sequence is not escaped"
    if previous is not None and post.order <= previous:
        return "out of order in its conversation"
    return ""


def check_relays(snap: Snapshot) -> Tally:
    """Each thread reply: texted once to the card's phone; its reaction shows the outcome."""
    acked = [r for r in snap.replies if r.status == 200]
    texts = Counter((m.to, m.text) for m in snap.gateway)
    status = {(m.to, m.text): m.status for m in snap.gateway}
    lost = doubled = wrong = 0
    examples = []
    for reply in acked:
        key = (reply.command.to[0], reply.text)
        lost += texts[key] == 0
        doubled += max(0, texts[key] - 1)
        if texts[key]:
            wanted = (
                RECEIVED if status[key] == "004" else (FAILED if is_final(status[key]) else QUEUED)
            )
            shown = snap.reactions.get((reply.channel, reply.ts), [])
            if shown != [wanted]:
                wrong += 1
                examples.append(f"reply-{reply.number:05d}: reactions {shown}, want {wanted}")
    return Tally(
        "thread replies relayed to the phone", len(acked), lost, doubled, wrong, tuple(examples)
    )


def check_acks(snap: Snapshot, streams: Mapping[str, Stream]) -> Tally:
    """Requests not answered 200 (a command or callback the app did not take is lost)."""
    refused = sum(sum(s.failures.values()) for s in streams.values())
    total = sum(len(s.latencies) for s in streams.values())
    examples = tuple(f"{name}: {dict(s.failures)}" for name, s in streams.items() if s.failures)
    return Tally("requests answered 200", total, refused, 0, 0, examples)


def run_checks(snap: Snapshot, streams: Mapping[str, Stream]) -> list[Tally]:
    by_command: dict[int, list[SentMessage]] = defaultdict(list)
    for message in snap.gateway:
        found = COMMAND_TOKEN.match(message.text)
        if found:
            by_command[int(found.group(1))].append(message)
    return [
        check_acks(snap, streams),
        *check_cards(snap, by_command),
        *check_sms(snap, by_command),
        check_echoes(snap),
        check_inbound(snap),
        check_relays(snap),
    ]


@dataclass(frozen=True)
class Database:
    """The app's database after it stopped."""

    inbox: Counter[str]
    unprocessed: int
    pending: int
    failed: int
    outbox_done: int
    recipients: int  # recipients the gateway accepted (they have an apimsgid)
    status_mismatches: int
    unanswered: int

    @property
    def outbox_items(self) -> int:
        return self.outbox_done + self.pending + self.failed

    def tallies(self) -> list[Tally]:
        return [
            Tally("Slack/gateway work left pending (outbox)", self.outbox_items, self.pending),
            Tally("Slack/gateway work given up (outbox)", self.outbox_items, self.failed),
            Tally("callbacks left unprocessed (inbox)", sum(self.inbox.values()), self.unprocessed),
            Tally(
                "stored statuses equal to the gateway's",
                self.recipients,
                self.unanswered,
                0,
                self.status_mismatches,
            ),
        ]


def read_database(state: AppState, gateway: list[SentMessage]) -> Database:
    truth = {m.apimsgid: m.status for m in gateway}
    inbox = state.inbox_by_kind()
    unprocessed, _ = state.backlog()
    states = state.outbox_by_state()
    rows = [(r.apimsgid, r.status, r.error_code) for r in state.recipients()]
    mismatches = sum(1 for api, status, _ in rows if api and truth.get(api) != status)
    unanswered = sum(1 for api, _, error in rows if not api and not error)
    accepted = sum(1 for api, _, _ in rows if api)
    return Database(
        inbox,
        unprocessed,
        states["pending"],
        states["failed"],
        states["done"],
        accepted,
        mismatches,
        unanswered,
    )
