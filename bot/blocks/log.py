"""`/sms log [NUMBER|NAME]`: messages in both directions, who sent each, its status, a link to
its conversation's thread, and a **More** button for the next page. Times use Slack's date
formatting, so each viewer reads their own time zone."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.blocks.base import Block, Message, clip, code, escape, local_time, plain, section
from bot.blocks.home import thread_link
from bot.sms.numbers import display_number
from bot.usecases.message_log import LogLine, LogPage, sender_words

LOG_MORE_ACTION = "log_more"
_BUDGET = 2700  # characters of lines per section (a section holds 3000)


@dataclass(frozen=True)
class LogAsked:
    """What was asked, so the More button can ask for the next page."""

    number: str | None  # the number or name as typed, "all", or None
    msisdn: str | None  # the number it named

    def more_value(self, page: int) -> str:
        return json.dumps({"number": self.number, "page": page})


def parse_more_value(value: str) -> tuple[str | None, int] | None:
    try:
        data = json.loads(value)
        number, page = data.get("number"), int(data.get("page"))
    except (ValueError, TypeError, AttributeError):
        return None
    if (number is not None and not isinstance(number, str)) or not 1 <= page <= 1000:
        return None
    return number, page


def _who(line: LogLine) -> str:
    number = escape(display_number(line.msisdn))
    return f"{escape(line.contact_name)} ({number})" if line.contact_name else number


def _line(line: LogLine, workspace_url: str) -> str:
    text = escape(clip(" ".join(line.text.split()), 60))
    if line.inbound:
        head = f"{_who(line)} → us"
    else:
        named = sender_words(line.sender)
        sender = escape(named) if named else f"<@{line.sender}>"
        head = f"{sender} → {_who(line)}"
    ident = f" {code(line.message_id)}" if line.message_id else ""
    link = ""
    if line.channel and line.thread_ts:
        link = f" <{thread_link(workspace_url, line.channel, line.thread_ts)}|thread>"
    state = escape(line.state)
    if line.state == "Scheduled" and line.scheduled_at is not None:
        state += f" for {local_time(line.scheduled_at)}"
    return f"• {local_time(line.at)} {head}: “{text}” — *{state}*{ident}{link}"


def log_message(page: LogPage, asked: LogAsked, workspace_url: str) -> Message:
    about = f" with {display_number(asked.msisdn)}" if asked.msisdn else ""
    if not page.lines:
        words = f"No messages{about} yet." if page.page == 1 else f"No more messages{about}."
        return Message(escape(words), [section(escape(words))])
    sections: list[Block] = []
    chunk: list[str] = []
    size = 0
    for line in page.lines:
        text = _line(line, workspace_url)
        if size + len(text) > _BUDGET and chunk:
            sections.append(section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(text)
        size += len(text) + 1
    sections.append(section("\n".join(chunk)))
    title = f"*Messages{escape(about)}*, newest first (page {page.page})"
    blocks: list[Block] = [section(title), *sections]
    if page.has_more:
        blocks.append(
            {
                "type": "actions",
                "block_id": "log_more",
                "elements": [
                    {
                        "type": "button",
                        "action_id": LOG_MORE_ACTION,
                        "text": plain("More"),
                        "value": asked.more_value(page.page + 1),
                    }
                ],
            }
        )
    return Message(f"Messages{about} (page {page.page})", blocks)
