"""Two `serve` replicas on one PostgreSQL database, as a load balancer would see them: real
`python -m bot serve` processes (`ServedApp`), each with its own built-in sandbox, both on the
test's fake Slack, fed callbacks as the gateway posts them and slash commands as Slack signs
them."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import requests
from slack_sdk import WebClient

from bot.console.slack_standin import Activity
from bot.domain.records import NewRecipient
from bot.testing.app import AppOptions
from bot.testing.callbacks import FORM, form, mo_params, status_params
from bot.testing.process import ServedApp
from bot.testing.signing import CHANNEL, post_signed, slash_command
from bot.testing.slack import FakeSlack
from bot.testing.state import AppState, send_with_card

AUTH = ("clickatell", "replicas-password")
SMS_CHANNEL = "C0SMS"


def replica_options(url: str) -> AppOptions:
    return AppOptions(
        sms_channel=SMS_CHANNEL,
        env={
            "SMS_BOT_DB": url,
            "CLICKATELL_CALLBACK_USER": AUTH[0],
            "CLICKATELL_CALLBACK_PASSWORD": AUTH[1],
            "SMS_LOW_BALANCE": "0",
        },
    )


@dataclass(frozen=True)
class Phone:
    msisdn: str
    apimsgid: str
    channel: str
    card_ts: str

    @property
    def reply(self) -> str:
        return f"R{self.msisdn}"


def prepare_cards(
    url: str, slack: FakeSlack, channels: int, cards: int, per_card: int
) -> list[Phone]:
    """`cards` sends of `per_card` recipients spread over `channels` channels, their cards
    posted, as `/sms send` leaves them."""
    client = WebClient(token="xoxb-replicas", base_url=slack.api_url)
    phones: list[Phone] = []
    with AppState.opened(url) as state:
        for card in range(cards):
            channel = f"C0REP{card % channels:03d}"
            recipients = [
                NewRecipient(
                    msisdn=f"2783{card:03d}{index:04d}",
                    climsgid=f"rep{card}x{index}",
                    apimsgid=f"{card:016x}{index:016x}",
                )
                for index in range(per_card)
            ]
            send = send_with_card(state.storage, client, channel, recipients)
            phones += [Phone(r.msisdn, r.apimsgid, channel, str(send.card_ts)) for r in recipients]
    return phones


@dataclass(frozen=True)
class Callback:
    kind: str
    body: bytes


def status_callback(phone: Phone, code: str) -> Callback:
    return Callback("status", form(status_params(phone.apimsgid, code, to=phone.msisdn)))


def mo_callback(phone: Phone, text: str, momsgid: str | None = None) -> Callback:
    body = form(mo_params(momsgid or f"mo{phone.msisdn}", phone.msisdn, text))
    return Callback("mo", body)


def deliver(url: str, callback: Callback) -> int | None:
    """POST a callback as the gateway does; the status, None when nobody answered."""
    try:
        answer = requests.post(
            f"{url}/clickatell/{callback.kind}",
            data=callback.body,
            headers=FORM,
            auth=AUTH,
            timeout=10,
        )
    except requests.RequestException:
        return None
    return answer.status_code


class Replicas:
    """Two serve processes on one database; `kill(i)` is SIGKILL."""

    def __init__(self, slack: FakeSlack, tmp_path: Path, url: str, count: int = 2) -> None:
        self.slack = slack
        self.url = url
        self.apps: list[ServedApp] = []
        self._triggers = itertools.count(1)
        for n in range(count):
            directory = tmp_path / f"replica{n}"
            directory.mkdir()
            self.apps.append(ServedApp(slack.api_url, directory, replica_options(url)))

    def close(self) -> None:
        for app in self.apps:
            if app.process.poll() is None:
                app.stop()

    def command(self, replica: int, text: str, trigger: str, channel: str = CHANNEL) -> str:
        """`/sms TEXT` sent to one replica with the given trigger (Slack redelivering it to
        another replica sends the same trigger); the response URL's name."""
        name = trigger.replace(".", "-")
        request = slash_command(
            text, channel_id=channel, trigger_id=trigger, response_url=self.slack.response_url(name)
        )
        with requests.Session() as http:
            answer = post_signed(http, self.apps[replica].url, request)
        assert answer.status_code == 200, answer.text
        return name

    def backlog(self) -> tuple[int, int]:
        with AppState.opened(self.url) as state:
            return state.backlog()


class SlackWrites:
    """When the fake Slack received each write (a post or an update), per channel and per
    message: what shows whether Slack's pace held across the replicas."""

    def __init__(self, slack: FakeSlack) -> None:
        self._lock = threading.Lock()
        self.by_channel: defaultdict[str, list[float]] = defaultdict(list)
        self.updates: defaultdict[tuple[str, str], list[float]] = defaultdict(list)
        slack.subscribe(self._seen)

    def _seen(self, activity: Activity) -> None:
        if not activity.ok or activity.channel is None:
            return
        if activity.kind not in ("post", "update", "ephemeral"):
            return
        at = time.monotonic()
        with self._lock:
            self.by_channel[activity.channel].append(at)
            if activity.kind == "update" and activity.ts:
                self.updates[(activity.channel, activity.ts)].append(at)

    @staticmethod
    def closest(times: list[float]) -> float | None:
        """The shortest gap between two writes (None with fewer than two)."""
        ordered = sorted(times)
        gaps = [b - a for a, b in itertools.pairwise(ordered)]
        return min(gaps) if gaps else None


def replies_shown(slack: FakeSlack) -> Counter[str]:
    """How often each phone's reply text appears in Slack (any channel)."""
    found: Counter[str] = Counter()
    for message in list(slack.messages.values()):
        found.update(re.findall(r"R27\d{9}", str(message.get("blocks"))))
    return found
