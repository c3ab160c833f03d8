from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.core.errors import InvalidInput, WindowRefused
from bot.core.window import WindowPolicy, WindowSpec, agent_zone, parse_window, plan_window, resolve_instant
from tests.support.fakes import FakeClock

UTC = timezone.utc
POLICY = WindowPolicy()
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("text, spec", [
    ("", WindowSpec("now")),
    ("now", WindowSpec("now")),
    ("NOW", WindowSpec("now")),
    ("at 14:30", WindowSpec("at", at_local=time(14, 30))),
    ("at 9:05", WindowSpec("at", at_local=time(9, 5))),
    ("in 10m", WindowSpec("in", delay=timedelta(minutes=10))),
    ("in 10 min", WindowSpec("in", delay=timedelta(minutes=10))),
    ("in 90s", WindowSpec("in", delay=timedelta(seconds=90))),
    ("in 1h", WindowSpec("in", delay=timedelta(hours=1))),
    ("in 0m", WindowSpec("now")),
])
def test_parse_window(text, spec):
    assert parse_window(text) == spec


@pytest.mark.parametrize("text", ["at 25:00", "at 14:60", "tomorrow", "in 10 days", "in -5m", "at 1430"])
def test_bad_windows(text):
    with pytest.raises(InvalidInput) as error:
        parse_window(text)
    assert error.value.message == f"I don't understand the window `{text}`. Use `now`, `at 14:30` or `in 10m`."


def test_window_text_round_trips():
    for text in ("now", "at 14:30", "in 10m", "in 90s", "in 1h"):
        assert parse_window(text).text == text


def test_now_at_a_step_boundary():
    clock = FakeClock(datetime(2026, 11, 28, 9, 0, 29, 999000, tzinfo=UTC))
    window = plan_window(clock.now(), clock.now(), 30, POLICY)
    assert (window.step_start, window.step_end, window.accepted_until) == (
        datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC), datetime(2026, 11, 28, 9, 0, 30, tzinfo=UTC),
        datetime(2026, 11, 28, 9, 1, 30, tzinfo=UTC))
    clock.advance(milliseconds=1)
    window = plan_window(clock.now(), clock.now(), 30, POLICY)
    assert window.step_start == datetime(2026, 11, 28, 9, 0, 30, tzinfo=UTC)
    assert window.accepted_until == datetime(2026, 11, 28, 9, 2, 0, tzinfo=UTC)


def test_sixty_second_tokens_get_the_longer_tolerance():
    now = datetime(2026, 11, 28, 9, 0, 10, tzinfo=UTC)
    window = plan_window(now, now, 60, POLICY)
    assert window.step_end == datetime(2026, 11, 28, 9, 1, 0, tzinfo=UTC)
    assert window.accepted_until == datetime(2026, 11, 28, 9, 3, 0, tzinfo=UTC)


def test_tolerance_is_configurable():
    now = datetime(2026, 11, 28, 9, 0, 10, tzinfo=UTC)
    policy = WindowPolicy(tolerance_30=timedelta(seconds=30))
    assert plan_window(now, now, 30, policy).accepted_until == datetime(2026, 11, 28, 9, 1, 0, tzinfo=UTC)


def test_at_uses_the_agents_time_zone():
    now = datetime(2026, 11, 28, 13, 0, 0, tzinfo=UTC)  # 14:00 in Berlin
    instant = resolve_instant(parse_window("at 14:30"), now, BERLIN, POLICY)
    assert instant == datetime(2026, 11, 28, 13, 30, 0, tzinfo=UTC)


def test_at_without_a_time_zone_is_utc():
    now = datetime(2026, 11, 28, 13, 0, 0, tzinfo=UTC)
    assert agent_zone(None) is UTC and agent_zone("Not/AZone") is UTC
    assert resolve_instant(parse_window("at 13:45"), now, UTC, POLICY) == datetime(2026, 11, 28, 13, 45, tzinfo=UTC)


def test_in_is_relative_to_now():
    now = datetime(2026, 11, 28, 9, 0, 10, tzinfo=UTC)
    assert resolve_instant(parse_window("in 10m"), now, UTC, POLICY) == datetime(2026, 11, 28, 9, 10, 10, tzinfo=UTC)


def test_a_time_that_just_passed_is_still_honoured():
    now = datetime(2026, 11, 28, 14, 30, 40, tzinfo=UTC)
    instant = resolve_instant(parse_window("at 14:30"), now, UTC, POLICY)
    assert plan_window(instant, now, 30, POLICY).accepted_until == datetime(2026, 11, 28, 14, 31, 30, tzinfo=UTC)
    now = datetime(2026, 11, 28, 14, 31, 0, tzinfo=UTC)  # the last instant Entra's tolerance still covers
    assert resolve_instant(parse_window("at 14:30"), now, UTC, POLICY) == datetime(2026, 11, 28, 14, 30, tzinfo=UTC)


def test_the_furthest_window_ahead_is_accepted():
    now = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
    assert resolve_instant(parse_window("in 60m"), now, UTC, POLICY) == now + timedelta(minutes=60)
    assert resolve_instant(parse_window("at 10:00"), now, UTC, POLICY) == now + timedelta(minutes=60)


def test_a_code_with_just_enough_time_left_is_released():
    instant = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
    now = datetime(2026, 11, 28, 9, 1, 15, tzinfo=UTC)  # accepted until 09:01:30: 15 s left
    assert plan_window(instant, now, 30, POLICY).accepted_until == datetime(2026, 11, 28, 9, 1, 30, tzinfo=UTC)


PASSED = "has already passed: Entra would reject that code. Nearest acceptable alternative: `now`."
LAPSING = "Entra would stop accepting that code within seconds. Nearest acceptable alternative: `now`."


@pytest.mark.parametrize("refuse, message, alternative", [
    pytest.param(lambda: resolve_instant(parse_window("at 14:30"), datetime(2026, 11, 28, 13, 40, tzinfo=UTC),
                                         BERLIN, POLICY),
                 f"14:30 (Europe/Berlin) {PASSED}", "now", id="passed-in-the-agents-zone"),
    pytest.param(lambda: resolve_instant(parse_window("at 14:30"), datetime(2026, 11, 28, 14, 31, 1, tzinfo=UTC),
                                         UTC, POLICY),
                 f"14:30 (UTC) {PASSED}", "now", id="passed-one-second-beyond-the-tolerance"),
    pytest.param(lambda: resolve_instant(parse_window("in 2h"), datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
                                         UTC, POLICY),
                 "Codes can be released at most 60 minutes ahead; `in 2h` is further away. "
                 "Nearest acceptable alternative: `in 60m`.", "in 60m", id="too-far-ahead"),
    pytest.param(lambda: resolve_instant(parse_window("in 61m"), datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
                                         UTC, POLICY),
                 "Codes can be released at most 60 minutes ahead; `in 61m` is further away. "
                 "Nearest acceptable alternative: `in 60m`.", "in 60m", id="one-minute-too-far-ahead"),
    pytest.param(lambda: resolve_instant(parse_window("at 10:01"), datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
                                         UTC, POLICY),
                 "Codes can be released at most 60 minutes ahead; `at 10:01` is further away. "
                 "Nearest acceptable alternative: `in 60m`.", "in 60m", id="at-too-far-ahead"),
    pytest.param(lambda: plan_window(datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
                                     datetime(2026, 11, 28, 9, 1, 20, tzinfo=UTC), 30, POLICY),
                 LAPSING, "now", id="about-to-lapse-30s"),  # accepted until 09:01:30: 10 s left
    pytest.param(lambda: plan_window(datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
                                     datetime(2026, 11, 28, 9, 1, 16, tzinfo=UTC), 30, POLICY),
                 LAPSING, "now", id="one-second-short-30s"),  # 14 s left
    pytest.param(lambda: plan_window(datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
                                     datetime(2026, 11, 28, 9, 2, 50, tzinfo=UTC), 60, POLICY),
                 LAPSING, "now", id="about-to-lapse-60s"),  # accepted until 09:03:00: 10 s left
])
def test_a_refused_window_names_the_nearest_alternative(refuse, message, alternative):
    with pytest.raises(WindowRefused) as error:
        refuse()
    assert (error.value.message, error.value.alternative) == (message, alternative)


def test_at_shortly_after_midnight_means_tomorrow():
    now = datetime(2026, 11, 28, 23, 55, 0, tzinfo=UTC)
    assert resolve_instant(parse_window("at 00:10"), now, UTC, POLICY) == datetime(2026, 11, 29, 0, 10, tzinfo=UTC)
