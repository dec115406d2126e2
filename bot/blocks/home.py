"""The Home tab: a pure builder from a `HomeSnapshot` to the `home` view `views.publish` takes.

Sections: the balance (credits, or money with its currency) and buttons opening the compose form
and the bulk form; the latest SMS threads, unanswered first, each with its number or contact, its
last message and which way it went, and a link to the thread; the person's scheduled sends, each
with a Cancel button; the bulk sends still running, each with its progress bar and a link to its
card; for admins the opted-out numbers. Phones' words are shown escaped, as everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.blocks.base import Block, clip, code, context, escape, local_time, plain, section
from bot.blocks.bulk_card import progress_lines
from bot.domain.records import Send
from bot.gateway.base import Balance
from bot.sms.numbers import display_number
from bot.usecases.bulk import BulkProgress
from bot.usecases.home import HomeSnapshot, ThreadLine

HOME_COMPOSE_ACTION = "home_compose"
HOME_CANCEL_ACTION = "home_cancel"
HOME_BULK_ACTION = "home_bulk"
HOME_TEMPLATES_ACTION = "home_templates"
TEXT_SHOWN = 120  # characters of a message shown in a list


Links = Mapping[tuple[str, str], str]  # (channel, ts) -> the message's permalink


def home_view(
    snapshot: HomeSnapshot, workspace_url: str, links: Links | None = None
) -> dict[str, Any]:
    """The Home view. A thread's or bulk card's link is its permalink from `links`
    (chat.getPermalink), else one built from `workspace_url` ("https://team.slack.com/")."""
    if not snapshot.allowed:
        blocks = [_header("SMS"), section(_not_allowed(snapshot.user))]
    else:
        blocks = [
            _header("SMS"),
            section(balance_words(snapshot.balance, snapshot.balance_problem)),
            _buttons(),
            *_threads(snapshot.threads, workspace_url, links or {}),
            *_scheduled(snapshot.scheduled),
            *_bulk_runs(snapshot.bulk_runs, workspace_url, links or {}),
            *_opt_outs(snapshot),
        ]
    if snapshot.sandbox:
        blocks.append(context(":test_tube: Sandbox gateway: no real SMS is sent."))
    return {"type": "home", "callback_id": "home", "blocks": blocks}


def balance_words(balance: Balance | None, problem: str | None) -> str:
    if balance is None:
        return f"*Balance:* not available right now ({escape(problem or 'no answer')})"
    amount = f"{balance.amount:,.2f}".rstrip("0").rstrip(".")
    if balance.currency:
        return f"*Balance:* {escape(balance.currency)} {balance.amount:,.2f}"
    unit = "credit" if balance.amount == 1 else "credits"
    return f"*Balance:* {amount} {unit}"


def thread_link(workspace_url: str, channel: str, thread_ts: str) -> str:
    """Slack's permalink form for a message: the thread's root opens the thread."""
    base = workspace_url if workspace_url.endswith("/") else workspace_url + "/"
    return f"{base}archives/{channel}/p{thread_ts.replace('.', '')}"


def _link(links: Links, workspace_url: str, channel: str, ts: str) -> str:
    """The message's permalink when Slack gave one, else the address built from the workspace."""
    return links.get((channel, ts)) or thread_link(workspace_url, channel, ts)


def _header(text: str) -> Block:
    return {"type": "header", "text": plain(text)}


def _not_allowed(user: str) -> str:
    return (
        f"You are not allowed to send SMS: your Slack user ID ({escape(user)}) is not in "
        "SMS_ALLOWED_USERS. Ask the person who runs sms-bot to add it."
    )


def _buttons() -> Block:
    compose = {
        "type": "button",
        "action_id": HOME_COMPOSE_ACTION,
        "text": plain("Send an SMS"),
        "style": "primary",
        "value": "compose",
    }
    templates = {
        "type": "button",
        "action_id": HOME_TEMPLATES_ACTION,
        "text": plain("Templates"),
        "value": "templates",
    }
    bulk = {
        "type": "button",
        "action_id": HOME_BULK_ACTION,
        "text": plain("Bulk send"),
        "value": "bulk",
    }
    return {"type": "actions", "block_id": "home-actions", "elements": [compose, templates, bulk]}


def _bulk_runs(runs: tuple[BulkProgress, ...], workspace_url: str, links: Links) -> list[Block]:
    """Running bulk sends, each with its progress and a link to its card."""
    if not runs:
        return []
    return [_header("Bulk sends"), *(_bulk_run(run, workspace_url, links) for run in runs)]


def _bulk_run(run: BulkProgress, workspace_url: str, links: Links) -> Block:
    starter = f"<@{run.starter}>" if run.starter else "the command line"
    link = ""
    if run.channel and run.card_ts:
        link = f" · <{_link(links, workspace_url, run.channel, run.card_ts)}|Open the card>"
    return section(f"*{run.total} rows* by {starter}{link}\n{progress_lines(run)}")


def _who(msisdn: str, contact: str | None) -> str:
    number = escape(display_number(msisdn))
    return f"*{escape(contact)}* ({number})" if contact else f"*{number}*"


def _threads(threads: tuple[ThreadLine, ...], workspace_url: str, links: Links) -> list[Block]:
    if not threads:
        return [_header("Conversations"), context("No SMS conversations yet.")]
    return [_header("Conversations"), *(_thread(line, workspace_url, links) for line in threads)]


def _thread(line: ThreadLine, workspace_url: str, links: Links) -> Block:
    thread = line.thread
    if thread.inbound:
        way = ":inbox_tray: *Waiting for an answer* · the phone wrote"
    else:
        way = ":outbox_tray: we wrote"
    text = escape(clip(thread.last_text.replace("\n", " "), TEXT_SHOWN))
    link = _link(links, workspace_url, thread.channel, thread.thread_ts)
    return section(
        f"{_who(thread.msisdn, line.contact_name)}\n{way}: “{text}”\n"
        f"{local_time(thread.last_at)} · <{link}|Open the thread>"
    )


def _scheduled(sends: tuple[Send, ...]) -> list[Block]:
    if not sends:
        return [_header("Your scheduled SMS"), context("Nothing scheduled.")]
    return [_header("Your scheduled SMS"), *(_scheduled_send(send) for send in sends)]


def _scheduled_send(send: Send) -> Block:
    whom = ", ".join(_who(r.msisdn, r.contact_name) for r in send.recipients[:3])
    if len(send.recipients) > 3:
        whom += f" and {len(send.recipients) - 3} more"
    when = "" if send.scheduled_at is None else local_time(send.scheduled_at)
    block = section(f"{when} to {whom}\n“{escape(clip(send.text, TEXT_SHOWN))}”")
    block["accessory"] = _cancel_button(send.id)
    return block


def _cancel_button(send_id: int) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": HOME_CANCEL_ACTION,
        "text": plain("Cancel"),
        "style": "danger",
        "value": str(send_id),
        "confirm": {
            "title": plain("Cancel this SMS?"),
            "text": {"type": "mrkdwn", "text": "The scheduled message will not be sent."},
            "confirm": plain("Cancel it"),
            "deny": plain("Keep it"),
        },
    }


def _opt_outs(snapshot: HomeSnapshot) -> list[Block]:
    if snapshot.opt_outs is None:
        return []
    if not snapshot.opt_outs:
        return [_header("Opted out"), context("Nobody has opted out.")]
    lines = [
        f"• {escape(display_number(o.msisdn))} — {escape(o.keyword)}, {o.changed_at:%Y-%m-%d}"
        for o in snapshot.opt_outs
    ]
    more = snapshot.opt_outs_total - len(snapshot.opt_outs)
    if more > 0:
        lines.append(f"…and {more} more: {code('/sms optouts')}")
    return [_header("Opted out"), section("\n".join(lines))]
