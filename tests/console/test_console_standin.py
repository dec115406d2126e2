"""The stand-in for Slack: answers the Web API like Slack over real loopback HTTP, keeps the
channel's messages, honours response URLs, and tells observers what happened, in order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.console.slack_standin import BOT_USER, Activity, SlackStandIn


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn() as running:
        yield running


@pytest.fixture
def seen(standin: SlackStandIn) -> list[Activity]:
    activities: list[Activity] = []
    standin.subscribe(activities.append)
    return activities


def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token="xoxb-test", base_url=standin.api_url, retry_handlers=[])


def blocks(text: str) -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


def test_post_update_and_reactions_are_stored_and_observed(
    standin: SlackStandIn, seen: list[Activity]
) -> None:
    web = client(standin)
    posted = web.chat_postMessage(channel="C1", text="card", blocks=blocks("queued"))
    ts = posted["ts"]
    reply = web.chat_postMessage(channel="C1", text="reply", thread_ts=ts)
    web.chat_update(channel="C1", ts=ts, text="card", blocks=blocks("received"))
    web.reactions_add(channel="C1", timestamp=reply["ts"], name="white_check_mark")

    assert standin.message("C1", ts)["blocks"] == blocks("received")
    assert standin.reactions_on("C1", reply["ts"]) == ["white_check_mark"]
    assert [a.kind for a in seen] == ["post", "post", "update", "reaction_added"]
    assert seen[1].message and seen[1].message["thread_ts"] == ts
    assert seen[2].previous and seen[2].previous["blocks"] == blocks("queued")
    assert seen[3].reaction == "white_check_mark" and seen[3].ts == reply["ts"]
    assert standin.calls_to("chat.update")[0].token == "xoxb-test"

    web.reactions_remove(channel="C1", timestamp=reply["ts"], name="white_check_mark")
    assert standin.reactions_on("C1", reply["ts"]) == []
    assert seen[-1].kind == "reaction_removed"


def test_an_update_of_an_unknown_message_fails_like_slack(
    standin: SlackStandIn, seen: list[Activity]
) -> None:
    with pytest.raises(SlackApiError) as error:
        client(standin).chat_update(channel="C1", ts="1.2", text="x")
    assert error.value.response["error"] == "message_not_found"
    assert seen[-1].kind == "update" and not seen[-1].ok


def test_scripted_failures_then_success(standin: SlackStandIn, seen: list[Activity]) -> None:
    standin.fail("chat.postMessage", status=429, retry_after=0)
    standin.fail("chat.postMessage", error="channel_not_found")
    web = client(standin)
    with pytest.raises(SlackApiError) as limited:
        web.chat_postMessage(channel="C1", text="a")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers.get("Retry-After") == "0"
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="C1", text="a")
    assert web.chat_postMessage(channel="C1", text="a")["ok"]
    assert [a.ok for a in seen] == [False, False, True]


def test_ephemeral_views_and_users(standin: SlackStandIn, seen: list[Activity]) -> None:
    standin.users["U1"] = {"real_name": "Ann", "display_name": "ann"}
    web = client(standin)
    web.chat_postEphemeral(channel="C1", user="U1", text="only you", blocks=blocks("hi"))
    opened = web.views_open(trigger_id="t1", view={"type": "modal", "blocks": []})
    view_id = opened["view"]["id"]
    web.views_update(view_id=view_id, view={"type": "modal", "blocks": blocks("new")})
    assert web.users_info(user="U1")["user"]["profile"]["real_name"] == "Ann"

    kinds = [a.kind for a in seen]
    assert kinds == ["ephemeral", "view_open", "view_update", "other"]
    assert seen[0].message and seen[0].message["user"] == "U1"
    assert seen[1].call.params["trigger_id"] == "t1"
    assert seen[2].view and seen[2].view["id"] == view_id
    assert list(standin.channel_messages("C1")) == []  # ephemeral messages are not stored


def test_response_urls_act_on_the_message_they_belong_to(
    standin: SlackStandIn, seen: list[Activity]
) -> None:
    card = client(standin).chat_postMessage(channel="C1", text="card", blocks=blocks("old"))
    url = standin.response_url("press-1", channel="C1", message_ts=card["ts"], user="U1")
    response = requests.post(
        url, json={"replace_original": True, "text": "card", "blocks": blocks("new")}, timeout=5
    )
    assert response.status_code == 200 and response.text == "ok"
    assert standin.message("C1", card["ts"])["blocks"] == blocks("new")
    assert seen[-1].kind == "update" and seen[-1].binding and seen[-1].binding.user == "U1"

    requests.post(url, json={"text": "just you"}, timeout=5)
    assert seen[-1].kind == "ephemeral" and seen[-1].message["text"] == "just you"

    requests.post(url, json={"response_type": "in_channel", "text": "everyone"}, timeout=5)
    assert seen[-1].kind == "post"
    assert any(m["text"] == "everyone" for m in standin.channel_messages("C1"))

    requests.post(url, json={"delete_original": "true"}, timeout=5)
    assert seen[-1].kind == "delete"
    with pytest.raises(KeyError):
        standin.message("C1", card["ts"])
    assert [c.method for c in standin.calls].count("response_url") == 4


def test_an_unbound_response_url_is_recorded_and_ephemeral(
    standin: SlackStandIn, seen: list[Activity]
) -> None:
    requests.post(standin.response_url("cmd"), json={"text": "hello"}, timeout=5)
    (call,) = standin.calls_to("response_url")
    assert call.path == "/response/cmd" and call.params == {"text": "hello"}
    assert seen[-1].kind == "ephemeral"


def test_people_post_edit_and_delete_their_messages(
    standin: SlackStandIn, seen: list[Activity]
) -> None:
    root = client(standin).chat_postMessage(channel="C1", text="card")["ts"]
    mine = standin.post_user_message("C1", "U1", "a &lt;b&gt;", root, client_msg_id="m1")
    assert mine["thread_ts"] == root and mine["client_msg_id"] == "m1"
    edited = standin.edit_user_message("C1", mine["ts"], "changed")
    assert edited["text"] == "changed" and edited["client_msg_id"] == "m1"
    replies = client(standin).conversations_replies(channel="C1", ts=root)["messages"]
    assert [m["ts"] for m in replies] == [root, mine["ts"]]
    standin.delete_user_message("C1", mine["ts"])
    kinds = [a.kind for a in seen if a.kind != "other"]
    assert kinds == ["post", "user_message", "user_edit", "user_delete"]
    assert standin.calls_to("user.message") == []  # what people do is not a bot call


def test_a_failing_observer_does_not_break_the_api(standin: SlackStandIn) -> None:
    def broken(activity: Activity) -> None:
        raise RuntimeError("observer bug")

    standin.subscribe(broken)
    assert client(standin).chat_postMessage(channel="C1", text="x")["ok"]


def test_malformed_bodies_are_refused_with_400(standin: SlackStandIn) -> None:
    bad = requests.post(
        f"{standin.api_url}chat.postMessage",
        data=b"[1, 2]",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert bad.status_code == 400
    unknown = requests.post(f"{standin.url}/elsewhere", timeout=5)
    assert unknown.status_code == 404


def test_auth_test_names_the_bot_and_unknown_methods_succeed(standin: SlackStandIn) -> None:
    web = client(standin)
    assert web.auth_test()["user_id"] == BOT_USER
    assert web.api_call("pins.add", json={"channel": "C1"})["ok"]


def test_wait_for_call_waits_for_a_later_call(standin: SlackStandIn) -> None:
    web = client(standin)
    started = threading.Event()

    def later() -> None:
        started.wait(5)
        web.chat_postMessage(channel="C1", text="late")

    worker = threading.Thread(target=later)
    worker.start()
    started.set()
    (call,) = standin.wait_for_call("chat.postMessage", lambda c: c.params["text"] == "late")
    worker.join(5)
    assert call.params["channel"] == "C1"
    with pytest.raises(AssertionError, match="timed out"):
        standin.wait_for_call("chat.delete", timeout=0.05)


def test_json_and_form_bodies_are_both_understood(standin: SlackStandIn) -> None:
    requests.post(
        f"{standin.api_url}chat.postMessage",
        data={"channel": "C1", "text": "form", "blocks": json.dumps(blocks("b"))},
        timeout=5,
    )
    (message,) = standin.channel_messages("C1")
    assert message["text"] == "form" and message["blocks"] == blocks("b")


def test_history_and_metadata_for_an_exactly_once_check(
    standin: SlackStandIn, seen: list[Activity]
) -> None:
    web = client(standin)
    marker = {"event_type": "sms_bot_outbox", "event_payload": {"item": 7}}
    root = web.chat_postMessage(channel="C1", text="root", metadata=marker)["ts"]
    web.chat_postMessage(channel="C1", text="in thread", thread_ts=root)
    later = web.chat_postMessage(channel="C1", text="later")["ts"]
    history = web.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    assert [m["ts"] for m in history] == [later, root]  # top level only, newest first
    assert history[1]["metadata"] == marker

    web.chat_delete(channel="C1", ts=later)
    assert seen[-1].kind == "delete" and seen[-1].previous["text"] == "later"
    assert later not in {m["ts"] for m in standin.channel_messages("C1")}
    with pytest.raises(SlackApiError):
        web.chat_delete(channel="C1", ts=later)
