"""The sandbox's building blocks without HTTP: parameter reading, number checks, part counting,
wire formatting, routing, phone plans and the scheduler."""

from __future__ import annotations

from urllib.parse import quote

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.gateway.clickatell_http.sandbox import phone
from bot.gateway.clickatell_http.sandbox.params import Params
from bot.gateway.clickatell_http.sandbox.scheduler import Scheduler
from bot.gateway.clickatell_http.sandbox.server import route
from bot.gateway.clickatell_http.sandbox.text import count_parts
from bot.gateway.clickatell_http.sandbox.wire import body, format_amount
from bot.sms.encoding import PLAIN_CHARACTERS, measure


def reference_possible(number: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + number))
    except phonenumbers.NumberParseException:
        return False


@given(st.from_regex(r"[1-9][0-9]{0,16}", fullmatch=True))
def test_number_check_agrees_with_phonenumbers_parse(number: str):
    assert phone.is_valid_number(number) == reference_possible(number)


@pytest.mark.parametrize("number", ["+27821234567", "0027821234567", "27 821234567", "", "٢٧٨٢"])
def test_numbers_must_be_plain_international_digits(number: str):
    assert not phone.is_valid_number(number)


def test_magic_numbers_are_valid_numbers():
    assert all(phone.is_valid_number(n) for n in phone.MAGIC_NUMBERS)
    assert phone.is_valid_number(phone.SANDBOX_TWO_WAY_NUMBER)


@given(st.dictionaries(st.text(min_size=1), st.binary(), max_size=5))
def test_params_decode_to_the_exact_bytes_sent(values: dict[str, bytes]):
    data = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in values.items())
    params = Params.parse(data.encode("ascii"))
    expected = {k.encode().decode("latin-1"): v for k, v in values.items()}
    assert dict(params) == expected


def test_params_keep_the_raw_form_plus_is_space_and_last_value_wins():
    params = Params.parse(b"to=1%2C2&text=a+b%2B&to=3%2c4&empty=&flag")
    assert params["to"] == b"3,4"
    assert params.raw("to") == b"3%2c4"
    assert params["text"] == b"a b+"
    assert (params["empty"], params["flag"]) == (b"", b"")
    assert params.filled("empty") is None and params.text("missing") is None


@given(st.integers(min_value=0, max_value=10**9).map(lambda n: n / 1000))
def test_amounts_are_plain_decimals(value: float):
    text = format_amount(value)
    assert "e" not in text and not text.endswith(".") and not text.endswith(".0")
    assert float(text) == round(value, 6)


def test_amount_examples():
    assert [format_amount(v) for v in (12.5, 100.0, 0.33, 0.0, 1 / 3)] == [
        "12.5",
        "100",
        "0.33",
        "0",
        "0.333333",
    ]


def test_one_line_has_no_newline_and_several_each_end_with_one():
    assert body(["ID: a"]) == "ID: a"
    assert body(["ID: a To: 1", "ERR: 105, x To: "]) == "ID: a To: 1\nERR: 105, x To: \n"


@given(st.text(alphabet=sorted(PLAIN_CHARACTERS), max_size=700))
def test_plain_text_parts_match_the_encoder(text: str):
    assert count_parts(text, unicode=False) == measure(text)[2]


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=300))
def test_unicode_parts_are_never_fewer_than_the_encoders_choice(text: str):
    # The encoder may pick GSM for this text; sent as UCS-2 it can only take as many parts or more.
    assert count_parts(text, unicode=True) >= measure(text)[2]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/http/sendmsg", ("http", "sendmsg")),
        ("/http/sendmsg.php", ("http", "sendmsg")),
        ("/http_batch/quicksend.php", ("http_batch", "quicksend")),
        ("/utils/routeCoverage", ("utils", "routeCoverage")),
        ("/utils/routeCoverage.php", ("utils", "routeCoverage")),
        ("/http/anything", ("http", "anything")),
        ("/http/", None),
        ("/http", None),
        ("/utils/sendmsg", None),
        ("/HTTP/sendmsg", None),
        ("/http/a/b", None),
    ],
)
def test_routes(path: str, expected):
    assert route(path) == expected


def test_plans_for_the_magic_numbers():
    text = "z" * 60
    assert phone.plan_for("27821234567", text, None, 7).statuses == ((0.0, "003"), (1.0, "004"))
    assert phone.plan_for(phone.NUMBER_STAYS_AT_GATEWAY, text, None, 7).statuses == ((0.0, "003"),)
    assert phone.plan_for(phone.NUMBER_STAYS_AT_GATEWAY, text, 5, 7).statuses[-1] == (
        300.0,
        "010",
    )
    assert phone.plan_for(phone.NUMBER_DELIVERY_FAILS, text, None, 7).statuses[-1] == (1.0, "007")
    echo = phone.plan_for(phone.NUMBER_ECHOES, text, None, 7).reply
    assert echo is not None and echo.offset == 2.0
    assert [p.text for p in echo.parts] == ["Got it: " + "z" * 40]
    unicode = phone.plan_for(phone.NUMBER_REPLIES_UNICODE, text, None, 0xAB).reply
    assert unicode is not None and unicode.charset == "UTF-16BE"
    assert [p.udh for p in unicode.parts] == ["050003AB0303", "050003AB0301", "050003AB0302"]


def test_scheduler_runs_due_events_in_order_and_survives_a_failing_handler():
    now = [100.0]
    scheduler = Scheduler(lambda: now[0])
    ran: list[str] = []

    def handler(data):
        if data["name"] == "bad":
            raise RuntimeError("boom")
        ran.append(data["name"])

    scheduler.register("x", handler)
    for due, name in ((101.0, "c"), (100.0, "a"), (100.0, "bad"), (100.0, "b"), (102.0, "d")):
        scheduler.schedule(due, "x", {"name": name})
    assert scheduler.run_due() == 3
    assert ran == ["a", "b"]
    now[0] = 101.5
    saved = scheduler.snapshot()
    assert [item["data"]["name"] for item in saved] == ["c", "d"]
    restored = Scheduler(lambda: now[0])
    restored.register("x", handler)
    restored.restore(saved)
    assert restored.run_due() == 1
    assert ran == ["a", "b", "c"]
    with pytest.raises(ValueError):
        restored.schedule(1.0, "unknown", {})
