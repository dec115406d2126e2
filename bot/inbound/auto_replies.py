"""Automatic answers to keywords (product.md §6): HELP or INFO gets `SMS_HELP_REPLY`, an opt-out
gets `SMS_STOP_REPLY` once.

"Once" means once per opt-out: the confirmation is queued only when a STOP actually changed the
number from in to out. A STOP repeated while the number is out, or the same callback delivered
twice (the inbox stores it once), changes nothing and so texts nothing; a number that opts back in
and out again is told again, as it opted out again. Both are sent like any reply: recorded as a
send (so `/sms log` shows them), through the outbox's idempotent gateway call, and named in the
thread beside the phone's message. Both answer what the phone asked, so they reach it even when it
has opted out (the confirmation always does; a HELP from an opted-out number is still answered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.keywords import Keyword
from bot.domain.threading import NO_SLACK_MESSAGE
from bot.inbound.outgoing import OutgoingSms

TEAM_FIELD = "{team}"
UNKNOWN_TEAM = "This team"


@dataclass(frozen=True)
class AutoReply:
    text: str


class AutoReplies:
    def __init__(
        self,
        *,
        help_text: str,
        stop_text: str,
        team: Callable[[], str | None],
        queue: Callable[[OutgoingSms], int],
    ) -> None:
        self.help_text = help_text
        self.stop_text = stop_text
        self.team = team  # must not wait on Slack: it runs inside the routing transaction
        self.queue = queue

    def reply_to(self, keyword: Keyword, opted_out_now: bool) -> AutoReply | None:
        """The reply a keyword SMS gets, None for none. `opted_out_now`: it changed the number
        from in to out (a repeated STOP did not)."""
        if keyword.is_help and self.help_text:
            team = self.team() or UNKNOWN_TEAM
            return AutoReply(self.help_text.replace(TEAM_FIELD, team))
        if keyword.is_opt_out and opted_out_now and self.stop_text:
            return AutoReply(self.stop_text)
        return None

    def send(
        self, reply: AutoReply, msisdn: str, channel: str, thread_ts: str | None, key: str
    ) -> int:
        """Queue `reply` to `msisdn` (inside the routing transaction); `key` names the inbound
        SMS it answers, so it is queued once however often routing is retried."""
        return self.queue(
            OutgoingSms(
                slack_user="",
                channel=channel,
                text=reply.text,
                msisdns=(msisdn,),
                intent_key=f"auto-reply:{key}",
                # "" when the thread is still being posted: a reply all the same (its state is
                # not a card to update, nor a send to settle), with no thread to note failures in
                thread_ts=thread_ts or NO_SLACK_MESSAGE,
                to_opted_out=True,  # an answer the phone asked for
            )
        )
