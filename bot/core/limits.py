"""Rate limits on verification attempts. Failed and abandoned attempts count, so guessing costs."""

from __future__ import annotations

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

    def describe(self) -> str:
        hours = self.window_s / 3600
        span = f"{int(hours)} hour{'s' if hours != 1 else ''}" if hours >= 1 else f"{self.window_s // 60} minutes"
        return f"{self.count} per {span}"


@dataclass(frozen=True)
class RateLimits:
    per_agent: Limit = Limit(10, 3600)
    per_target: Limit = Limit(3, 24 * 3600)
    overall: Limit = Limit(60, 3600)

    async def count_attempt(self, coordination, agent_oid: str, target_oid: str) -> None:
        """Counts one attempt against every limit, then refuses if any is exceeded."""
        checks = (
            ("agent", f"rate/agent/{agent_oid}", self.per_agent,
             "You have reached your limit of {limit} code requests. Wait, or ask a lead."),
            ("target", f"rate/target/{target_oid}", self.per_target,
             "This user has reached the limit of {limit} code requests. Ask a lead to review it."),
            ("global", "rate/global", self.overall,
             "The helpdesk has reached its overall limit of {limit} code requests. Ask a lead to review it."),
        )
        for scope, key, limit, message in checks:
            if await coordination.count(key, limit.window_s) > limit.count:
                raise RateLimited(message.format(limit=limit.describe()), scope)
