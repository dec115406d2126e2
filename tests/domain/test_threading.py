"""The card-versus-conversation rule every storage backend applies."""

from datetime import UTC, datetime, timedelta

from bot.domain.threading import conversation_wins

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_newer_of_card_and_conversation_wins_and_a_tie_keeps_the_conversation() -> None:
    assert conversation_wins(T, None)
    assert not conversation_wins(None, T)
    assert not conversation_wins(None, None)
    assert conversation_wins(T + timedelta(seconds=1), T)
    assert not conversation_wins(T, T + timedelta(seconds=1))
    assert conversation_wins(T, T)
    assert conversation_wins(5.0, 5.0) and not conversation_wins(4.0, 5.0)
