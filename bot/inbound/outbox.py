"""The paced, durable Slack sender: drains the storage outbox (issue 4, "Processing").

Everything the inbound side shows in Slack is first written to the outbox (in the same
transaction as the state change that caused it), then sent from here, so nothing acknowledged is
lost when Slack is down or the process is killed:

- Pacing: about one message per second per channel (Slack's limit for chat.postMessage), kept
  in the database (`Storage.slots`, one row per channel), so every replica on one database
  keeps one pace together: a Slack write first takes its channel's slot; a paced channel is
  left out of the next fetch (`exclude_channels`), so other channels go on; nothing here runs
  on a request thread.
- Card updates are coalesced by storage (one pending update per card, replaced in place) and
  rendered from the latest stored state when sent; at most one per `card_interval` (3 s) per
  card (a slot per card, taken together with its channel's), so a 500-recipient send makes a
  handful of updates, not 500.
- 429: the channel's slot is held for what Retry-After says, for every replica, and the item is
  retried then (not counted as a failure). 5xx, `ok: false` with a transient error, and network
  errors: retried with exponential backoff, for as long as it takes. Other errors (e.g.
  channel_not_found) are final.
- Order within a conversation is the storage's `order_key` rule; a post whose thread root is
  still in the outbox (`thread_root_item`) takes the root's ts when it is due.
- A bulk run's card (`BULK_PROGRESS`) is posted by its first item, exactly once as every post,
  and its ts stored at once (the engine's `set_card`); later items update it in place under the
  same 3 s pacing. `BULK_RESULT` uploads the result CSV into the card's thread (files_upload_v2);
  an upload cut off by a crash is looked for in the thread, by its file name, before uploading
  again. The content comes from `BulkBoard` (bot/inbound/bulk_cards.py).
- What a done item means elsewhere is a completion step per kind (`COMPLETIONS`), run in the
  transaction that marks it done: a posted root gives the conversation or card waiting for it
  its thread, so no crash leaves a thread without its ts.

Exactly once across a crash. The window that matters is between Slack accepting a post and the
outbox marking it done. Each post carries message metadata naming its item (and this database's
instance token), and an "in flight" marker is stored before the call and removed in the same
transaction that completes the item. A post found with a marker (the process died, or the answer
was lost: timeout, 5xx) is first looked up with conversations.history/replies
(include_all_metadata); if Slack has it, the item is completed with that ts instead of posting
again. Residual risk: if that lookup fails (Slack down, scope missing) the post is sent again
(at least once), which is logged. chat.update and reactions are idempotent, so repeating them is
harmless.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.blocks.base import Message
from bot.blocks.inbound import backlog_message
from bot.domain.outbox import BULK_KEY, OutboxKind
from bot.domain.records import Backlog, OutboxItem, Send
from bot.inbound.backlog import BacklogNotice
from bot.inbound.bulk_cards import BulkBoard
from bot.inbound.slack_health import CHANNEL_CLOSED, SlackHealth
from bot.slack.errors import error_code, is_transient, status_of
from bot.slack.pace import CARD_PACE, CHANNEL_PACE, hold_rate_limited
from bot.storage import Storage, StorageError
from bot.usecases.bulk import BulkProgress

log = logging.getLogger(__name__)

EVENT_TYPE = "sms_bot_outbox"

_ALREADY = frozenset({"already_reacted", "no_reaction"})
_INSTANCE_KEY = "outbox.instance"
_INFLIGHT_KEY = "outbox.inflight.{}"
_LOOKUP_PAGES = 5
MAX_BUGGY_ATTEMPTS = 5
MAX_CARD_WAITS = 30
MIN_DELAY = 0.01


class GiveUp(Exception):
    """A problem retrying cannot fix (the send is gone, an unknown kind): fail the item."""


class Retry(Exception):
    """Try the item again after `delay` seconds (pacing, not-yet-ready data)."""

    def __init__(self, delay: float, reason: str, *, count: bool = False):
        super().__init__(reason)
        self.delay, self.count = delay, count


@dataclass(frozen=True)
class Timing:
    post_interval: float = 1.0  # seconds between Slack writes in one channel
    card_interval: float = 3.0  # seconds between updates of one card
    backoff: float = 1.0  # first retry delay after a failure; doubles per attempt
    max_backoff: float = 300.0
    lease: timedelta = timedelta(seconds=60)  # longer than any one Slack call with its timeout
    idle: float = 0.5  # longest pause when nothing is known to be due


Handler = Callable[[OutboxItem], None]  # takes an item over; another worker completes it
SlackCall = Callable[
    [OutboxItem], str | None
]  # does an item's Slack call; returns the result to keep
# What a done item's result means beyond the outbox, per kind: (storage, item, result).
Completion = Callable[[Storage, OutboxItem, str], None]


def bind_posted_root(storage: Storage, item: OutboxItem, ts: str) -> None:
    """A posted message may be the thread root something waits for: a conversation started
    before its first post went out, or a card that waited out a Slack outage. Both get the
    thread now. Idempotent: only a conversation or card still without its thread is bound."""
    storage.conversations.root_posted(item.id, ts)
    storage.sends.card_posted(item.id, item.channel, ts)


COMPLETIONS: Mapping[OutboxKind, Completion] = {OutboxKind.POST: bind_posted_root}


class SlackOutbox:
    """Sends due outbox items. `step()` does everything due now and says how long to pause."""

    def __init__(
        self,
        storage: Storage,
        slack: WebClient,
        *,
        clock: Callable[[], datetime],
        render_card: Callable[[Send], Message],
        timing: Timing = Timing(),
        handlers: Mapping[OutboxKind, Handler] | None = None,
        reaction_for: Callable[[Send], str | None] | None = None,
        completions: Mapping[OutboxKind, Completion] = COMPLETIONS,
        backlog: BacklogNotice | None = None,
        bulk: BulkBoard | None = None,
        health: SlackHealth | None = None,
    ) -> None:
        self.storage = storage
        self.health = health or SlackHealth(storage, clock)
        self.slack = slack
        self.clock = clock
        self.render_card = render_card
        self.timing = timing
        # One handler per kind: the Slack calls done here, and the kinds handed to other
        # workers (a relayed reply's gateway send), which complete the item themselves.
        self.slack_calls: dict[OutboxKind, SlackCall] = {
            OutboxKind.POST: self._post,
            OutboxKind.UPDATE: self._update,
            OutboxKind.REACTION: self._reaction,
            OutboxKind.EPHEMERAL: self._ephemeral,
            OutboxKind.BULK_PROGRESS: self._bulk_progress,
            OutboxKind.BULK_RESULT: self._bulk_result,
        }
        self.bulk = bulk
        self.takeovers: dict[OutboxKind, Handler] = dict(handlers or {})
        self.reaction_for = reaction_for
        self.completions = dict(completions)
        self.backlog = backlog
        self._instance: str | None = None
        self._untold: dict[str, Backlog] = {}  # summaries due, waiting for their channel's slot

    # ---- the loop

    def step(self) -> float:
        """Send everything due now (one item at a time, honouring pacing); return the pause."""
        while True:
            now = self.clock()
            self._tell_backlogs(now)
            busy = self.storage.slots.busy(CHANNEL_PACE, now)
            channels = [key.removeprefix(CHANNEL_PACE) for key in busy]
            items = self.storage.outbox.fetch_due(
                limit=1, now=now, lease=self.timing.lease, exclude_channels=channels
            )
            if not items:
                return self._pause(now, busy.values())
            self.handle(items[0])

    def _tell_backlogs(self, now: datetime) -> None:
        """Post one summary, ahead of the queue, in each channel whose waiting posts just
        passed the threshold (at most once per backlog across replicas, so never retried), in
        the channel's next free slot."""
        if self.backlog is None:
            return
        for found in self.backlog.to_tell(now):
            self._untold[found.channel] = found
        for backlog in list(self._untold.values()):
            pace = {CHANNEL_PACE + backlog.channel: timedelta(seconds=self.timing.post_interval)}
            if self.storage.slots.take(pace, now=now) is not None:
                continue  # the channel's pace (perhaps another replica's post): a later step
            del self._untold[backlog.channel]
            newest = str(backlog.newest.payload.get("text") or "")
            message = backlog_message(backlog.waiting, newest)
            log.warning("%d posts waiting in %s; summary posted", backlog.waiting, backlog.channel)
            try:
                self._call("chat_postMessage", channel=backlog.channel, **message.as_kwargs())
            except SlackApiError as error:
                hold_rate_limited(self.storage, backlog.channel, error, self.clock())
                log.warning("backlog summary in %s refused: %s", backlog.channel, error_code(error))
            except (SlackClientError, OSError) as error:
                log.warning("could not post the backlog summary in %s: %s", backlog.channel, error)

    def _pause(self, now: datetime, paced_until: Iterable[datetime]) -> float:
        waits = [(free - now).total_seconds() for free in paced_until]
        return max(0.0, min([self.timing.idle, *waits]))

    def handle(self, item: OutboxItem) -> None:
        """Do one claimed item; every outcome completes, reschedules or gives it up."""
        try:
            if item.kind in self.takeovers:
                self.takeovers[item.kind](item)  # takes over the item (e.g. an SMS send)
                return
            result = self._dispatch(item)
        except Retry as retry:
            self._later(item, retry.delay, str(retry), count=retry.count)
        except GiveUp as error:
            self._fail(item, str(error))
        except SlackApiError as error:
            self._slack_error(item, error)
        except (SlackClientError, OSError) as error:
            self.health.unreachable(str(error))
            self._later(item, self._backoff(item), f"network: {error}", count=True)
        except StorageError:
            raise  # the database itself: the worker pauses and tries again
        except Exception as error:
            # A bug or bad data in one item must not stall the queue: back off, then give up.
            log.exception("outbox item %s (%s) failed", item.id, item.kind)
            if item.attempts >= MAX_BUGGY_ATTEMPTS:
                self._fail(item, f"{type(error).__name__}: {error}")
            else:
                self._later(item, self._backoff(item), f"{type(error).__name__}", count=True)
        else:
            self._complete(item, result)
            self.health.answered()
            if item.kind == OutboxKind.POST:
                self.health.posted(item.channel)

    def _complete(self, item: OutboxItem, result: str | None) -> None:
        """Mark the item done and run its kind's completion step in the same transaction, so
        no crash can leave the item done without its effect (or the effect without the item
        done, which would post it again)."""
        with self.storage.transaction():
            done = self.storage.outbox.complete(item, result)
            step = self.completions.get(item.kind)
            if done and result is not None and step is not None:
                step(self.storage, item, result)
            self.storage.values.delete(_INFLIGHT_KEY.format(item.id))

    def _dispatch(self, item: OutboxItem) -> str | None:
        call = self.slack_calls.get(item.kind)
        if call is None:
            raise GiveUp(f"unknown outbox kind {item.kind!r}")
        return call(item)

    # ---- outcomes

    def _later(self, item: OutboxItem, delay: float, reason: str, *, count: bool) -> None:
        # A floor, so an item due again "now" cannot spin the loop.
        not_before = self.clock() + timedelta(seconds=max(delay, MIN_DELAY))
        self.storage.outbox.reschedule(item, not_before, error=reason[:500], count_attempt=count)

    def _backoff(self, item: OutboxItem) -> float:
        return min(self.timing.max_backoff, self.timing.backoff * 2 ** min(item.attempts, 20))

    def _slack_error(self, item: OutboxItem, error: SlackApiError) -> None:
        delay = hold_rate_limited(self.storage, item.channel, error, self.clock())
        if delay is not None:
            self.storage.values.delete(_INFLIGHT_KEY.format(item.id))  # refused: not posted
            self._later(item, delay, "rate limited (429)", count=False)
        elif is_transient(error):
            reason = f"Slack {status_of(error)}: {error_code(error)}"
            if status_of(error) >= 500:
                self.health.unreachable(reason)
            self._later(item, self._backoff(item), reason, count=True)
        elif item.kind == OutboxKind.POST and error_code(error) in CHANNEL_CLOSED:
            # The channel refuses us (not a member, archived, gone): the post waits, never
            # failed for good, and goes out once someone fixes the channel (product.md §6).
            self.health.closed(item.channel, error_code(error))
            self.storage.values.delete(_INFLIGHT_KEY.format(item.id))  # refused: not posted
            self._later(item, self._backoff(item), f"Slack: {error_code(error)}", count=True)
        else:
            self._fail(item, f"Slack: {error_code(error)}")

    def _fail(self, item: OutboxItem, reason: str) -> None:
        log.error("outbox item %s (%s) failed for good: %s", item.id, item.kind, reason)
        with self.storage.transaction():
            self.storage.outbox.give_up(item, reason[:500])
            self.storage.values.delete(_INFLIGHT_KEY.format(item.id))

    # ---- Slack calls

    def _call(self, method: str, **params: Any) -> Any:
        return getattr(self.slack, method)(**params)

    def _take_slots(self, channel: str, card: str | None = None) -> None:
        """Take the channel's next slot (and the card's, both or neither), shared by every
        replica; Retry when another write has it. Taken before the call and kept even if the
        call fails: Slack counted it."""
        slots = {CHANNEL_PACE + channel: timedelta(seconds=self.timing.post_interval)}
        if card is not None:
            slots[CARD_PACE + card] = timedelta(seconds=self.timing.card_interval)
        wait = self.storage.slots.take(slots, now=self.clock())
        if wait is not None:
            raise Retry(wait.total_seconds(), "pacing")

    def _ephemeral(self, item: OutboxItem) -> None:
        self._take_slots(item.channel)
        self._call("chat_postEphemeral", channel=item.channel, **item.payload)

    def _post(self, item: OutboxItem, shown: Mapping[str, Any] | None = None) -> str:
        """Post the item's message (or `shown`, rendered by the caller), exactly once."""
        payload: Mapping[str, Any] = item.payload if shown is None else shown
        if "card_of" in payload:  # a card Slack was down for: shown as it stands now
            payload = self._card_payload(int(payload["card_of"]))
        thread_ts = self._thread_ts(payload)
        marker_key = _INFLIGHT_KEY.format(item.id)
        marker = self.storage.values.get(marker_key)
        if marker is not None:
            found = self._find_posted(item, json.loads(marker))
            if found is not None:
                log.info(
                    "outbox item %s was already posted (%s); not posting again", item.id, found
                )
                return found
        self._take_slots(item.channel)
        since = self.clock() - timedelta(seconds=5)
        self.storage.values.set(
            marker_key, json.dumps({"since": since.timestamp(), "thread_ts": thread_ts})
        )
        params: dict[str, Any] = {
            "channel": item.channel,
            "text": payload.get("text", ""),
            "blocks": payload.get("blocks") or None,
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {
                "event_type": EVENT_TYPE,
                "event_payload": {"item": item.id, "instance": self._instance_token()},
            },
        }
        if thread_ts:
            params["thread_ts"] = thread_ts
        if payload.get("mrkdwn") is False:
            params["mrkdwn"] = False
        response = self._call("chat_postMessage", **params)
        return str(response["ts"])

    def _card_payload(self, send_id: int) -> dict[str, Any]:
        send = self.storage.sends.get(send_id)
        if send is None:
            raise GiveUp(f"send {send_id} no longer exists")
        message = self.render_card(send)
        return {"text": message.text, "blocks": message.blocks}

    def _thread_ts(self, payload: Mapping[str, Any]) -> str | None:
        if payload.get("thread_ts"):
            return str(payload["thread_ts"])
        root = payload.get("thread_root_item")
        if root is None:
            return None
        ts = self.storage.outbox.result(int(root))
        if ts is not None:
            return ts
        root_item = self.storage.outbox.get(int(root))
        if root_item is not None and root_item.state == "pending":
            raise Retry(self.timing.post_interval, f"thread root {root} not posted yet")
        return None  # the root failed for good: post at the top level rather than lose it

    def _find_posted(self, item: OutboxItem, marker: Mapping[str, Any]) -> str | None:
        """The ts of this item's post if Slack already has it (a previous attempt got through)."""
        params: dict[str, Any] = {
            "channel": item.channel,
            "oldest": f"{float(marker.get('since', 0)):.6f}",
            "include_all_metadata": True,
            "limit": 200,
            "inclusive": True,
        }
        method = "conversations_history"
        if marker.get("thread_ts"):
            method, params["ts"] = "conversations_replies", marker["thread_ts"]
        token = self._instance_token()
        try:
            for _ in range(_LOOKUP_PAGES):
                response = self._call(method, **params)
                for message in response.get("messages") or []:
                    meta = message.get("metadata") or {}
                    body = meta.get("event_payload") or {}
                    ours = meta.get("event_type") == EVENT_TYPE and body.get("instance") == token
                    if ours and body.get("item") == item.id:
                        return str(message["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
                params["cursor"] = cursor
        except SlackApiError as error:
            if is_transient(error):
                raise  # Slack will answer later: look again then rather than post twice
            log.warning(
                "cannot check whether outbox item %s was posted (%s); posting it again",
                item.id,
                error_code(error),
            )
        return None

    def _update(self, item: OutboxItem) -> str | None:
        payload: Mapping[str, Any] = item.payload
        key = item.coalesce_key or f"update:{item.id}"
        if "send_id" in payload:
            channel, ts, message = self._card(int(payload["send_id"]), item)
        else:
            channel, ts = item.channel, str(payload["ts"])
            message = Message(payload["text"], payload.get("blocks") or [])
        self._take_slots(channel, card=key)
        try:
            self._call("chat_update", channel=channel, ts=ts, **message.as_kwargs())
        finally:
            self._hold_card(key)
        return ts

    def _hold_card(self, key: str) -> None:
        """The card's next update waits a full interval from now, for every replica: counted
        from when the call ended, Slack saw it by then, however long it took to get there."""
        ended = self.clock() + timedelta(seconds=self.timing.card_interval)
        self.storage.slots.hold(CARD_PACE + key, ended)

    def _card(self, send_id: int, item: OutboxItem) -> tuple[str, str, Message]:
        send = self.storage.sends.get(send_id)
        if send is None:
            raise GiveUp(f"send {send_id} no longer exists")
        if not send.card_ts:
            if item.attempts >= MAX_CARD_WAITS:
                raise GiveUp(f"send {send_id} never got a card")
            raise Retry(2.0, f"card of send {send_id} not posted yet", count=True)
        return send.card_channel or item.channel, send.card_ts, self.render_card(send)

    # ---- bulk runs

    def _bulk_run(self, item: OutboxItem) -> tuple[BulkBoard, BulkProgress]:
        if self.bulk is None:
            raise GiveUp("bulk sends are not shown by this outbox")
        progress = self.bulk.progress(str(item.payload.get("bulk_id") or ""))
        if progress is None:
            raise GiveUp(f"bulk run {item.payload.get('bulk_id')!r} no longer exists")
        return self.bulk, progress

    def _bulk_progress(self, item: OutboxItem) -> str | None:
        """Post the run's card the first time, then update it in place (paced per card)."""
        board, progress = self._bulk_run(item)
        key = item.coalesce_key or BULK_KEY.format(progress.bulk_id)
        message = board.card(progress)
        if not progress.card_ts:
            channel = progress.channel or item.channel
            ts = self._post(item, {"text": message.text, "blocks": message.blocks})
            # Stored now, not by a completion step: an item whose payload was replaced in
            # flight stays pending, and must find the card posted when it runs again.
            board.card_posted(progress.bulk_id, channel, ts)
            self._hold_card(key)
            board.changed()
            return ts
        channel = progress.channel or item.channel
        self._take_slots(channel, card=key)
        try:
            self._call("chat_update", channel=channel, ts=progress.card_ts, **message.as_kwargs())
        finally:
            self._hold_card(key)
        board.changed()
        return str(progress.card_ts)

    def _bulk_result(self, item: OutboxItem) -> str | None:
        """Upload the result CSV in the card's thread, once."""
        board, progress = self._bulk_run(item)
        if not progress.card_ts:
            if item.attempts >= MAX_CARD_WAITS:
                raise GiveUp(f"bulk run {progress.bulk_id} never got a card")
            raise Retry(2.0, f"card of bulk run {progress.bulk_id} not posted yet", count=True)
        channel = progress.channel or item.channel
        result = board.result(progress)
        marker_key = _INFLIGHT_KEY.format(item.id)
        if self.storage.values.get(marker_key) is not None:
            found = self._find_uploaded(channel, progress.card_ts, result.file.filename)
            if found is not None:
                log.info("result of bulk run %s was already uploaded", progress.bulk_id)
                return found
        self.storage.values.set(marker_key, json.dumps({"thread_ts": progress.card_ts}))
        self._take_slots(channel)
        response = self._call(
            "files_upload_v2",
            channel=channel,
            thread_ts=progress.card_ts,
            content=result.content,
            filename=result.file.filename,
            title=result.file.title,
            initial_comment=result.file.comment,
        )
        uploaded = response.get("file") or {}
        return str(uploaded.get("id") or "") or None

    def _find_uploaded(self, channel: str, thread_ts: str, filename: str) -> str | None:
        """The ID of a file named `filename` already shared in the thread, if any."""
        try:
            answer = self._call("conversations_replies", channel=channel, ts=thread_ts, limit=200)
        except SlackApiError as error:
            if is_transient(error):
                raise
            log.warning("cannot check the thread for %s (%s)", filename, error_code(error))
            return None
        for message in answer.get("messages") or []:
            for file in message.get("files") or []:
                if isinstance(file, dict) and file.get("name") == filename:
                    return str(file.get("id") or "") or None
        return None

    def _reaction(self, item: OutboxItem) -> None:
        """Make the reaction on a relayed reply show its current state (idempotent)."""
        send = self.storage.sends.get(int(item.payload["send_id"]))
        if send is None or not send.card_ts or self.reaction_for is None:
            return None
        wanted = self.reaction_for(send)
        state_key = f"outbox.reaction.{send.id}"
        shown = self.storage.values.get(state_key)
        if wanted == shown:
            return None
        target = {"channel": send.card_channel or item.channel, "timestamp": send.card_ts}
        if shown:
            self._ignore_already("reactions_remove", name=shown, **target)
        if wanted:
            self._ignore_already("reactions_add", name=wanted, **target)
        self.storage.values.set(state_key, wanted or "")
        return None

    def _ignore_already(self, method: str, **params: Any) -> None:
        try:
            self._call(method, **params)
        except SlackApiError as error:
            if error_code(error) not in _ALREADY:
                raise

    def _instance_token(self) -> str:
        """A random token of this database, so another installation's items never match."""
        if self._instance is None:
            token = self.storage.values.get(_INSTANCE_KEY)
            if token is None:
                token = secrets.token_hex(8)
                self.storage.values.set(_INSTANCE_KEY, token)
            self._instance = token
        return self._instance
