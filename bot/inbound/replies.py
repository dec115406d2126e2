"""Thread replies from Slack to the phone (product.md §6; issue 4, "Conversations").

A person's message in the thread of a card or conversation is texted to that thread's number: the
phone whose SMS arrived there last, else the card's only recipient. `handle_event` runs on the
work executor (never on Bolt's listener threads) and does only fast, local work in one storage
transaction: claim the Slack message (so a redelivered event is relayed once), record the reply
as a send (`thread_ts` set, shown by the person's own message), and queue the gateway call and
the "on its way" reaction in the outbox. The gateway call itself (`send_item`) runs on this
module's own small pool, handed over by the outbox; a send interrupted by a crash is checked with
the gateway by its client ID (`find_sent`) before being tried again, so the phone never gets it
twice.

Not relayed: replies starting with `note:`, bot messages, message subtypes (joins, edits, file
shares, ...). An edited or deleted reply that was already relayed gets a short note that the phone
keeps the original. Refusals (not allowed, opted out, too long, no single number) are ephemeral.
The reply's reaction follows its delivery reports: outbox_tray, then white_check_mark or x.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.blocks import inbound as blocks
from bot.domain.delivery import FINAL_STATES, OUTCOME_UNKNOWN, DeliveryState, DeliveryStatus
from bot.domain.keywords import GATEWAY_OPT_OUT
from bot.domain.outbox import GATEWAY_CHANNEL, OutboxKind
from bot.domain.records import NewRecipient, OutboxItem, Recipient, Send, ThreadInfo
from bot.gateway.base import (
    Gateway,
    GatewayError,
    NotSent,
    OptedOut,
    OutcomeUnknown,
    Planned,
    RecipientResult,
    Unavailable,
)
from bot.inbound.conversations import order_key, post_payload
from bot.inbound.outgoing import OutgoingSms
from bot.inbound.reply_choice import Chosen, PendingReply, ReplyChoice
from bot.slack.message_text import SmsText, sms_text_from_event
from bot.slack.references import SlackNames
from bot.sms.encoding import measure
from bot.sms.refusals import Refused
from bot.storage import Storage
from bot.usecases.opt_out_cancels import record_opt_out

log = logging.getLogger(__name__)

NOTE_PREFIX = "note:"
# A reply also sent to the channel, and one with files, are still replies to relay.
RELAYED_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
QUEUED, RECEIVED, FAILED = "outbox_tray", "white_check_mark", "x"
MAX_TRANSIENT_ATTEMPTS = 8
_INFLIGHT = "relay.inflight.{}"
UNSETTLED = (
    "the reply may or may not have reached the phone: sending it was interrupted and this "
    "gateway cannot be asked about it, so it was not sent again"
)


@dataclass(frozen=True)
class Decision:
    """What `handle_event` did with one event, for logs and tests."""

    action: str  # "relayed", "asked", "refused", "noted", "ignored", "duplicate"
    reason: str = ""
    send_id: int | None = None


def reaction_for(send: Send) -> str | None:
    """The reaction that shows a relayed reply's state now: delivered only when every number it
    went to received it, failed as soon as one did not."""
    if not send.recipients:
        return None
    for recipient in send.recipients:
        if recipient.error_code or recipient.error_description:
            return FAILED
        if recipient.state in FINAL_STATES and recipient.state is not DeliveryState.DELIVERED:
            return FAILED
    if all(r.state is DeliveryState.DELIVERED for r in send.recipients):
        return RECEIVED
    return QUEUED


class ReplyRelay:
    def __init__(
        self,
        storage: Storage,
        gateway: Gateway,
        *,
        allowed: Callable[[str | None], bool],
        max_parts: int,
        sandbox: bool,
        clock: Callable[[], datetime],
        on_enqueue: Callable[[], None] = lambda: None,
        backoff: float = 2.0,
        pool_size: int = 4,
        names: SlackNames | None = None,
        is_admin: Callable[[str], bool] = lambda user: False,
    ) -> None:
        self.storage = storage
        self.choice = ReplyChoice(storage, is_admin=is_admin)
        self.names = names or SlackNames()  # who a mention names, for the phone
        self.gateway = gateway
        self.allowed = allowed
        self.max_parts = max_parts
        self.sandbox = sandbox
        self.clock = clock
        self.on_enqueue = on_enqueue
        self.backoff = backoff
        self._pool = ThreadPoolExecutor(pool_size, thread_name_prefix="sms-relay")
        self._running: set[int] = set()  # outbox items being sent now (a lapsed lease refetches)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.name = "reply-relay"

    # ---- worker protocol (Services.workers)

    def alive(self) -> bool:
        return not self._closed.is_set()

    def stop(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=True)

    # ---- Slack events

    def handle_event(self, body: Mapping[str, Any]) -> Decision:
        """One Events API envelope (or a bare `message` event)."""
        event = body.get("event", body)
        if not isinstance(event, Mapping) or event.get("type", "message") != "message":
            return Decision("ignored", "not a message event")
        subtype = event.get("subtype")
        if subtype in ("message_changed", "message_deleted"):
            return self._changed(event, deleted=subtype == "message_deleted")
        if subtype not in RELAYED_SUBTYPES or event.get("bot_id") or not event.get("user"):
            return Decision("ignored", f"subtype {subtype}" if subtype else "not a person")
        channel, ts, thread_ts = event.get("channel"), event.get("ts"), event.get("thread_ts")
        if not (channel and ts and thread_ts) or thread_ts == ts:
            return Decision("ignored", "not a thread reply")
        if str(event.get("text") or "").lstrip().lower().startswith(NOTE_PREFIX):
            return Decision("ignored", "note")
        info = self.storage.conversations.thread_info(channel, thread_ts)
        if info is None:
            return Decision("ignored", "not one of our threads")
        return self._relay(event, info, sms_text_from_event(event, self.names))

    def _relay(self, event: Mapping[str, Any], info: ThreadInfo, sms: SmsText) -> Decision:
        channel, ts, user = event["channel"], event["ts"], event.get("user")
        refusal, msisdn = self._check(user, info, sms)
        with self.storage.transaction():
            if not self.storage.claims.claim(_claim_key(channel, ts)):
                return Decision("duplicate")
            if refusal is not None:
                self._ephemeral(channel, user, info.thread_ts, refusal)
                decision = Decision("refused", refusal)
            elif ReplyChoice.needed(info):
                self.choice.ask(channel, ts, user or "", sms.text, info)
                decision = Decision("asked")
            else:
                send_id = self._record(event, info, msisdn, sms.text)
                decision = Decision("relayed", send_id=send_id)
            self._notes(channel, info.thread_ts, msisdn, sms, relayed=refusal is None)
        self.on_enqueue()
        return decision

    def _check(self, user: str | None, info: ThreadInfo, sms: SmsText) -> tuple[str | None, str]:
        """(refusal text or None, the number to text)."""
        msisdn = info.last_msisdn or (info.recipients[0] if len(info.recipients) == 1 else "")
        if not self.allowed(user):
            return blocks.refused_not_allowed(), msisdn
        if ReplyChoice.needed(info):  # the numbers are checked once the person chose
            msisdn = ""
        elif not msisdn:
            return blocks.ask_to_use_send(info.recipients), msisdn
        if msisdn and self.storage.opt_outs.is_opted_out(msisdn):
            return blocks.refused_opted_out(msisdn), msisdn
        if sms.is_empty:
            return blocks.refused_text("the reply has no text to send."), msisdn
        too_long = sms.size().refusal(self.max_parts)
        if too_long is not None:
            return too_long, msisdn
        return None, msisdn

    def _notes(
        self, channel: str, thread_ts: str, msisdn: str, sms: SmsText, *, relayed: bool
    ) -> None:
        """Say in the thread what the phone does not get (files, unknown emoji) and, for a reply
        sent as Unicode or in several parts, how it went: nothing typed passes without a word."""
        notes = list(sms.notes)
        if relayed:
            notes += [note for note in (sms.size().thread_note(),) if note]
        if not notes:
            return
        payload = post_payload(blocks.note_message(" ".join(notes)), thread_ts=thread_ts)
        order = order_key(msisdn) if msisdn else None
        self.storage.outbox.enqueue(channel, OutboxKind.POST, payload, order_key=order)

    def _record(self, event: Mapping[str, Any], info: Any, msisdn: str, text: str) -> int:
        channel, ts = event["channel"], event["ts"]
        return self.queue_sms(
            OutgoingSms(
                slack_user=event.get("user") or "",
                channel=channel,
                text=text,
                msisdns=(msisdn,),
                intent_key=_claim_key(channel, ts),
                thread_ts=info.thread_ts,
                marked_message=ts,
            )
        )

    def queue_sms(self, sms: OutgoingSms) -> int:
        """Record `sms` as a send and queue one gateway call per number (sent by `send_item`);
        run inside the caller's transaction. Returns the send's id."""
        encoding, _, parts = measure(sms.text)
        planned = self.gateway.plan(list(sms.msisdns))
        send = self.storage.sends.record(
            slack_user=sms.slack_user,
            channel=sms.channel,
            text=sms.text,
            encoding=encoding,
            parts=parts,
            recipients=[
                NewRecipient(
                    msisdn=plan.to,
                    climsgid=plan.client_id,
                    contact_name=self.storage.contacts.name_for(plan.to),
                )
                for plan in planned
            ],
            sandbox=self.sandbox,
            intent_key=sms.intent_key,
            thread_ts=sms.thread_ts,
        )
        if sms.marked_message:
            self.storage.sends.attach_card(send.id, sms.channel, sms.marked_message)
        for recipient in send.recipients:
            payload: dict[str, Any] = {"send_id": send.id}
            if len(send.recipients) > 1:
                payload["recipient_id"] = recipient.id
            if sms.to_opted_out:
                payload["to_opted_out"] = True
            self.storage.outbox.enqueue(GATEWAY_CHANNEL, OutboxKind.SMS, payload)
        self.refresh(send.id)
        return send.id

    def choose(self, channel: str, ts: str, target: str, user: str) -> Chosen:
        """A person pressed one of the question's buttons: text the waiting reply, once."""
        chosen = self.choice.choose(channel, ts, target, user, self._queue_chosen)
        self.on_enqueue()
        return chosen

    def _queue_chosen(self, pending: PendingReply, numbers: tuple[str, ...]) -> int:
        return self.queue_sms(
            OutgoingSms(
                slack_user=pending.user,
                channel=pending.channel,
                text=pending.text,
                msisdns=numbers,
                intent_key=_claim_key(pending.channel, pending.ts),
                thread_ts=pending.thread_ts,
                marked_message=pending.ts,
            )
        )

    def _ephemeral(self, channel: str, user: str | None, thread_ts: str, text: str) -> None:
        if user:
            payload = {"user": user, "text": text, "thread_ts": thread_ts}
            self.storage.outbox.enqueue(channel, OutboxKind.EPHEMERAL, payload)

    def _changed(self, event: Mapping[str, Any], *, deleted: bool) -> Decision:
        channel = event.get("channel")
        previous = event.get("previous_message") or {}
        current = event.get("message") or {}
        ts = event.get("deleted_ts") if deleted else current.get("ts")
        if not (channel and ts):
            return Decision("ignored", "incomplete change event")
        if not deleted and ("edited" not in current or current.get("text") == previous.get("text")):
            return Decision("ignored", "not an edit of the text")  # e.g. an unfurl
        send = self.storage.sends.by_intent(_claim_key(channel, ts))
        if send is None or not send.thread_ts:
            return Decision("ignored", "not a relayed reply")
        with self.storage.transaction():
            what = "deleted" if deleted else "edited"
            if not self.storage.claims.claim(
                f"relay-{what}:{channel}:{ts}"
            ):  # one note of each kind
                return Decision("duplicate")
            payload = post_payload(blocks.relay_changed(deleted), thread_ts=send.thread_ts)
            order = order_key(send.recipients[0].msisdn) if send.recipients else None
            self.storage.outbox.enqueue(channel, OutboxKind.POST, payload, order_key=order)
        self.on_enqueue()
        return Decision("noted", "deleted" if deleted else "edited", send.id)

    # ---- delivery state

    def refresh(self, send_id: int) -> None:
        """Queue the reaction that shows the reply's current state (coalesced per reply)."""
        send = self.storage.sends.get(send_id)
        if send is not None and send.card_channel:
            self.storage.outbox.enqueue(
                send.card_channel,
                OutboxKind.REACTION,
                {"send_id": send_id},
                coalesce_key=f"reply:{send_id}",
            )
            self.on_enqueue()

    def note_failure(self, send_id: int, msisdn: str, words: str, code: str | None) -> None:
        """Say in the thread why a relayed reply did not reach the phone."""
        send = self.storage.sends.get(send_id)
        if send is None or not send.thread_ts:
            return
        payload = post_payload(blocks.relay_failed(msisdn, words, code), thread_ts=send.thread_ts)
        self.storage.outbox.enqueue(
            send.card_channel or send.channel, OutboxKind.POST, payload, order_key=order_key(msisdn)
        )
        self.on_enqueue()

    def status_failed(self, send_id: int, msisdn: str, status: DeliveryStatus) -> None:
        """A delivery report said the reply failed (or expired, or was cancelled)."""
        self.note_failure(send_id, msisdn, status.words, status.code)

    # ---- the gateway send (outbox handler for SMS items)

    def submit(self, item: OutboxItem) -> None:
        """Outbox handler: send on the relay pool; the outbox thread goes on at once."""
        with self._lock:
            if item.id in self._running:
                return  # still being sent (slow gateway): its worker will finish it
            self._running.add(item.id)
        try:
            self._pool.submit(self._send_safely, item)
        except RuntimeError:  # shutting down: the claim lapses and the item is sent after restart
            log.info("relay pool closed; SMS item %s left for the next start", item.id)
            with self._lock:
                self._running.discard(item.id)

    def _send_safely(self, item: OutboxItem) -> None:
        try:
            self.send_item(item)
        except Exception as error:
            log.exception("relaying outbox item %s failed", item.id)
            self._retry(item, f"{type(error).__name__}: {error}")
        finally:
            with self._lock:
                self._running.discard(item.id)

    def send_item(self, item: OutboxItem) -> None:
        send = self.storage.sends.get(int(item.payload["send_id"]))
        recipient = _recipient_of(send, item.payload.get("recipient_id"))
        if send is None or recipient is None:
            self.storage.outbox.give_up(item, "the reply's record is gone")
            return
        if recipient.apimsgid or recipient.error_code or recipient.error_description:
            self._finish(item, send.id)  # already done before a crash
            return
        if not item.payload.get("to_opted_out") and self.storage.opt_outs.is_opted_out(
            recipient.msisdn
        ):
            words = "the number opted out (texted STOP) before the reply went out"
            self._failed(item, send, recipient, None, words)
            return
        marker = _marker(item)
        if self.storage.values.get(marker) is not None and self._already_sent(
            item, send, recipient
        ):
            return
        self.storage.values.set(marker, json.dumps({"at": self.clock().timestamp()}))
        try:
            planned = [Planned(recipient.msisdn, recipient.climsgid)]  # as recorded
            result = self.gateway.send(planned, send.text)
        except OutcomeUnknown as error:
            self._retry(item, f"outcome unknown: {error}")
            return
        except GatewayError as error:
            if _transient(error) and item.attempts < MAX_TRANSIENT_ATTEMPTS:
                self.storage.values.delete(marker)
                self._retry(item, str(error))
                return
            self._failed(item, send, recipient, error.code, error.explanation, _opted_out(error))
            return
        except Refused as error:
            self._failed(item, send, recipient, None, str(error))
            return
        self._sent(item, send, recipient, result.messages[0])

    def _already_sent(self, item: OutboxItem, send: Send, recipient: Recipient) -> bool:
        """After a crash mid-send: does the gateway know this client ID? Then do not resend.
        A gateway that cannot be asked leaves the outcome unknown: never resent blindly."""
        if not self.gateway.capabilities.query_by_client_id:
            # Stored as an unknown outcome, so the report carrying its client ID settles it.
            self._failed(item, send, recipient, OUTCOME_UNKNOWN, UNSETTLED)
            return True
        try:
            found = self.gateway.find_sent(recipient.climsgid)
        except GatewayError as error:
            self._retry(item, f"cannot check an interrupted send: {error}")
            return True
        if found is None:
            return False
        with self.storage.transaction():
            self.storage.sends.record_result(recipient.id, apimsgid=found.message_id)
            self.storage.sends.update_status(recipient.id, found.status, apimsgid=found.message_id)
            self._finish(item, send.id)
        return True

    def _sent(
        self, item: OutboxItem, send: Send, recipient: Recipient, result: RecipientResult
    ) -> None:
        error = result.error
        if error is not None:
            self._failed(item, send, recipient, error.code, error.explanation, _opted_out(error))
            return
        with self.storage.transaction():
            self.storage.sends.record_result(recipient.id, apimsgid=result.message_id)
            self._finish(item, send.id)

    def _failed(
        self,
        item: OutboxItem,
        send: Send,
        recipient: Recipient,
        code: str | None,
        words: str,
        opted_out: bool = False,
    ) -> None:
        """The reply was not sent; `opted_out`: the gateway says the phone opted out with it,
        recorded as if it had texted STOP."""
        with self.storage.transaction():
            self.storage.sends.record_result(
                recipient.id, apimsgid=None, error_code=code, error_description=words
            )
            if opted_out:
                record_opt_out(self.storage, recipient.msisdn, GATEWAY_OPT_OUT)
            self.note_failure(send.id, recipient.msisdn, words, code)
            self._finish(item, send.id)

    def _finish(self, item: OutboxItem, send_id: int) -> None:
        with self.storage.transaction():
            self.storage.outbox.complete(item)
            self.storage.values.delete(_marker(item))
            self.refresh(send_id)

    def _retry(self, item: OutboxItem, reason: str) -> None:
        delay = min(300.0, self.backoff * 2 ** min(item.attempts, 10))
        self.storage.outbox.reschedule(
            item, self.clock() + timedelta(seconds=delay), error=reason[:500]
        )
        self.on_enqueue()


def _recipient_of(send: Send | None, recipient_id: object) -> Recipient | None:
    """The recipient an SMS item is for: named by id when the send has several, else the one."""
    if send is None or not send.recipients:
        return None
    if recipient_id is None:
        return send.recipients[0]
    return next((r for r in send.recipients if str(r.id) == str(recipient_id)), None)


def _marker(item: OutboxItem) -> str:
    """The "gateway call in flight" marker of one SMS item (per number of a send)."""
    send_id, recipient_id = item.payload["send_id"], item.payload.get("recipient_id")
    key = send_id if recipient_id is None else f"{send_id}.{recipient_id}"
    return _INFLIGHT.format(key)


def _claim_key(channel: str, ts: str) -> str:
    return f"relay:{channel}:{ts}"


def _opted_out(error: GatewayError) -> bool:
    return isinstance(error, OptedOut)


def _transient(error: GatewayError) -> bool:
    """Worth trying again later: it never reached the gateway, or the gateway could not serve
    it now (nothing was sent either way)."""
    return isinstance(error, NotSent | Unavailable)
