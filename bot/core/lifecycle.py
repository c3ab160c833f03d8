"""The token's life: burned -> shipped -> delivered -> destroyed, and revoked from any state but destroyed.

A revoked token may still be destroyed: revoking stops code releases, destroying then removes its seed.
Destroyed is final. Codes may be released only while the user waits for the token (burned, shipped).

Also the pure parts of the `pending` report and the daily sweeper. Every datetime must be tz-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import AbstractSet, Iterable

from .errors import UserError
from .models import TokenStatus

BURNED, SHIPPED, DELIVERED, DESTROYED, REVOKED = (
    TokenStatus.BURNED, TokenStatus.SHIPPED, TokenStatus.DELIVERED, TokenStatus.DESTROYED, TokenStatus.REVOKED)

ALLOWED_NEXT: dict[TokenStatus, tuple[TokenStatus, ...]] = {
    BURNED: (SHIPPED, REVOKED),
    SHIPPED: (DELIVERED, REVOKED),
    DELIVERED: (DESTROYED, REVOKED),
    REVOKED: (DESTROYED,),
    DESTROYED: (),
}
_FORWARD = (BURNED, SHIPPED, DELIVERED, DESTROYED)
_NOT_YET_DELIVERED = (BURNED, SHIPPED)
OVERDUE_AFTER = timedelta(days=30)


class InvalidTransition(UserError):
    def __init__(self, current: TokenStatus, target: TokenStatus) -> None:
        super().__init__(_explain(current, target))
        self.current = current
        self.target = target


def transition(current: TokenStatus, target: TokenStatus) -> TokenStatus:
    """Returns `target` if the token may move there from `current`; a move to the same state is refused too."""
    current, target = TokenStatus(current), TokenStatus(target)
    if target not in ALLOWED_NEXT[current]:
        raise InvalidTransition(current, target)
    return target


def releasable(status: TokenStatus) -> bool:
    """Codes are released only while the user is still waiting for the token."""
    return TokenStatus(status) in _NOT_YET_DELIVERED


def _explain(current: TokenStatus, target: TokenStatus) -> str:
    if current is target:
        return f"The token is already {current.value}; {_next_clause(current)}."
    if current is DESTROYED:
        return f"The token is destroyed, so it cannot be {target.value}; that is final."
    routes = _shortest_routes(current, target)
    if routes:
        steps = " or ".join(" and ".join(state.value for state in route) for route in routes)
        return f"The token is {current.value}; it must be {steps} before it can be {target.value}."
    if current in _FORWARD and target in _FORWARD and _FORWARD.index(target) < _FORWARD.index(current):
        return f"The token is {current.value}, so it cannot go back to {target.value}; {_next_clause(current)}."
    return f"The token is {current.value}, so it cannot be {target.value} any more; {_next_clause(current)}."


def _next_clause(status: TokenStatus) -> str:
    allowed = ALLOWED_NEXT[status]
    if not allowed:
        return "that is final"
    return "next it can be " + " or ".join(s.value for s in allowed)


def _shortest_routes(start: TokenStatus, goal: TokenStatus) -> list[list[TokenStatus]]:
    """Every shortest list of states between `start` and `goal` (exclusive); [] if `goal` is unreachable."""
    routes: list[list[TokenStatus]] = []

    def walk(state: TokenStatus, between: list[TokenStatus]) -> None:
        for following in ALLOWED_NEXT[state]:
            if following is goal:
                routes.append(between)
            elif following not in between:
                walk(following, between + [following])

    walk(start, [])
    shortest = min((len(route) for route in routes), default=0)
    return [route for route in routes if len(route) == shortest]


@dataclass(frozen=True)
class TokenRecord:
    """A token's metadata as the stores report it (no secret)."""

    object_id: str
    upn: str
    status: TokenStatus
    burned_at: datetime
    shipped_at: datetime | None = None
    carrier: str | None = None
    tracking: str | None = None
    enabled: bool = True
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        for value in (self.burned_at, self.shipped_at, self.expires_at):
            if value is not None:
                _require_aware(value)


@dataclass(frozen=True)
class TokenAge:
    """One row of the `pending` report."""

    object_id: str
    upn: str
    status: TokenStatus
    burned_at: datetime
    age_days: int  # whole days since burning
    overdue: bool
    shipped_at: datetime | None
    carrier: str | None
    tracking: str | None
    enabled: bool


@dataclass(frozen=True)
class SweepPlan:
    disable: list[str]  # object ids
    remind: list[str]


def pending_report(tokens: Iterable[TokenRecord], now: datetime,
                   overdue_after: timedelta = OVERDUE_AFTER) -> list[TokenAge]:
    """Tokens the user has not received yet (burned or shipped), oldest first."""
    _require_aware(now)
    rows = []
    for token in _oldest_first(t for t in tokens if t.status in _NOT_YET_DELIVERED):
        age = now - token.burned_at
        rows.append(TokenAge(
            token.object_id, token.upn, token.status, token.burned_at, max(age.days, 0), age > overdue_after,
            token.shipped_at, token.carrier, token.tracking, token.enabled))
    return rows


def sweep_plan(tokens: Iterable[TokenRecord], now: datetime, max_seed_age: timedelta,
               overdue_after: timedelta = OVERDUE_AFTER, reminded: AbstractSet[str] = frozenset()) -> SweepPlan:
    """What the daily sweeper should do; `reminded` holds ids already reminded, so each is reminded once.

    Disable: still-enabled seeds not yet delivered or destroyed that are older than `max_seed_age` or past
    their own `expires_at` (Key Vault does not enforce expiry on a get). Remind: overdue burned/shipped tokens.
    """
    _require_aware(now)
    disable: list[str] = []
    remind: list[str] = []
    for token in _oldest_first(tokens):
        age = now - token.burned_at
        expired = token.expires_at is not None and token.expires_at <= now
        if token.enabled and token.status not in (DELIVERED, DESTROYED) and (age > max_seed_age or expired):
            _append_once(disable, token.object_id)
        if token.status in _NOT_YET_DELIVERED and age > overdue_after and token.object_id not in reminded:
            _append_once(remind, token.object_id)
    return SweepPlan(disable, remind)


def _oldest_first(tokens: Iterable[TokenRecord]) -> list[TokenRecord]:
    return sorted(tokens, key=lambda t: (t.burned_at, t.upn, t.object_id))


def _append_once(ids: list[str], object_id: str) -> None:
    if object_id not in ids:
        ids.append(object_id)


def _require_aware(at: datetime) -> None:
    # A naive datetime is ambiguous (pyotp reads it as local time); refuse it rather than be off by hours.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware UTC time")
