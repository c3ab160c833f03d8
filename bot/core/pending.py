"""The `pending` report for any number of tokens: a summary that always fits, then one page of rows.

Teams refuses a bot message over ~100 KB (counted in UTF-16) and Microsoft recommends staying under 80 KB, so a
message's JSON is kept under 40 KB. A row's text is bounded (a UPN ≤ 113 characters, carrier and tracking ≤ 40),
so a page of PAGE_SIZE rows is bounded too; tests/core render the worst-case page and assert its exact size.
Overdue tokens come first, oldest first within each group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from .lifecycle import TokenAge
from .models import TokenStatus
from .text import escape_markdown
from .views import PendingCard, PendingRow

PAGE_SIZE = 40
MAX_MESSAGE_BYTES = 40_000
FILTERS = ("overdue", "burned", "shipped")


def pending_card(tokens: Iterable[TokenAge], overdue_days: int, only: str | None = None,
                 page: int = 1) -> PendingCard:
    """`tokens` as pending_report gives them (burned or shipped, oldest first)."""
    tokens = list(tokens)
    overdue = [t for t in tokens if t.overdue]
    ordered = overdue + [t for t in tokens if not t.overdue]
    if only == "overdue":
        ordered = overdue
    elif only in ("burned", "shipped"):
        ordered = [t for t in ordered if t.status.value == only]
    pages = max(1, -(-len(ordered) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = ordered[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    return PendingCard(
        total=len(tokens), burned=sum(t.status is TokenStatus.BURNED for t in tokens),
        shipped=sum(t.status is TokenStatus.SHIPPED for t in tokens), overdue=len(overdue),
        rows=tuple(PendingRow(t.upn, t.overdue, describe_age(t), t.enabled) for t in shown),
        overdue_days=overdue_days, only=only, page=page, pages=pages, matching=len(ordered))


def describe_age(token: TokenAge) -> str:
    """`shipped 2026-11-20 via DHL, tracking JD0123 · burned 31 days ago` or `not shipped yet · burned today`."""
    return f"{describe_shipping(token.status, token.shipped_at, token.carrier, token.tracking)} · " \
           f"burned {days_ago(token.age_days)}"


def describe_shipping(status: TokenStatus, shipped_at: datetime | None, carrier: str | None,
                      tracking: str | None) -> str:
    if status is not TokenStatus.SHIPPED and shipped_at is None:
        return "not shipped yet"
    when = f" {shipped_at:%Y-%m-%d}" if shipped_at else " (no date recorded)"
    via = f" via {escape_markdown(carrier)}" if carrier else ""  # typed by an agent: inert in the card
    number = f", tracking {escape_markdown(tracking)}" if tracking else ""
    return f"shipped{when}{via}{number}"


def days_ago(days: int) -> str:
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days:,} days ago"
