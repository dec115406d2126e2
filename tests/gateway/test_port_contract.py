"""The gateway port's contract, checked per backend: what the Slack side, the inbox and the
command line rely on without knowing the backend. A new backend adds itself to BACKENDS (a
running gateway against its own sandbox, and a callback of its own) and must pass every test.

The legacy wire details (retries, 901, timeouts settled by climsgid) are the client's tests;
here only what the port promises.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest

from bot.domain.delivery import DeliveryState
from bot.gateway.base import (
    Balance,
    CallbackDecoder,
    Capabilities,
    DecodedCallback,
    ForeignCallback,
    Gateway,
    GatewayError,
    InboundMessage,
    NotSent,
    OptedOut,
    OutcomeUnknown,
    PartsExceeded,
    StatusReport,
    Unavailable,
    Unsupported,
)
from bot.gateway.clickatell_http.client import ClickatellClient
from bot.gateway.clickatell_http.decoder import ClickatellHttpCallbacks
from bot.gateway.clickatell_http.gateway import ClickatellHttpGateway
from bot.gateway.clickatell_http.sandbox import SandboxServer
from bot.gateway.clickatell_platform import ClickatellPlatformGateway, PlatformCallbacks
from bot.gateway.clickatell_platform.client import PlatformClient
from bot.gateway.clickatell_platform.integrations import BY_NAME, IntegrationName
from bot.sms.refusals import Refused
from bot.testing.callbacks import form, mo_params, status_params

PHONE, OTHER = "27821234567", "27831234567"
ACCOUNT = "3456"


@dataclass(frozen=True)
class Backend:
    name: str
    running: Callable[[], AbstractContextManager[Gateway]]  # talking to the backend's sandbox
    decoder: Callable[[str | None], CallbackDecoder]  # callbacks for an account (None: any)
    status_request: Callable[[str, str], tuple[bytes, bytes]]  # (query, body) of a report
    inbound_request: Callable[[str], tuple[bytes, bytes]]  # (query, body) of an SMS from PHONE
    offers: Capabilities
    names_its_account: bool = True  # callbacks name an account the decoder can check


@contextmanager
def _legacy_gateway() -> Iterator[Gateway]:
    with SandboxServer() as sandbox:
        client = ClickatellClient(sandbox.url, "any", "any", "any", timeout=5)
        gateway = ClickatellHttpGateway(client, account=ACCOUNT)
        try:
            yield gateway
        finally:
            gateway.close()


def _legacy_status(message_id: str, account: str) -> tuple[bytes, bytes]:
    return b"", form(status_params(message_id, "004", api_id=account))


def _legacy_inbound(account: str) -> tuple[bytes, bytes]:
    return form(mo_params("mo1", PHONE, "hi", api_id=account)), b""


def _portal_gateway(integration: IntegrationName) -> Callable[[], AbstractContextManager[Gateway]]:
    @contextmanager
    def running() -> Iterator[Gateway]:
        with SandboxServer(api_key="contract-key") as sandbox:
            client = PlatformClient(sandbox.url, "contract-key", BY_NAME[integration], timeout=5)
            gateway = ClickatellPlatformGateway(client)
            try:
                yield gateway
            finally:
                gateway.close()

    return running


def _portal_decoder(account: str | None) -> CallbackDecoder:
    return PlatformCallbacks()  # the Portal names no account: `?token=` proves the sender


def _portal_status(message_id: str, account: str) -> tuple[bytes, bytes]:
    update = {"messageId": message_id, "statusCode": 5, "timestamp": 1506607698000}
    body = {"integrationId": account, "event": {"messageStatusUpdate": [update]}}
    return b"token=t", json.dumps(body).encode()


def _portal_inbound(account: str) -> tuple[bytes, bytes]:
    body = {"replyMessageId": "r1", "fromNumber": PHONE, "timestamp": 1506607698000, "text": "hi"}
    return b"token=t", json.dumps(body).encode()


def _portal(integration: IntegrationName) -> Backend:
    return Backend(
        name=f"clickatell_platform_{integration}",
        running=_portal_gateway(integration),
        decoder=_portal_decoder,
        status_request=_portal_status,
        inbound_request=_portal_inbound,
        offers=Capabilities(query=integration == "one"),
        names_its_account=False,
    )


BACKENDS = [
    Backend(
        name="clickatell_http",
        running=_legacy_gateway,
        decoder=ClickatellHttpCallbacks,
        status_request=_legacy_status,
        inbound_request=_legacy_inbound,
        offers=Capabilities(
            query=True,
            query_by_client_id=True,
            cancel=True,
            schedule=True,
            charge=True,
            coverage=True,
            redeem=True,
            batch=True,
        ),
    ),
    _portal("one"),
    _portal("rest"),
    _portal("http"),
]


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def gateway(backend: Backend) -> Iterator[Gateway]:
    with backend.running() as running:
        yield running


# --------------------------------------------------------------------------- shape


def _signature(function: Callable[..., object]) -> list[tuple[str, object, object]]:
    parameters = inspect.signature(function).parameters.values()
    return [(p.name, p.kind, p.default) for p in parameters if p.name != "self"]


def test_the_backend_is_a_gateway_with_the_ports_signatures(gateway: Gateway) -> None:
    assert isinstance(gateway, Gateway)
    for name, member in vars(Gateway).items():
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        assert _signature(getattr(gateway, name)) == _signature(member), name


def test_its_callback_decoder_has_the_ports_signatures(backend: Backend) -> None:
    decoder = backend.decoder(None)
    assert isinstance(decoder, CallbackDecoder)
    for name in ("decode_request", "decode_stored"):
        assert _signature(getattr(decoder, name)) == _signature(getattr(CallbackDecoder, name))


def test_it_declares_what_it_offers(backend: Backend, gateway: Gateway) -> None:
    assert gateway.capabilities == backend.offers


def test_the_error_tree_has_one_root_and_refusals_stay_outside_it() -> None:
    for kind in (NotSent, Unavailable, OutcomeUnknown, Unsupported, PartsExceeded):
        assert issubclass(kind, GatewayError)
    assert not issubclass(Refused, GatewayError) and issubclass(Refused, ValueError)
    assert issubclass(ForeignCallback, ValueError)


# --------------------------------------------------------------------------- sending


def test_plan_names_each_distinct_number_once_with_a_client_id(gateway: Gateway) -> None:
    planned = gateway.plan([PHONE, "+27 82 123 4567", OTHER])
    assert [p.to for p in planned] == [PHONE, OTHER]
    assert all(p.client_id for p in planned)


def test_a_chosen_client_id_is_planned_as_given(gateway: Gateway) -> None:
    (planned,) = gateway.plan([PHONE], client_id="mine42")
    assert planned.client_id == "mine42"


def test_plan_refuses_no_recipient_before_any_call(gateway: Gateway) -> None:
    with pytest.raises(Refused):
        gateway.plan([])


def test_send_uses_the_planned_client_ids_and_answers_per_recipient(gateway: Gateway) -> None:
    planned = gateway.plan([PHONE, OTHER])
    result = gateway.send(planned, "hello")
    assert [(m.to, m.client_id) for m in result.messages] == [(p.to, p.client_id) for p in planned]
    assert all(m.message_id and m.error is None for m in result.messages)
    assert (result.parts, result.encoding) == (1, "gsm7")


def test_a_planned_send_is_found_by_its_client_id_and_a_stranger_is_not(gateway: Gateway) -> None:
    if not gateway.capabilities.query_by_client_id:
        with pytest.raises(Unsupported):  # and no call: it cannot be asked
            gateway.find_sent("neverusedbefore1")
        return
    (planned,) = gateway.plan([PHONE])
    sent = gateway.send([planned], "hello").messages[0]
    found = gateway.find_sent(planned.client_id)
    assert found is not None and found.message_id == sent.message_id
    assert gateway.find_sent("neverusedbefore1") is None


def test_sending_a_chosen_id_twice_reaches_the_phone_once(gateway: Gateway) -> None:
    if not gateway.capabilities.query_by_client_id:
        pytest.skip("a gateway that cannot be asked by client ID cannot tell a repeat")
    planned = gateway.plan([PHONE], client_id="once1")
    first = gateway.send(planned, "hello", skip_if_sent=True).messages[0]
    again = gateway.send(planned, "hello", skip_if_sent=True).messages[0]
    assert first.already_sent is None
    assert again.already_sent is not None and again.already_sent.message_id == first.message_id


def test_queries_answer_in_the_shared_vocabulary(gateway: Gateway) -> None:
    (planned,) = gateway.plan([PHONE])
    sent = gateway.send([planned], "hello").messages[0]
    assert sent.message_id is not None
    assert isinstance(gateway.balance(), Balance)
    if not gateway.capabilities.query:
        with pytest.raises(Unsupported):
            gateway.query(sent.message_id)
        return
    asked_by = [sent.message_id]
    if gateway.capabilities.query_by_client_id:
        asked_by.append(planned.client_id)  # people quote either ID
    for asked in asked_by:
        found = gateway.query(asked)
        assert found.message_id == sent.message_id
        assert found.status.state in set(DeliveryState) and found.status.words and found.status.code
    assert isinstance(gateway.balance(), Balance)


# --------------------------------------------------------------------------- callbacks


def test_a_status_report_is_normalised_and_decodes_again_from_what_is_stored(
    backend: Backend,
) -> None:
    decoder = backend.decoder(ACCOUNT)
    (decoded,) = decoder.decode_request("status", *backend.status_request("a" * 32, ACCOUNT))
    assert isinstance(decoded, DecodedCallback)
    report = decoded.callback
    assert isinstance(report, StatusReport)
    assert report.message_id == "a" * 32 and report.key
    assert report.status.state is DeliveryState.DELIVERED and report.status.code
    assert report.timestamp.tzinfo is not None
    assert decoder.decode_stored("status", decoded.payload) == report


def test_an_inbound_sms_is_normalised(backend: Backend) -> None:
    decoder = backend.decoder(ACCOUNT)
    (decoded,) = decoder.decode_request("mo", *backend.inbound_request(ACCOUNT))
    message = decoded.callback
    assert isinstance(message, InboundMessage)
    assert (message.text, message.part) == ("hi", None) and message.key
    assert message.sender.lstrip("+") == PHONE


def test_a_request_with_no_content_is_the_gateways_url_check(backend: Backend) -> None:
    assert backend.decoder(ACCOUNT).decode_request("status", b"", b"") == []


def test_a_callback_for_another_account_is_foreign(backend: Backend) -> None:
    if not backend.names_its_account:
        pytest.skip("its callbacks name no account to check (a token proves the sender)")
    with pytest.raises(ForeignCallback):
        backend.decoder(ACCOUNT).decode_request("status", *backend.status_request("a" * 32, "9"))


# --------------------------------------------------------------------------- what is not offered


def test_a_command_not_offered_is_unsupported_without_a_call(gateway: Gateway) -> None:
    offered = gateway.capabilities
    commands: list[tuple[bool, Callable[[], object]]] = [
        (offered.cancel, lambda: gateway.cancel("a" * 32)),
        (offered.charge, lambda: gateway.charge("a" * 32)),
        (offered.coverage, lambda: gateway.coverage(PHONE)),
        (offered.redeem, lambda: gateway.redeem("1" * 16)),
    ]
    for available, command in commands:
        if not available:
            with pytest.raises(Unsupported):
                command()


def test_a_recipient_opted_out_at_the_gateway_is_opted_out(gateway: Gateway) -> None:
    (refused,) = gateway.send(gateway.plan(["27825550106"]), "hello").messages
    assert isinstance(refused.error, OptedOut) and refused.message_id is None
