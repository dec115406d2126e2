"""`/sms optout NUMBER`, `/sms optin NUMBER` and `/sms optouts`: admins only (SMS_ADMINS).

The list is answered to the admin and also posted in the channel as a CSV file, with slack_sdk's
`files_upload_v2` (files.getUploadURLExternal, the upload, files.completeUploadExternal). A
channel the bot cannot post files in costs only the file: the answer says so.
"""

from __future__ import annotations

import logging
from typing import Protocol

from slack_sdk.errors import SlackApiError, SlackClientError

from bot import grammar
from bot.blocks.errors import refused_message
from bot.blocks.opt_outs import opt_change_message, opted_out_message
from bot.container import Services
from bot.domain.access import admin_only_text
from bot.listeners.common import Replier, is_admin
from bot.slack.errors import error_code
from bot.usecases.opt_outs import (
    opt_in_by_admin,
    opt_out_by_admin,
    opted_out_csv,
    opted_out_lines,
)

log = logging.getLogger(__name__)

CSV_NAME = "opted-out-numbers.csv"


class Call(Protocol):
    """Who typed the command and where (commands.run.Invocation)."""

    @property
    def user(self) -> str: ...

    @property
    def channel(self) -> str: ...

    @property
    def reply(self) -> Replier: ...


def _admin(services: Services, call: Call) -> bool:
    if is_admin(services.settings, call.user):
        return True
    call.reply(refused_message(admin_only_text(call.user)))
    return False


def opt_out_command(services: Services, command: grammar.OptOut, call: Call) -> None:
    if _admin(services, call):
        change = opt_out_by_admin(
            services.storage, services.settings, command.number, call.user, services.clock()
        )
        call.reply(opt_change_message(change, out=True))


def opt_in_command(services: Services, command: grammar.OptIn, call: Call) -> None:
    if _admin(services, call):
        change = opt_in_by_admin(
            services.storage, services.settings, command.number, call.user, services.clock()
        )
        call.reply(opt_change_message(change, out=False))


def opt_outs_command(services: Services, command: grammar.OptOuts, call: Call) -> None:
    if not _admin(services, call):
        return
    lines = opted_out_lines(services.storage)
    posted = bool(lines) and _post_csv(services, call, opted_out_csv(lines), len(lines))
    call.reply(opted_out_message(lines, posted))


def _post_csv(services: Services, call: Call, content: str, count: int) -> bool:
    try:
        services.slack.files_upload_v2(
            channel=call.channel,
            content=content,
            filename=CSV_NAME,
            title="Opted-out numbers",
            initial_comment=f"<@{call.user}> asked for the opted-out numbers ({count}).",
        )
    except SlackApiError as error:
        log.warning("opt-out CSV not posted in %s: %s", call.channel, error_code(error))
        return False
    except (SlackClientError, OSError) as error:
        log.warning("opt-out CSV not posted in %s: %s", call.channel, error)
        return False
    except Exception:  # e.g. a Slack stand-in without file uploads: the list is answered anyway
        log.exception("opt-out CSV not posted in %s", call.channel)
        return False
    return True
