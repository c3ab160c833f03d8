from datetime import datetime, timedelta, timezone
from itertools import product

import pytest

from bot.core.errors import UserError
from bot.core.lifecycle import (
    InvalidTransition, SweepPlan, TokenAge, TokenRecord, pending_report, releasable, sweep_plan, transition)
from bot.core.models import TokenStatus

BURNED, SHIPPED, DELIVERED, DESTROYED, REVOKED = (
    TokenStatus.BURNED, TokenStatus.SHIPPED, TokenStatus.DELIVERED, TokenStatus.DESTROYED, TokenStatus.REVOKED)
VALID = {
    (BURNED, SHIPPED), (SHIPPED, DELIVERED), (DELIVERED, DESTROYED),
    (BURNED, REVOKED), (SHIPPED, REVOKED), (DELIVERED, REVOKED),
    (REVOKED, DESTROYED),  # a revoked token's seed may still be destroyed
}
INVALID = sorted(set(product(TokenStatus, repeat=2)) - VALID)
NOW = datetime(2025, 3, 31, 12, 0, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize("current, target", sorted(VALID))
def test_valid_transitions_return_the_target(current, target):
    assert transition(current, target) is target


def test_the_tables_cover_every_pair():
    assert len(VALID) == 7 and len(INVALID) == 18


@pytest.mark.parametrize("current, target", INVALID)
def test_every_other_transition_is_refused_naming_both_states(current, target):
    with pytest.raises(InvalidTransition) as error:
        transition(current, target)
    assert isinstance(error.value, UserError)
    assert (error.value.current, error.value.target) == (current, target)
    assert error.value.message.startswith("The token is ")
    assert current.value in error.value.message and target.value in error.value.message


@pytest.mark.parametrize("current, target, message", [
    (BURNED, DELIVERED, "The token is burned; it must be shipped before it can be delivered."),
    (BURNED, DESTROYED, "The token is burned; it must be revoked before it can be destroyed."),
    (SHIPPED, DESTROYED, "The token is shipped; it must be delivered or revoked before it can be destroyed."),
    (BURNED, BURNED, "The token is already burned; next it can be shipped or revoked."),
    (SHIPPED, SHIPPED, "The token is already shipped; next it can be delivered or revoked."),
    (REVOKED, REVOKED, "The token is already revoked; next it can be destroyed."),
    (DESTROYED, DESTROYED, "The token is already destroyed; that is final."),
    (DESTROYED, REVOKED, "The token is destroyed, so it cannot be revoked; that is final."),
    (DELIVERED, SHIPPED,
     "The token is delivered, so it cannot go back to shipped; next it can be destroyed or revoked."),
    (SHIPPED, BURNED, "The token is shipped, so it cannot go back to burned; next it can be delivered or revoked."),
    (REVOKED, SHIPPED, "The token is revoked, so it cannot be shipped any more; next it can be destroyed."),
])
def test_refusals_say_what_is_allowed_next(current, target, message):
    with pytest.raises(InvalidTransition) as error:
        transition(current, target)
    assert error.value.message == message


def test_transition_accepts_stored_status_strings():
    assert transition("burned", "shipped") is SHIPPED


@pytest.mark.parametrize("status, expected", [
    (BURNED, True), (SHIPPED, True), (DELIVERED, False), (DESTROYED, False), (REVOKED, False)])
def test_codes_are_releasable_only_before_delivery(status, expected):
    assert releasable(status) is expected


def token(object_id, status, burned_at, **fields):
    return TokenRecord(object_id, f"{object_id}@contoso.com", status, burned_at, **fields)


def test_pending_report_lists_undelivered_tokens_oldest_first_with_overdue_at_the_boundary():
    shipped_at = NOW - 20 * DAY
    tokens = [
        token("exactly30", BURNED, NOW - 30 * DAY),
        token("recent", BURNED, NOW - 2 * DAY - SECOND, enabled=False),
        token("over30", SHIPPED, NOW - 30 * DAY - SECOND, shipped_at=shipped_at, carrier="DHL", tracking="JD0123"),
        token("delivered", DELIVERED, NOW - 90 * DAY),
        token("destroyed", DESTROYED, NOW - 90 * DAY),
        token("revoked", REVOKED, NOW - 90 * DAY),
    ]
    assert pending_report(tokens, NOW) == [
        TokenAge("over30", "over30@contoso.com", SHIPPED, NOW - 30 * DAY - SECOND, 30, True,
                 shipped_at, "DHL", "JD0123", True),
        TokenAge("exactly30", "exactly30@contoso.com", BURNED, NOW - 30 * DAY, 30, False, None, None, None, True),
        TokenAge("recent", "recent@contoso.com", BURNED, NOW - 2 * DAY - SECOND, 2, False, None, None, None, False),
    ]


def test_pending_report_takes_its_own_overdue_threshold_and_breaks_ties_by_upn():
    burned_at = NOW - 7 * DAY - SECOND
    rows = pending_report([token("zed", BURNED, burned_at), token("amy", SHIPPED, burned_at)], NOW, 7 * DAY)
    assert [(row.upn, row.age_days, row.overdue) for row in rows] == [
        ("amy@contoso.com", 7, True), ("zed@contoso.com", 7, True)]


def test_a_token_burned_after_now_is_zero_days_old():
    assert pending_report([token("skew", BURNED, NOW + SECOND)], NOW)[0].age_days == 0


MAX_AGE = 45 * DAY


def sweep_tokens():
    return [
        token("at-max-age", BURNED, NOW - MAX_AGE),
        token("old-shipped", SHIPPED, NOW - MAX_AGE - SECOND),
        token("old-burned", BURNED, NOW - MAX_AGE - 2 * SECOND),
        token("old-revoked", REVOKED, NOW - MAX_AGE - SECOND),
        token("old-delivered", DELIVERED, NOW - MAX_AGE - SECOND),
        token("old-destroyed", DESTROYED, NOW - MAX_AGE - SECOND),
        token("old-disabled", SHIPPED, NOW - MAX_AGE - SECOND, enabled=False),
        token("expired", BURNED, NOW - 5 * DAY, expires_at=NOW),
        token("expires-soon", BURNED, NOW - 5 * DAY, expires_at=NOW + SECOND),
        token("overdue", SHIPPED, NOW - 30 * DAY - SECOND),
        token("due-today", SHIPPED, NOW - 30 * DAY),
        token("overdue-delivered", DELIVERED, NOW - 31 * DAY),
    ]


def test_sweep_disables_old_or_expired_enabled_seeds_and_reminds_overdue_tokens():
    plan = sweep_plan(sweep_tokens(), NOW, MAX_AGE, 30 * DAY, reminded=set())
    assert plan == SweepPlan(
        disable=["old-burned", "old-revoked", "old-shipped", "expired"],
        remind=["old-burned", "old-disabled", "old-shipped", "at-max-age", "overdue"],
    )


def test_each_overdue_token_is_reminded_once():
    first = sweep_plan(sweep_tokens(), NOW, MAX_AGE, 30 * DAY, reminded=set())
    tomorrow = sweep_plan(sweep_tokens(), NOW + DAY, MAX_AGE, 30 * DAY, reminded=set(first.remind))
    assert tomorrow.remind == ["due-today"]  # crossed the threshold overnight
    assert tomorrow.disable == ["old-burned", "old-revoked", "old-shipped", "at-max-age", "expired", "expires-soon"]


def test_a_disabled_seed_is_not_disabled_again():
    already = [token("old", BURNED, NOW - MAX_AGE - SECOND, enabled=False)]
    assert sweep_plan(already, NOW, MAX_AGE, 30 * DAY, reminded={"old"}) == SweepPlan(disable=[], remind=[])


@pytest.mark.parametrize("call", [
    lambda: token("naive", BURNED, datetime(2025, 3, 1)),
    lambda: token("naive", SHIPPED, NOW, shipped_at=datetime(2025, 3, 2)),
    lambda: token("naive", BURNED, NOW, expires_at=datetime(2025, 4, 1)),
    lambda: pending_report([], datetime(2025, 3, 31)),
    lambda: sweep_plan([], datetime(2025, 3, 31), MAX_AGE, 30 * DAY, set()),
])
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="naive datetime"):
        call()
