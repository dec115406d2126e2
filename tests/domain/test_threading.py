"""The card-versus-conversation-versus-bulk rule every storage backend applies."""

from datetime import UTC, datetime, timedelta

from bot.domain.threading import ThreadChoice, thread_to_use

T = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T + timedelta(seconds=1)
CONVERSATION, CARD, NEW = ThreadChoice.CONVERSATION, ThreadChoice.CARD, ThreadChoice.NEW


def test_the_newer_of_card_and_conversation_wins_and_a_tie_keeps_the_conversation() -> None:
    assert thread_to_use(T, None) is CONVERSATION
    assert thread_to_use(None, T) is CARD
    assert thread_to_use(None, None) is NEW
    assert thread_to_use(LATER, T) is CONVERSATION
    assert thread_to_use(T, LATER) is CARD
    assert thread_to_use(T, T) is CONVERSATION
    assert thread_to_use(5.0, 5.0) is CONVERSATION and thread_to_use(4.0, 5.0) is CARD


def test_a_bulk_row_newer_than_every_card_and_conversation_opens_a_new_conversation() -> None:
    assert thread_to_use(None, T, LATER) is NEW
    assert thread_to_use(T, None, LATER) is NEW
    assert thread_to_use(None, None, T) is NEW
    assert thread_to_use(T, T - timedelta(days=1), LATER) is NEW


def test_a_card_or_conversation_newer_than_the_bulk_row_keeps_its_thread() -> None:
    assert thread_to_use(None, LATER, T) is CARD
    assert thread_to_use(LATER, None, T) is CONVERSATION
    # A tie: the card has a thread, the conversation the replies; both beat the bulk row.
    assert thread_to_use(None, T, T) is CARD and thread_to_use(T, None, T) is CONVERSATION
    assert thread_to_use(4.0, None, 5.0) is NEW and thread_to_use(None, 5.0, 4.0) is CARD
