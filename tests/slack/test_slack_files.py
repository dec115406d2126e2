"""Reading a shared file and uploading one, against the fake Slack over HTTP: the file is read
with the bot token from files.info's url_private_download, never more than the limit, never from
an address that is not Slack's; files_upload_v2 goes through the three steps Slack defines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.files import FileUnavailable, download
from bot.testing.slack import FakeSlack

TOKEN = "xoxb-files-test"
CSV = b"number,name\n+27821234567,Ann\n+27831234567,Bob\n"


@pytest.fixture
def client(slack: FakeSlack) -> Iterator[WebClient]:
    yield WebClient(token=TOKEN, base_url=slack.api_url, timeout=5)


def test_a_shared_file_is_read_with_the_bot_token(slack: FakeSlack, client: WebClient) -> None:
    shared = slack.share_file("people.csv", CSV)
    got = download(client, shared["id"])
    assert got.content == CSV and got.name == "people.csv"
    assert [c.method for c in slack.calls] == ["files.info", "files.download"]
    assert slack.calls_to("files.download")[0].token == TOKEN


def test_a_file_over_the_limit_is_refused_before_it_is_read(
    slack: FakeSlack, client: WebClient
) -> None:
    shared = slack.share_file("big.csv", CSV * 10)
    with pytest.raises(FileUnavailable, match="at most 100"):
        download(client, shared["id"], max_bytes=100)
    assert not slack.calls_to("files.download")


def test_a_file_that_is_gone_says_so(client: WebClient) -> None:
    with pytest.raises(FileUnavailable, match="gone"):
        download(client, "F404")


def test_the_token_never_goes_to_another_host(slack: FakeSlack) -> None:
    shared = slack.share_file("people.csv", CSV)
    # The client's Slack is elsewhere: the file's address is not one Slack's answer may name.
    other = WebClient(token=TOKEN, base_url="http://localhost:9/api/", timeout=5)
    other.files_info = lambda **_: {"file": shared}  # type: ignore[method-assign]
    with pytest.raises(FileUnavailable, match="no address"):
        download(other, shared["id"])
    assert not slack.calls_to("files.download")


def test_without_a_token_slack_answers_its_sign_in_page(slack: FakeSlack) -> None:
    shared = slack.share_file("people.csv", CSV)
    anonymous = WebClient(token="", base_url=slack.api_url, timeout=5)
    anonymous.files_info = lambda **_: {"file": shared}  # type: ignore[method-assign]
    with pytest.raises(FileUnavailable, match="files:read"):
        download(anonymous, shared["id"])


def test_files_upload_v2_is_recorded_in_three_steps_and_shown_in_the_thread(
    slack: FakeSlack, client: WebClient
) -> None:
    answer = client.files_upload_v2(
        channel="C1",
        thread_ts="1700000000.000009",
        content=CSV,
        filename="result.csv",
        title="Result",
        initial_comment="Done",
    )
    assert answer["file"]["name"] == "result.csv"
    methods = [c.method for c in slack.calls]
    assert methods == ["files.getUploadURLExternal", "files.upload", "files.completeUploadExternal"]
    [uploaded] = slack.uploads()
    assert uploaded.content == CSV and uploaded.thread_ts == "1700000000.000009"
    [shown] = [m for m in slack.channel_messages("C1") if m.get("files")]
    assert shown["thread_ts"] == "1700000000.000009" and shown["text"] == "Done"


def test_an_upload_whose_bytes_never_came_is_not_completed(
    slack: FakeSlack, client: WebClient
) -> None:
    started = client.files_getUploadURLExternal(filename="x.csv", length=3)
    with pytest.raises(Exception, match="file_upload_not_completed"):
        client.files_completeUploadExternal(files=[{"id": started["file_id"], "title": "x"}])
    assert slack.uploads() == []
