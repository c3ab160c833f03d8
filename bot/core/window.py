"""Which TOTP step to release, and until when Entra will accept it.

Entra checks a code against the steps within ±tolerance of the moment it is typed, so the
code for a step is accepted from (step start − tolerance) until (step end + tolerance).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput, WindowRefused
from .text import printable
from .totp import step_end, step_start

_AT = re.compile(r"^at\s+([01]?\d|2[0-3]):([0-5]\d)$")
_IN = re.compile(r"^in\s+(\d{1,4})\s*(s|sec|secs|m|min|mins|h|hr|hrs)$")
_UNIT_SECONDS = {"s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60, "h": 3600, "hr": 3600, "hrs": 3600}
MIN_USABLE = timedelta(seconds=15)  # time left to read the code out; less is not worth releasing


@dataclass(frozen=True)
class WindowSpec:
    """What the agent asked for: `now`, `at HH:MM` (agent's local time) or `in N(s|m|h)`."""

    kind: str  # "now" | "at" | "in"
    at_local: time | None = None
    delay: timedelta | None = None

    @property
    def text(self) -> str:
        if self.kind == "at":
            return f"at {self.at_local:%H:%M}"
        if self.kind == "in":
            return f"in {_format_delay(self.delay)}"
        return "now"


@dataclass(frozen=True)
class CodeWindow:
    instant: datetime
    step_start: datetime
    step_end: datetime
    accepted_until: datetime


@dataclass(frozen=True)
class WindowPolicy:
    tolerance_30: timedelta = timedelta(seconds=60)
    tolerance_60: timedelta = timedelta(seconds=120)
    max_ahead: timedelta = timedelta(minutes=60)

    def tolerance(self, period: int) -> timedelta:
        return self.tolerance_60 if period == 60 else self.tolerance_30


def parse_window(text: str) -> WindowSpec:
    words = " ".join(text.lower().split())
    if words in ("", "now"):
        return WindowSpec("now")
    if m := _AT.match(words):
        return WindowSpec("at", at_local=time(int(m.group(1)), int(m.group(2))))
    if m := _IN.match(words):
        delay = timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])
        return WindowSpec("now") if not delay else WindowSpec("in", delay=delay)
    raise InvalidInput(f"I don't understand the window `{printable(text, 30)}`. Use `now`, `at 14:30` or `in 10m`.")


def agent_zone(name: str | None) -> tzinfo:
    """The agent's IANA time zone from the activity, or UTC when absent or unknown."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone.utc


def zone_label(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or "UTC"


def resolve_instant(spec: WindowSpec, now: datetime, zone: tzinfo, policy: WindowPolicy) -> datetime:
    """The moment the user will type the code. Refuses moments Entra would reject or policy forbids."""
    if spec.kind == "now":
        return now
    if spec.kind == "in":
        instant = now + spec.delay
    else:
        local_now = now.astimezone(zone)
        instant = datetime.combine(local_now.date(), spec.at_local, tzinfo=zone).astimezone(timezone.utc)
        if instant + policy.tolerance_30 < now:
            if now - instant < timedelta(hours=12):
                raise WindowRefused(
                    f"{spec.at_local:%H:%M} ({zone_label(zone)}) has already passed: Entra would reject that code.",
                    "now",
                )
            instant += timedelta(days=1)  # e.g. `at 00:10` asked at 23:55 means tomorrow
    if instant - now > policy.max_ahead:
        limit = int(policy.max_ahead.total_seconds() // 60)
        raise WindowRefused(
            f"Codes can be released at most {limit} minutes ahead; `{spec.text}` is further away.",
            f"in {limit}m",
        )
    return instant


def plan_window(instant: datetime, now: datetime, period: int, policy: WindowPolicy) -> CodeWindow:
    start, end = step_start(instant, period), step_end(instant, period)
    accepted_until = end + policy.tolerance(period)
    if accepted_until - now < MIN_USABLE:
        raise WindowRefused("Entra would stop accepting that code within seconds.", "now")
    return CodeWindow(instant, start, end, accepted_until)


def _format_delay(delay: timedelta) -> str:
    seconds = int(delay.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def clock_text(at: datetime, zone: tzinfo, seconds: bool = True) -> str:
    return at.astimezone(zone).strftime("%H:%M:%S" if seconds else "%H:%M")
