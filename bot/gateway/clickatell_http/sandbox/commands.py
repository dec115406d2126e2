"""The gateway's commands (protocol reference §3): parameters in, the reply's text out.

No HTTP here: the server hands over the command's name, its parameters and the HTTP method, and
writes back what `Gateway.handle` returns. Every command holds the state lock from start to
finish, so concurrent requests see each other whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import wire
from .events import EventRunner
from .options import MessageOptions, read_options
from .params import Params
from .phone import has_opted_out, is_routable, is_valid_number, plan_for
from .state import CHARGE_WINDOW, Batch, Message, State, new_id
from .text import binary_parts, check_parts, count_parts, decode
from .wire import WireError, error_line, id_line

COST_PER_PART = 1.0  # credits per SMS part per recipient; also routeCoverage's Charge
VOUCHER_CREDIT = 100.0  # credits a redeemed voucher adds
TOKEN_ACCEPTED = "605"
MAX_RECIPIENTS = {"GET": 100, "POST": 300}  # per call (§1); more is 101

_VOUCHER = re.compile(r"[0-9]{16}")
_FIELD = re.compile(r"#field([0-9]+)#")

HTTP = "http"
BATCH = "http_batch"
UTILS = "utils"


@dataclass(frozen=True)
class Credentials:
    """The only account the sandbox accepts; None in a field accepts any value there."""

    api_id: str | None = None
    user: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Request:
    params: Params
    method: str
    now: float


@dataclass(frozen=True)
class Body:
    text: str
    unicode: bool
    parts: int


Handler = Callable[[Request], str]


def _kept(params: Params) -> dict[str, str]:
    """The parameters a message remembers: not the secrets, and not the recipient list (each
    message has its own `to`; a 300-number list copied into each would waste memory)."""
    return {k: v for k, v in params.public().items() if k != "to"}


class Gateway:
    def __init__(
        self,
        state: State,
        events: EventRunner,
        clock: Callable[[], float],
        session_ttl: float,
        credentials: Credentials,
    ):
        self._state = state
        self._events = events
        self._clock = clock
        self._ttl = session_ttl
        self._credentials = credentials
        self._routes: dict[tuple[str, str], Handler] = {
            (HTTP, "auth"): self._auth,
            (HTTP, "ping"): self._ping,
            (HTTP, "sendmsg"): self._sendmsg,
            (HTTP, "querymsg"): self._querymsg,
            (HTTP, "delmsg"): self._delmsg,
            (HTTP, "getbalance"): self._getbalance,
            (HTTP, "getmsgcharge"): self._getmsgcharge,
            (HTTP, "token_pay"): self._token_pay,
            (UTILS, "routeCoverage"): self._route_coverage,
            (BATCH, "startbatch"): self._startbatch,
            (BATCH, "senditem"): self._senditem,
            (BATCH, "quicksend"): self._quicksend,
            (BATCH, "endbatch"): self._endbatch,
        }

    def handle(self, namespace: str, command: str, params: Params, method: str) -> str:
        """The reply body for one command. An unknown command is 101, as on a real server."""
        handler = self._routes.get((namespace, command))
        if handler is None:
            return error_line("101")
        with self._state.lock:
            try:
                return handler(Request(params, method, self._clock()))
            except WireError as error:
                return error_line(error.code)

    # authentication ---------------------------------------------------------------------------
    def _check_credentials(self, params: Params) -> str:
        """The api_id of a valid api_id/user/password triple: 108 for a missing or wrong api_id,
        002 for an unknown user, 001 for a missing user or password or a wrong password."""
        expected = self._credentials
        api_id = params.filled("api_id")
        if api_id is None or (expected.api_id is not None and api_id != expected.api_id):
            raise WireError("108")
        user, password = params.filled("user"), params.text("password")
        if user is None or not password:
            raise WireError("001")
        if expected.user is not None and user != expected.user:
            raise WireError("002")
        if expected.password is not None and password != expected.password:
            raise WireError("001")
        return api_id

    def _session(self, request: Request) -> str | None:
        """The api_id of the request's session (extending it), None when it names none;
        003 for an unknown or expired session."""
        session_id = request.params.filled("session_id")
        if session_id is None:
            return None
        session = self._state.use_session(session_id, request.now, self._ttl)
        if session is None:
            raise WireError("003")
        return session.api_id

    def _authenticate(self, request: Request) -> str:
        """Every command but auth: a session, or api_id/user/password; 005 with neither."""
        api_id = self._session(request)
        if api_id is not None:
            return api_id
        if any(name in request.params for name in ("api_id", "user", "password")):
            return self._check_credentials(request.params)
        raise WireError("005")

    def _auth(self, request: Request) -> str:
        api_id = self._check_credentials(request.params)
        session = self._state.open_session(api_id, request.now, self._ttl)
        return f"OK: {session.id}"

    def _ping(self, request: Request) -> str:
        if self._session(request) is None:
            raise WireError("005")
        return "OK:"

    # sending ----------------------------------------------------------------------------------
    def _recipients(self, request: Request) -> list[str]:
        value = request.params.text("to")
        if value is None or not value.strip():
            raise WireError("101")
        numbers = [number.strip() for number in value.split(",")]
        # Production delivered a %2C-separated list to its first number only (§1).
        if b"%2c" in (request.params.raw("to") or b"").lower():
            numbers = numbers[:1]
        if len(numbers) > MAX_RECIPIENTS.get(request.method, MAX_RECIPIENTS["GET"]):
            raise WireError("101")
        return numbers

    @staticmethod
    def _body(text: str | None, options: MessageOptions) -> Body:
        """101 without a body, 107 for an empty one, 113 when it needs too many parts."""
        if options.data is not None:
            parts = binary_parts(options.udh, options.data)
            check_parts(parts, options.concat)
            return Body(options.data.hex().upper(), False, parts)
        if text is None:
            raise WireError("101")
        if not text.strip():
            raise WireError("107")
        parts = count_parts(text, options.unicode)
        check_parts(parts, options.concat)
        return Body(text, options.unicode, parts)

    def _accept(
        self,
        number: str,
        body: Body,
        options: MessageOptions,
        api_id: str,
        params: dict[str, str],
        now: float,
    ) -> Message | None:
        """Charge and record one recipient's message and set its future in motion; None when the
        credit does not cover it. A message over `max_credits` is accepted but blocked (009)."""
        cost = body.parts * COST_PER_PART
        blocked = options.max_credits is not None and cost > options.max_credits
        if not blocked and not self._state.debit(cost):
            return None
        hand_on = options.hand_on if options.hand_on is not None else now
        timeline: list[list[object]] = [[now, "011"]] if options.hand_on is not None else []
        plan = None
        if blocked:
            timeline.append([now, "009"])
        else:
            plan = plan_for(number, body.text, options.validity, self._state.next_reference())
            timeline += [[hand_on + offset, status] for offset, status in plan.statuses]
        message = Message(
            apimsgid=new_id(),
            climsgid=options.climsgid,
            to=number,
            sender=options.sender,
            text=body.text,
            unicode=body.unicode,
            parts=body.parts,
            charge=0.0 if blocked else cost,
            created=now,
            callback=options.callback,
            api_id=api_id,
            params=params,
            timeline=timeline,
        )
        self._state.add_message(message)
        self._events.message_accepted(message, plan.reply if plan else None, hand_on)
        return message

    def _send_each(
        self,
        request: Request,
        numbers: list[str],
        body: Body,
        options: MessageOptions,
        api_id: str,
        params: dict[str, str],
        always_to: bool = False,
    ) -> str:
        """One line per recipient; a lone recipient's line has no `To:` (unless `always_to`)."""
        single = len(numbers) == 1 and not always_to
        lines = []
        for number in numbers:
            to = None if single else number
            if not is_valid_number(number):
                lines.append(error_line("105", to))
            elif not is_routable(number):
                lines.append(error_line("114", to))
            elif has_opted_out(number):
                lines.append(error_line("122", to))
            elif message := self._accept(number, body, options, api_id, params, request.now):
                lines.append(id_line(message.apimsgid, to))
            else:
                lines.append(error_line("301", to))
        return wire.body(lines)

    def _sendmsg(self, request: Request) -> str:
        api_id = self._authenticate(request)
        numbers = self._recipients(request)
        options = read_options(request.params, request.now)
        text = request.params.get("text")
        body = self._body(None if text is None else decode(text, options.unicode), options)
        return self._send_each(request, numbers, body, options, api_id, _kept(request.params))

    # messages ---------------------------------------------------------------------------------
    def _messages(self, request: Request) -> list[Message]:
        """The messages an apimsgid (or else a climsgid) names: 109 with neither, 103/104 when
        unknown."""
        apimsgid = request.params.filled("apimsgid")
        climsgid = request.params.filled("climsgid")
        if apimsgid is None and climsgid is None:
            raise WireError("109")
        found = self._state.find(apimsgid, climsgid)
        if not found:
            raise WireError("103" if apimsgid is not None else "104")
        return found

    @staticmethod
    def _status_line(message: Message, now: float) -> str:
        return f"ID: {message.apimsgid} Status: {message.status_at(now)}"

    def _querymsg(self, request: Request) -> str:
        self._authenticate(request)
        # A climsgid shared by several recipients answers for the first of them.
        return self._status_line(self._messages(request)[0], request.now)

    def _delmsg(self, request: Request) -> str:
        """Cancels what has not been handed on yet (011): every message the ID names. Anything
        else only reports its status."""
        self._authenticate(request)
        messages = self._messages(request)
        for message in messages:
            if message.status_at(request.now) == "011":
                self._cancel(message, request.now)
        return self._status_line(messages[0], request.now)

    def _cancel(self, message: Message, now: float) -> None:
        message.timeline = [entry for entry in message.timeline if entry[0] <= now]
        message.timeline.append([now, "006"])
        self._state.credit(message.charge)  # nothing was sent, nothing is charged
        message.charge = 0.0
        self._events.message_cancelled(message, now)

    def _getmsgcharge(self, request: Request) -> str:
        self._authenticate(request)
        message = self._messages(request)[0]
        if request.now - message.created > CHARGE_WINDOW:
            raise WireError("103" if request.params.filled("apimsgid") else "104")
        charge, status = wire.format_amount(message.charge), message.status_at(request.now)
        return f"apiMsgId: {message.apimsgid} charge: {charge} status: {status}"

    # account ----------------------------------------------------------------------------------
    def _getbalance(self, request: Request) -> str:
        self._authenticate(request)
        return f"Credit: {wire.format_amount(self._state.balance)}"

    def _token_pay(self, request: Request) -> str:
        """Any 16-digit voucher, once. A malformed or already redeemed voucher is 101: the
        protocol has no code of its own for either."""
        self._authenticate(request)
        token = request.params.filled("token")
        if token is None or not _VOUCHER.fullmatch(token):
            raise WireError("101")
        if not self._state.redeem(token, VOUCHER_CREDIT):
            raise WireError("101")
        return f"OK: {TOKEN_ACCEPTED}"

    def _route_coverage(self, request: Request) -> str:
        self._authenticate(request)
        msisdn = request.params.filled("msisdn")
        if msisdn is None:
            raise WireError("101")
        if not is_valid_number(msisdn):
            raise WireError("105")
        if not is_routable(msisdn):
            return wire.COVERAGE_REFUSED
        return wire.COVERAGE_OK.format(charge=wire.format_amount(COST_PER_PART))

    # batches ----------------------------------------------------------------------------------
    def _startbatch(self, request: Request) -> str:
        api_id = self._authenticate(request)
        options = read_options(request.params, request.now)
        raw = request.params.get("template")
        if raw is None or not decode(raw, options.unicode).strip():
            raise WireError("202")
        template = decode(raw, options.unicode)
        kept = {k: v for k, v in _kept(request.params).items() if k != "template"}
        batch = Batch(new_id(), template, options.unicode, kept, request.now, api_id)
        self._state.add_batch(batch)
        return id_line(batch.id)

    def _batch(self, request: Request) -> Batch:
        batch_id = request.params.filled("batch_id")
        batch = self._state.batch(batch_id, request.now) if batch_id else None
        if batch is None:
            raise WireError("201")
        return batch

    def _batch_send(self, request: Request, fill: bool) -> str:
        self._authenticate(request)
        batch = self._batch(request)
        numbers = self._recipients(request)
        options = read_options(Params.from_mapping(batch.params), request.now)

        def field(match: re.Match[str]) -> str:
            value = request.params.get(f"field{match.group(1)}") if fill else None
            return "" if value is None else decode(value, batch.unicode)

        body = self._body(_FIELD.sub(field, batch.template), replace(options, data=None))
        params = {**batch.params, **_kept(request.params)}
        return self._send_each(request, numbers, body, options, batch.api_id, params, not fill)

    def _senditem(self, request: Request) -> str:
        return self._batch_send(request, fill=True)

    def _quicksend(self, request: Request) -> str:
        return self._batch_send(request, fill=False)

    def _endbatch(self, request: Request) -> str:
        self._authenticate(request)
        self._state.end_batch(self._batch(request).id)
        return "OK"
