"""Templates and groups over the real app: signed `/sms` commands over HTTP; assertions on what
the fake Slack showed and what the sandbox gateway was asked to send."""

from __future__ import annotations

import json
from typing import Any

from bot.testing.app import RunningApp
from bot.testing.signing import CHANNEL
from bot.testing.waiting import wait_for

ANN, BEN, STOPPED = "27825550103", "27825550104", "27821234567"
ALICE, BOB = "U0ALICE", "U0BOB"


def _ask(app: RunningApp, command: str, user: str = ALICE) -> dict[str, Any]:
    answer, name = app.command(command, user=user)
    assert answer.status_code == 200
    return app.wait_response(name)


def _shown(reply: dict[str, Any]) -> str:
    return reply.get("text", "") + json.dumps(reply.get("blocks") or [], ensure_ascii=False)


def _sent(app: RunningApp, count: int) -> dict[str, str]:
    wait_for(lambda: len(app.sandbox.messages()) >= count, 10, f"{count} SMS")
    return {m.to: m.text for m in app.sandbox.messages()}


def test_templates_added_listed_replaced_and_removed(app: RunningApp) -> None:
    assert "Saved template Reminder" in _ask(app, "template add Reminder Hi {first_name}!")["text"]
    listing = _shown(_ask(app, "templates"))
    assert "Reminder" in listing and "Hi {first_name}!" in listing
    replaced = _shown(_ask(app, "template add reminder Hello {name}", user=BOB))
    assert f"<@{ALICE}>'s" in replaced and "Hi {first_name}!" in replaced
    note = app.fake.wait_for_call("chat.postMessage", lambda c: c.params["channel"] == ALICE)
    assert "Hello {name}" in json.dumps(note[0].params, ensure_ascii=False)
    assert "Removed template reminder" in _ask(app, "template remove reminder")["text"]
    assert "No templates yet" in _ask(app, "templates")["text"]
    assert "no template named" in _ask(app, "template remove reminder")["text"]


def test_a_template_too_long_for_any_message_is_refused_when_saved(app: RunningApp) -> None:
    """Its words alone need more parts than SMS_MAX_PARTS (3 here): every send of it would be
    refused, so saving it is; one that fits until its fields are filled in is kept."""
    words = "Your appointment is confirmed. " * 17  # 527 characters: 4 parts
    reply = _ask(app, f"template add Long {words}{{name}}")["text"]
    assert "Template Long was not saved" in reply and "4 SMS parts" in reply
    assert app.services.storage.templates.get("Long") is None
    fits = "Your appointment is confirmed. " * 14  # 434 characters: 3 parts
    assert "Saved template Long" in _ask(app, f"template add Long {fits}{{name}}")["text"]


def test_a_group_is_built_from_numbers_and_contacts_and_shrinks(app: RunningApp) -> None:
    _ask(app, f"contact add Ann {ANN}")
    saved = _shown(_ask(app, f"group add crew Ann, +{BEN}"))
    assert "Saved group crew" in saved and "Ann (+27 82 555 0103)" in saved
    assert "Added 1 member" in _shown(_ask(app, f"group add Crew {STOPPED}", user=BOB))
    note = app.fake.wait_for_call("chat.postMessage", lambda c: c.params["channel"] == ALICE)
    assert "changed the group Crew you saved" in note[0].params["text"]
    listing = _shown(_ask(app, "groups"))
    assert "(3 members)" in listing
    assert "1 member" in _ask(app, f"group remove crew {BEN}")["text"]
    assert app.services.storage.groups.get("crew").members == (ANN, STOPPED)  # type: ignore[union-attr]
    assert "Removed group Crew" in _ask(app, "group remove crew")["text"]
    assert "No groups yet" in _ask(app, "groups")["text"]


def test_a_contacts_new_number_replaces_the_old_one_in_its_groups(app: RunningApp) -> None:
    """A group holds numbers; Ann added by name must not keep getting her old phone's texts."""
    new_phone = "27825550109"
    _ask(app, f"contact add Ann {ANN}")
    _ask(app, f"group add crew Ann, {BEN}", user=BOB)
    saved = _ask(app, f"contact add Ann {new_phone}")["text"]
    note = app.fake.wait_for_call("chat.postMessage", lambda c: c.params["channel"] == BOB)
    assert "+27 82 555 0103 is now +27 82 555 0109" in note[0].params["text"]
    assert (
        "(replacing +27 82 555 0103)" in saved and "The group crew now has the new number" in saved
    )
    assert app.services.storage.groups.get("crew").members == (new_phone, BEN)  # type: ignore[union-attr]
    app.command("send crew hello")
    assert set(_sent(app, 2)) == {new_phone, BEN}


def test_group_members_must_be_numbers_or_contacts(app: RunningApp) -> None:
    reply = _ask(app, "group add crew nobody")
    assert "no contact or group by that name" in reply["text"]
    assert app.services.storage.groups.get("crew") is None
    _ask(app, f"contact add Ann {ANN}")
    assert "There is a contact named Ann" in _ask(app, f"group add ann {BEN}")["text"]
    _ask(app, f"group add crew {BEN}")
    assert "There is a group named crew" in _ask(app, f"contact add Crew {ANN}")["text"]


def test_a_bad_member_says_the_group_was_not_changed_not_that_nothing_was_sent(
    app: RunningApp,
) -> None:
    """Members are resolved by send's rules, but a group command sends nothing: its refusal
    must not read like a failed send."""
    _ask(app, f"group add crew {BEN}")
    for command in ("group add crew nobody", "group remove crew nobody"):
        text = _ask(app, command)["text"]
        assert "no contact or group by that name" in text
        assert "Nothing was sent" not in text and "The group was not changed" in text
    assert app.services.storage.groups.get("crew").members == (BEN,)  # type: ignore[union-attr]


def test_a_group_name_sends_to_its_members_skipping_opted_out_ones(app: RunningApp) -> None:
    _ask(app, f"group add crew {ANN} {BEN} {STOPPED}")
    app.services.storage.opt_outs.opt_out(STOPPED, "STOP")
    card = app.send("send crew Shift starts at 9")
    assert _sent(app, 2) == {ANN: "Shift starts at 9", BEN: "Shift starts at 9"}
    assert "3 recipients" in json.dumps(card["blocks"])
    wait_for(
        lambda: any(
            "+27 82 123 4567" in c.params.get("text", "") for c in app.fake.calls_to("response_url")
        ),
        10,
        "the sender told who was skipped",
    )


def test_a_template_is_filled_in_per_contact_on_one_card(app: RunningApp) -> None:
    _ask(app, f'contact add "Ann Lee" {ANN}')
    _ask(app, f"contact add Ben {BEN}")
    _ask(app, "template add Reminder Hi {first_name}, your table is ready")
    app.send('send "Ann Lee",Ben --template Reminder')
    assert _sent(app, 2) == {
        ANN: "Hi Ann, your table is ready",
        BEN: "Hi Ben, your table is ready",
    }
    send = app.services.storage.sends.get(1)
    assert send is not None and send.text == "Hi {first_name}, your table is ready"
    assert len({r.climsgid for r in send.recipients}) == 2  # each text its own client ID
    wait_for(
        lambda: "Hi Ben, your table is ready" in app.card_text(CHANNEL, app.card_ts()),
        10,
        "the card with each recipient's text",
    )
    shown = app.card_text(CHANNEL, app.card_ts())
    assert "filled in per recipient" in shown and "Hi Ann, your table is ready" in shown


def test_a_template_with_a_field_nothing_fills_is_refused_before_sending(app: RunningApp) -> None:
    _ask(app, "template add Order Your order {order} is ready")
    reply = _ask(app, f"send {ANN} --template Order")
    assert "{order}" in reply["text"] and "nothing was sent" in reply["text"]
    assert "no template named" in _ask(app, f"send {ANN} --template Missing")["text"]
    _ask(app, "help")
    assert app.sandbox.messages() == []
    assert app.fake.calls_to("chat.postMessage") == []


def test_the_part_limit_holds_for_each_filled_in_text(make_app: Any) -> None:
    app = make_app(env={"SMS_MAX_PARTS": "1"})
    _ask(app, f"contact add {'W' * 40} {ANN}")
    _ask(app, "template add Long {name}" + "x" * 125)
    reply = _ask(app, f"send {BEN},{'W' * 40} --template Long")
    assert "part" in reply["text"] and f"The text for {'W' * 40} (+27 82 555 0103)" in reply["text"]
    _ask(app, "help")
    assert app.sandbox.messages() == []


def test_the_workflow_step_takes_a_group_name(app: RunningApp) -> None:
    from tests.slack.test_workflow_step import run_step

    _ask(app, f"group add crew {STOPPED} {ANN} {BEN}")
    app.services.storage.opt_outs.opt_out(STOPPED, "STOP")
    end = run_step(app, {"to": "crew", "text": "Doors open at 8"})
    assert end.succeeded, end.error
    sent = _sent(app, 2)
    assert sent == {ANN: "Doors open at 8", BEN: "Doors open at 8"}
    first = next(m for m in app.sandbox.messages() if m.to == ANN)
    assert end.outputs["apimsgid"] == first.apimsgid  # the first member who got it


def test_a_held_personalised_send_hands_each_recipient_its_own_text(
    make_app: Any,
) -> None:
    """The Portal cannot hold a message, so sms-bot holds it; when due each recipient still
    gets their own filled-in text (one gateway call per distinct text)."""
    from bot.domain.delivery import HELD
    from bot.usecases.holding import hand_over

    portal = make_app(
        env={"CLICKATELL_API_KEY": "k"}, portal_sandbox=True, sandbox_options={"quirk_every": 0}
    )
    storage = portal.services.storage
    storage.contacts.save("Ann", ANN)
    storage.contacts.save("Ben", BEN)
    storage.templates.save("Reminder", "Hi {first_name}, see you tomorrow")
    portal.command("send --at +2h Ann,Ben --template Reminder")

    def held() -> Any:
        entries = storage.sends.recent_log()
        send = storage.sends.get(entries[0].send_id) if entries else None
        return send if send and all(r.status == HELD.code for r in send.recipients) else None

    send = wait_for(held, 10, "the held send")
    assert portal.sandbox.messages() == []
    hand_over(storage, portal.services.gateway, send.id)
    assert {m.to: m.text for m in portal.sandbox.messages()} == {
        ANN: "Hi Ann, see you tomorrow",
        BEN: "Hi Ben, see you tomorrow",
    }


def test_sending_a_personalised_send_again_keeps_each_text(make_app: Any) -> None:
    """ "Send again" of messages whose outcome stayed unknown: each recipient gets the text they
    were meant to get, not the template."""
    from bot.domain.delivery import UNSETTLED
    from bot.domain.records import NewRecipient
    from bot.usecases.resending import send_again

    app = make_app(
        env={"CLICKATELL_API_KEY": "k"}, portal_sandbox=True, sandbox_options={"quirk_every": 0}
    )
    storage = app.services.storage
    send = storage.sends.record(
        slack_user=ALICE,
        channel=CHANNEL,
        text="Hi {first_name}",
        encoding="gsm7",
        parts=1,
        recipients=[
            NewRecipient(ANN, "cli-a", contact_name="Ann", text="Hi Ann"),
            NewRecipient(BEN, "cli-b", contact_name="Ben", text="Hi Ben"),
        ],
    )
    for recipient in send.recipients:
        storage.sends.record_result(
            recipient.id, apimsgid=None, error_code=UNSETTLED, error_description="unsettled"
        )
    outcome = send_again(app.services, storage.sends.get(send.id), ALICE)  # type: ignore[arg-type]
    assert outcome is not None and outcome.send.personalised
    assert _sent(app, 2) == {ANN: "Hi Ann", BEN: "Hi Ben"}
