"""The Portal's callbacks decoded from their raw bytes (clickatell-platform.md §5, §6): the One API
envelope and the SMS integrations' flat fields, by POST JSON or GET query, epoch-millisecond
timestamps, the three charsets (`tenía` from percent-encoded ISO-8859-1 and UTF-16BE inside a
JSON string), several events in one body, unknown fields and event types, and what is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.domain.delivery import DeliveryState
from bot.gateway.base import CallbackError, InboundMessage, StatusReport
from bot.gateway.clickatell_platform.decoder import MEDIA_NOTE, PlatformCallbacks

DECODER = PlatformCallbacks()

# §5, byte for byte.
ONE_API_STATUS = (
    b'{"integrationId":"fa8090815f05d5ed015f0b5b56080cd2","integrationName":"My integration",'
    b'"event":{"messageStatusUpdate":[{"channel":"sms","messageId":'
    b'"77fb29998253415fa5d66971d519d362","clientMessageId":"c0ffee42","timestamp":1506607698000,'
    b'"statusCode":5,"status":"DEVICE_ACK"}]}}'
)
ONE_API_MO = (
    b'{"integrationId":"fa8090815f05d5ed015f0b5b56080cd2","integrationName":"My integration",'
    b'"event":{"moText":[{"channel":"sms","messageId":"3a89680503414383af44dcd0e4e5f184",'
    b'"relatedMessageId":"77fb29998253415fa5d66971d519d362","relatedClientMessageId":"c0ffee42",'
    b'"from":"27821234567","to":"27820000000","timestamp":1506607698000,"content":"On my way",'
    b'"charset":"UTF-8","sms":{"network":"Network ID"}}]}}'
)
FLAT_STATUS = (
    b'{"integrationName":"My integration","messageId":"id1002","requestId":"r1",'
    b'"clientMessageId":"c0ffee42","to":"27821234567","from":"27820000000","statusCode":4,'
    b'"status":"RECEIVED_BY_RECIPIENT","statusDescription":"Received by recipient",'
    b'"timestamp":1516217711000}'
)
FLAT_MO = (
    b'{"integrationName":"My integration","messageId":"id1002","replyMessageId":"5d8c0a41",'
    b'"fromNumber":"27821234567","toNumber":"27820000000","timestamp":1516217711000,'
    b'"text":"hello%21","charset":"ISO-8859-1","udh":"","network":"","keyword":""}'
)
AT_2017 = datetime(2017, 9, 28, 14, 8, 18, tzinfo=UTC)


def one(kind: str, query: bytes, body: bytes):
    (decoded,) = DECODER.decode_request(kind, query, body)  # type: ignore[arg-type]
    return decoded


def flat_mo(text: str, charset: str) -> bytes:
    return json.dumps(
        {
            "replyMessageId": "r9",
            "fromNumber": "27821234567",
            "toNumber": "27820000000",
            "timestamp": 1516217711000,
            "text": text,
            "charset": charset,
        }
    ).encode()


# --------------------------------------------------------------------------- statuses


def test_a_one_api_status_update():
    decoded = one("status", b"token=x", ONE_API_STATUS)
    report = decoded.callback
    assert isinstance(report, StatusReport)
    assert report.message_id == "77fb29998253415fa5d66971d519d362"
    assert report.client_id == "c0ffee42"
    assert (report.status.code, report.status.state) == ("5", DeliveryState.DELIVERED)
    assert report.status.words == "Received by the phone"
    assert report.timestamp == AT_2017
    assert report.key == "77fb29998253415fa5d66971d519d362:5:1506607698000"
    assert DECODER.decode_stored("status", decoded.payload) == report


def test_a_flat_status_by_post_and_by_get_is_the_same_report():
    posted = one("status", b"token=x", FLAT_STATUS).callback
    query = (
        b"messageId=id1002&clientMessageId=c0ffee42&to=27821234567&statusCode=4"
        b"&status=RECEIVED_BY_RECIPIENT&timestamp=1516217711000&token=x"
    )
    fetched = one("status", query, b"")
    assert fetched.callback == posted
    assert (posted.status.code, posted.status.state) == ("4", DeliveryState.DELIVERED)
    assert posted.to == "27821234567" and posted.client_id == "c0ffee42"
    assert b"token" not in fetched.payload  # a secret has no business in the database
    assert DECODER.decode_stored("status", fetched.payload) == posted


@pytest.mark.parametrize(
    ("code", "name", "state"),
    [
        (4, "SENT_TO_SUPPLIER", DeliveryState.SENT),
        (23, "DELIVERY_FAILURE", DeliveryState.FAILED),
        (27, "RECIPIENT_DOES_NOT_EXIST", DeliveryState.FAILED),
        (21, "STOPPED_BY_USER", DeliveryState.CANCELLED),
        (20, "EXPIRED", DeliveryState.EXPIRED),
        (2, "QUEUED", DeliveryState.QUEUED),
        (None, "DEVICE_ACK", DeliveryState.DELIVERED),
        (17, "SOMETHING_NEW", DeliveryState.UNKNOWN),
    ],
)
def test_one_api_statuses_number_first_name_second(code, name, state):
    update = {"messageId": "m", "timestamp": 1506607698000, "status": name}
    if code is not None:
        update["statusCode"] = code
    body = json.dumps({"event": {"messageStatusUpdate": [update]}}).encode()
    assert one("status", b"", body).callback.status.state is state


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        (1516217711000, datetime(2018, 1, 17, 19, 35, 11, tzinfo=UTC)),
        (1516217711, datetime(2018, 1, 17, 19, 35, 11, tzinfo=UTC)),  # seconds, below 10¹¹
        ("2018-01-17T19:35:11Z", datetime(2018, 1, 17, 19, 35, 11, tzinfo=UTC)),
        ("1516217711000", datetime(2018, 1, 17, 19, 35, 11, tzinfo=UTC)),
    ],
)
def test_timestamps_in_ms_seconds_or_iso(stamp, expected):
    body = json.dumps({"messageId": "m", "statusCode": 3, "timestamp": stamp}).encode()
    assert one("status", b"", body).callback.timestamp == expected


# --------------------------------------------------------------------------- replies


def test_a_one_api_reply():
    message = one("mo", b"token=x", ONE_API_MO).callback
    assert isinstance(message, InboundMessage)
    assert (message.text, message.sender, message.to) == ("On my way", "27821234567", "27820000000")
    assert message.key == message.message_id == "3a89680503414383af44dcd0e4e5f184"
    assert message.part is None and message.timestamp == AT_2017


def test_a_flat_reply_percent_encoded_in_iso_8859_1():
    message = one("mo", b"", FLAT_MO).callback
    assert message.text == "hello!"
    assert (message.key, message.sender, message.to) == ("5d8c0a41", "27821234567", "27820000000")


@pytest.mark.parametrize(
    ("encoded", "charset"),
    [
        ("ten%EDa", "ISO-8859-1"),
        ("%00t%00e%00n%00%ED%00a", "UTF-16BE"),
        ("tenía", "UTF-8"),
        ("tenía", ""),
    ],
)
def test_tenia_comes_out_as_tenia_in_every_charset(encoded, charset):
    assert one("mo", b"", flat_mo(encoded, charset)).callback.text == "tenía"


def test_couriers_sample_decodes_right():
    raw = "%00m%00e%00x%00i%00c%00o%00+%00k%00+%00m%00i%00s%00+%00p%00a%00p%00a%00s%00+%00n"
    raw += "%00o%00+%00t%00e%00n%00%ED%00a"
    assert one("mo", b"", flat_mo(raw, "UTF-16BE")).callback.text == "mexico k mis papas no tenía"
    assert one("mo", b"", flat_mo("Artwell+S%ECbbnda", "ISO-8859-1")).callback.text == (
        "Artwell Sìbbnda"
    )


def test_a_reply_by_get_is_decoded_from_the_query_bytes():
    query = (
        b"fromNumber=27821234567&toNumber=27820000000&timestamp=1516217711000"
        b"&text=%00t%00e%00n%00%ED%00a&charset=UTF-16BE&replyMessageId=r1&token=x"
    )
    assert one("mo", query, b"").callback.text == "tenía"


def test_text_that_does_not_decode_is_kept_as_far_as_it_goes():
    message = one("mo", b"", flat_mo("%00o%00k%D8%00", "UTF-16BE")).callback
    assert message.text.startswith("ok") and "could not be decoded" in message.text


def test_a_flat_reply_without_an_id_is_deduplicated_by_sender_time_and_text():
    body = json.dumps(
        {"fromNumber": "27821234567", "timestamp": 1516217711000, "text": "hi"}
    ).encode()
    first, again = one("mo", b"", body).callback, one("mo", b"", body).callback
    assert first.key == again.key and first.key.startswith("mo-")


def test_a_concatenated_flat_reply_keeps_its_part():
    body = json.dumps(
        {
            "replyMessageId": "p2",
            "fromNumber": "27821234567",
            "timestamp": 1516217711000,
            "text": "part",
            "udh": "0500030A0302",
        }
    ).encode()
    part = one("mo", b"", body).callback.part
    assert (part.reference, part.total, part.sequence) == (10, 3, 2)


def test_a_media_message_is_stored_and_says_so():
    body = json.dumps(
        {
            "event": {
                "moMedia": [
                    {
                        "messageId": "x1",
                        "from": "27821234567",
                        "timestamp": 1506607698000,
                        "media": {"url": "…"},
                    }
                ]
            }
        }
    ).encode()
    assert one("mo", b"", body).callback.text == MEDIA_NOTE


# --------------------------------------------------------------------------- bodies


def test_several_events_of_several_types_are_stored_one_by_one():
    body = json.dumps(
        {
            "integrationId": "i1",
            "newField": {"anything": True},
            "event": {
                "messageStatusUpdate": [
                    {"messageId": "a", "statusCode": 4, "timestamp": 1506607698000, "extra": 1},
                    {"messageId": "a", "statusCode": 5, "timestamp": 1506607699000},
                ],
                "moText": [
                    {
                        "messageId": "m",
                        "from": "27821234567",
                        "timestamp": 1506607698000,
                        "content": "hi",
                    }
                ],
                "somethingElse": [{"what": "ever"}],
            },
        }
    ).encode()
    decoded = DECODER.decode_request("status", b"", body)
    kinds = [type(d.callback).__name__ for d in decoded]
    assert kinds == ["StatusReport", "StatusReport", "InboundMessage", "IgnoredEvent"]
    assert decoded[-1].callback.event_type == "somethingElse"  # stored, and ignored
    stored = json.loads(decoded[0].payload)
    assert stored["integrationId"] == "i1"
    assert stored["event"]["messageStatusUpdate"][0]["extra"] == 1  # unknown fields kept
    for item in decoded:  # each payload decodes to its event alone, whatever the path
        assert DECODER.decode_stored("status", item.payload) == item.callback


def test_no_content_is_the_url_check():
    assert DECODER.decode_request("status", b"", b"") == []
    assert DECODER.decode_request("status", b"token=x", b"") == []
    assert DECODER.decode_request("mo", b"token=x", b"{}") == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'["a list"]',
        b'{"event":{"messageStatusUpdate":{"not":"a list"}}}',
        b'{"messageId":"m","statusCode":4}',  # no timestamp
        b'{"event":{"moText":[{"messageId":"m","from":"not a phone","timestamp":1}]}}',
        b'{"messageId":"has space","statusCode":4,"timestamp":1}',
    ],
)
def test_malformed_callbacks_are_callback_errors(body):
    with pytest.raises(CallbackError):
        DECODER.decode_request("status", b"", body)
