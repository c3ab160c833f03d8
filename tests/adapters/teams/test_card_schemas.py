"""The schema check itself (tests/support/card_schemas.py), and the cards that only proactive sends render."""

from __future__ import annotations

from bot.adapters.teams.cards import message_of, render
from bot.core.views import ApprovalRequestCard, SecondAgentRequestCard, Text
from tests.support.card_schemas import card_problems

OID = "00000000-0000-4000-8000-0000000000a1"


def test_proactive_request_cards_are_valid_and_carry_fallback_text():
    second = SecondAgentRequestCard("v1", OID, "Ada Agent", "a:1", "Lee Lead", "lee@contoso.example", "INC-7", "18:40")
    manager = ApprovalRequestCard("v1", OID, "Ada Agent", "a:1", "Alice User", "alice@contoso.example", "18:40")
    for view in (second, manager):
        card = render(view)
        assert card_problems(card) == []
        assert card["fallbackText"] == card["body"][0]["text"]
        assert message_of(view).attachments[0].content["fallbackText"] == card["fallbackText"]


def test_the_check_catches_a_card_the_schema_refuses():
    card = render(Text("hello"))
    assert card_problems(card) == []
    broken = {**card, "body": [{"type": "TextBlock", "text": "x", "wrap": "yes"}], "fallbackText": ""}
    problems = card_problems(broken)
    assert len(problems) == 2 and problems[0].endswith("is not valid under any of the given schemas")
    assert problems[1] == "(root): no fallbackText"
    import pytest

    with pytest.raises(AssertionError, match="no official schema vendored"):
        card_problems({**card, "version": "1.9"})
