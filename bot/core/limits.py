"""Rate limits on verification attempts. Failed and abandoned attempts count, so guessing costs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .errors import NotAllowed


class RateLimited(NotAllowed):
    def __init__(self, message: str, scope: str) -> None:
        super().__init__(message)
        self.scope = scope


@dataclass(frozen=True)
class Limit:
    count: int
    window_s: int

    def describe(self, noun: str = "code request") -> str:
        """'10 code requests per hour', '3 code requests per 24 hours', '5 code requests per 10 minutes'."""
        if self.window_s == 3600:
            span = "hour"
        elif self.window_s % 3600 == 0:
            span = f"{self.window_s // 3600} hours"
        else:
            span = f"{self.window_s // 60} minutes" if self.window_s >= 60 else f"{self.window_s} seconds"
        return f"{self.count} {noun}{'s' if self.count != 1 else ''} per {span}"


@dataclass(frozen=True)
class RateLimits:
    per_agent: Limit = Limit(10, 3600)
    per_target: Limit = Limit(3, 24 * 3600)
    overall: Limit = Limit(60, 3600)
    sms_per_target: Limit = Limit(6, 24 * 3600)  # texts to one mobile: SMS pumping, and a victim's phone
    sms_per_agent: Limit = Limit(20, 3600)

    async def count_attempt(self, coordination, agent_oid: str, target_oid: str) -> None:
        """Counts one attempt against every limit, then refuses if any is exceeded (the first, in this order).
        The three counts are independent writes, so they go out together: one round trip (one group
        commit on SQLite) instead of three in a row."""
        checks = (
            ("agent", f"rate/agent/{agent_oid}", self.per_agent,
             "You have reached your limit of {limit}. Wait, or ask a lead."),
            ("target", f"rate/target/{target_oid}", self.per_target,
             "This user has reached the limit of {limit}. Ask a lead to review it."),
            ("global", "rate/global", self.overall,
             "The helpdesk has reached its overall limit of {limit}. Ask a lead to review it."),
        )
        totals = await asyncio.gather(*(coordination.count(key, limit.window_s) for _, key, limit, _ in checks))
        for (scope, _, limit, message), total in zip(checks, totals):
            if total > limit.count:
                raise RateLimited(message.format(limit=limit.describe()), scope)

    async def count_sms(self, coordination, agent_oid: str, target_oid: str) -> None:
        """Counts one text against the per-target and per-agent SMS limits, then refuses if either is exceeded."""
        checks = (
            ("sms_target", f"rate/sms-target/{target_oid}", self.sms_per_target,
             "This user has been sent {limit}; no more codes are texted to them for now. Ask a lead to review it."),
            ("sms_agent", f"rate/sms-agent/{agent_oid}", self.sms_per_agent,
             "You have sent {limit}; wait before texting more codes, or ask a lead."),
        )
        totals = await asyncio.gather(*(coordination.count(key, limit.window_s) for _, key, limit, _ in checks))
        for (scope, _, limit, message), total in zip(checks, totals):
            if total > limit.count:
                raise RateLimited(message.format(limit=limit.describe(noun="text")), scope)
