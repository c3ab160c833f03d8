"""`pending` at any count: the summary, the order (overdue first, oldest first), pages and filters, and the
40 KB bound on the message a worst-case page makes (longest UPN, carrier and tracking; every row overdue)."""

import json
from datetime import datetime, timedelta, timezone

from bot.adapters.teams.cards import message_of
from bot.core.commands import ShowPending, parse
from bot.core.lifecycle import TokenRecord, pending_report
from bot.core.models import TokenStatus
from bot.core.pending import MAX_MESSAGE_BYTES, PAGE_SIZE, pending_card

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def token(i: int, status=TokenStatus.BURNED, age_days=1, upn=None, **fields) -> TokenRecord:
    return TokenRecord(f"{i:08d}-0000-4000-8000-000000000000", upn or f"user{i:05d}@contoso.example", status,
                       NOW - age_days * DAY, **fields)


def message_bytes(view) -> int:
    return len(json.dumps(message_of(view).serialize(), ensure_ascii=False).encode("utf-8"))


def worst_case_tokens(count: int) -> list[TokenRecord]:
    domain = "@" + "d" * 50 + ".example"
    return [token(i, TokenStatus.SHIPPED, 99_999, upn=f"{i:05d}" + "u" * (113 - 5 - len(domain)) + domain,
                  shipped_at=NOW, carrier="C" * 40, tracking="T" * 40, enabled=False) for i in range(count)]


def test_a_worst_case_page_stays_under_40_kb_at_any_count():
    for count in (PAGE_SIZE, 10_000, 100_000):
        card = pending_card(pending_report(worst_case_tokens(count), NOW), 30)
        assert (len(card.rows), card.total, card.overdue, card.pages) == (40, count, count, -(-count // 40))
        assert len(card.rows[0].upn) == 113
        assert message_bytes(card) <= MAX_MESSAGE_BYTES
    assert message_bytes(card) == 19_962  # the figure itself (fallbackText included), so a wordier row shows up here
    last = pending_card(pending_report(worst_case_tokens(100_000), NOW), 30, page=2_500)
    assert (last.page, len(last.rows), message_bytes(last)) == (2_500, 40, 19_939)


def test_overdue_first_then_oldest_first_with_counts_over_every_token():
    tokens = [token(1, age_days=3), token(2, TokenStatus.SHIPPED, 40, shipped_at=NOW - 2 * DAY, carrier="DHL"),
              token(3, age_days=31), token(4, TokenStatus.SHIPPED, 0), token(5, TokenStatus.DELIVERED, 90),
              token(6, TokenStatus.REVOKED, 90)]
    card = pending_card(pending_report(tokens, NOW), 30)
    assert (card.total, card.burned, card.shipped, card.overdue, card.pages, card.matching) == (4, 2, 2, 2, 1, 4)
    assert [(r.upn, r.overdue, r.text) for r in card.rows] == [
        ("user00002@contoso.example", True, "shipped 2026-11-29 via DHL · burned 40 days ago"),
        ("user00003@contoso.example", True, "not shipped yet · burned 31 days ago"),
        ("user00001@contoso.example", False, "not shipped yet · burned 3 days ago"),
        ("user00004@contoso.example", False, "shipped (no date recorded) · burned today"),
    ]
    assert [r.upn[:9] for r in pending_card(pending_report(tokens, NOW), 30, "shipped").rows] == [
        "user00002", "user00004"]
    assert [r.upn[:9] for r in pending_card(pending_report(tokens, NOW), 30, "overdue").rows] == [
        "user00002", "user00003"]


def test_pages_and_filters_with_their_texts():
    tokens = [token(i, age_days=100 - i) for i in range(85)]  # 0..69 overdue
    card = pending_card(pending_report(tokens, NOW), 30, "overdue", 2)
    assert (card.page, card.pages, card.matching, len(card.rows)) == (2, 2, 70, 30)
    assert (card.rows[0].upn, card.rows[-1].upn) == ("user00040@contoso.example", "user00069@contoso.example")
    body = [b["text"] for b in message_of(card).attachments[0].content["body"]]
    assert body[:3] == ["Tokens not delivered yet: 85",
                        "85 burned (not shipped), 0 shipped; 70 overdue (more than 30 days since the token was "
                        "burned).",
                        "Overdue tokens, oldest first: 41–70 of 70."]
    assert body[-1] == "Page 2 of 2."
    first = [b["text"] for b in message_of(pending_card(pending_report(tokens, NOW), 30)).attachments[0].content["body"]]
    assert first[2] == "Tokens, overdue first, oldest first: 1–40 of 85."
    assert first[-1] == "Page 1 of 3: type `pending page 2` for the next."
    beyond = pending_card(pending_report(tokens, NOW), 30, "burned", 99)
    assert (beyond.page, len(beyond.rows)) == (3, 5)  # past the end: the last page


def test_pending_grammar():
    assert parse("pending") == ShowPending()
    assert parse("pending Overdue") == ShowPending("overdue")
    assert parse("pending page 3") == ShowPending(None, 3)
    assert parse("pending shipped page 2") == ShowPending("shipped", 2)
