"""Every backend: templates and groups, and a recipient's own (personalised) text."""

from __future__ import annotations

import pytest

from bot.domain.records import NewRecipient
from bot.storage import Storage
from bot.testing.clocks import ManualClock
from tests.storage.support import at, run_threads


def test_templates_are_unique_ignoring_case_and_keep_who_set_them(store: Storage) -> None:
    assert store.templates.save("Reminder", "Hi {first_name}, see you at 9", owner="U1")
    assert not store.templates.save("REMINDER", "Hi {name}, see you at 10", owner="U2")
    saved = store.templates.get("reminder")
    assert saved is not None
    assert (saved.name, saved.text, saved.owner) == ("REMINDER", "Hi {name}, see you at 10", "U2")
    assert store.templates.save("Zoë's", "x")
    assert not store.templates.save("ZOË'S", "y")  # case beyond ASCII
    assert store.templates.save("apology", "Sorry")
    assert [t.name for t in store.templates.all()] == ["apology", "REMINDER", "ZOË'S"]


def test_template_remove_and_refusals(store: Storage, clock: ManualClock) -> None:
    clock.advance(5)
    store.templates.save("Hello", "Hello {name}")
    assert store.templates.get("hello").updated_at == clock.utc()  # type: ignore[union-attr]
    assert store.templates.remove("HELLO")
    assert not store.templates.remove("hello")
    assert store.templates.get("Hello") is None and store.templates.all() == []
    with pytest.raises(ValueError, match="empty"):
        store.templates.save(" ", "text")
    with pytest.raises(ValueError, match="empty"):
        store.templates.save("Blank", "  ")
    assert store.templates.all() == []


def test_group_members_keep_their_order_once_each(store: Storage) -> None:
    assert store.groups.add("Night shift", ["27822222222", "27821111111", "27822222222"], "U1")
    assert not store.groups.add("NIGHT SHIFT", ["27821111111", "27823333333"], "U2")
    group = store.groups.get("night shift")
    assert group is not None
    assert group.name == "NIGHT SHIFT" and group.owner == "U2"
    assert group.members == ("27822222222", "27821111111", "27823333333")


def test_group_members_removed_and_an_emptied_group_goes(store: Storage) -> None:
    store.groups.add("Crew", ["27821111111", "27822222222", "27823333333"])
    assert store.groups.remove_members("crew", ["27822222222", "27829999999"]) == 1
    assert store.groups.get("Crew").members == ("27821111111", "27823333333")  # type: ignore[union-attr]
    store.groups.add("Crew", ["27822222222"])  # back in, at the end
    assert store.groups.get("Crew").members[-1] == "27822222222"  # type: ignore[union-attr]
    assert store.groups.remove_members("Crew", ["27821111111", "27823333333", "27822222222"]) == 3
    assert store.groups.get("Crew") is None


def test_a_changed_number_is_changed_in_every_group_in_its_place(
    store: Storage, clock: ManualClock
) -> None:
    old, new, other = "27821111111", "27829999999", "27822222222"
    store.groups.add("Night shift", [other, old, "27823333333"])
    store.groups.add("crew", [old, new])  # the new number is a member already
    store.groups.add("Day", [other])
    clock.advance(60)
    assert store.groups.renumber(old, new) == ["crew", "Night shift"]
    night, crew, day = (store.groups.get(n) for n in ("night shift", "crew", "day"))
    assert night.members == (other, new, "27823333333")  # type: ignore[union-attr]
    assert crew.members == (new,)  # type: ignore[union-attr]
    assert night.updated_at == clock.utc() and day.updated_at < clock.utc()  # type: ignore[union-attr]
    assert store.groups.renumber(old, new) == []  # nothing holds it any more
    assert store.groups.renumber(new, new) == []


def test_groups_listed_by_name_and_removed_whole(store: Storage) -> None:
    store.groups.add("zulu", ["27821111111"])
    store.groups.add("Alpha", ["27822222222", "27821111111"])
    assert [(g.name, g.members) for g in store.groups.all()] == [
        ("Alpha", ("27822222222", "27821111111")),
        ("zulu", ("27821111111",)),
    ]
    assert store.groups.remove("ALPHA")
    assert not store.groups.remove("alpha")
    assert [g.name for g in store.groups.all()] == ["zulu"]
    store.groups.add("Alpha", ["27823333333"])  # a new group of that name starts empty
    assert store.groups.get("alpha").members == ("27823333333",)  # type: ignore[union-attr]


def test_a_new_group_needs_members(store: Storage) -> None:
    with pytest.raises(ValueError, match="member"):
        store.groups.add("Empty", [])
    assert store.groups.get("Empty") is None
    with pytest.raises(ValueError, match="empty"):
        store.groups.add("  ", ["27821111111"])


def test_a_recipient_keeps_its_own_text(store: Storage) -> None:
    send = store.sends.record(
        slack_user="U1",
        channel="C1",
        text="Hi {first_name}",
        encoding="gsm7",
        parts=1,
        recipients=[
            NewRecipient("27821111111", "c1", contact_name="Ann Lee", text="Hi Ann"),
            NewRecipient("27822222222", "c2"),
        ],
        scheduled_at=at(60),
    )
    loaded = store.sends.get(send.id)
    assert loaded is not None and loaded.personalised
    first, second = loaded.recipients
    assert (first.text, loaded.text_for(first)) == ("Hi Ann", "Hi Ann")
    assert (second.text, loaded.text_for(second)) == (None, "Hi {first_name}")
    assert store.sends.recipient_by_climsgid("c1", "27821111111").text == "Hi Ann"  # type: ignore[union-attr]
    log = {entry.msisdn: entry.text for entry in store.sends.recent_log()}
    assert log == {"27821111111": "Hi Ann", "27822222222": "Hi {first_name}"}


def test_members_added_at_once_from_many_threads_are_all_kept_once(store: Storage) -> None:
    store.groups.add("crew", ["27820000000"])
    added = run_threads(8, lambda i: store.groups.add("Crew", [f"2782000000{i}", "27829999999"]))
    assert added == [False] * 8  # the group existed: nobody created it again
    members = store.groups.get("crew").members  # type: ignore[union-attr]
    assert sorted(members) == sorted(
        {"27820000000", "27829999999"} | {f"2782000000{i}" for i in range(8)}
    )
    assert members[0] == "27820000000" and len(members) == len(set(members))
