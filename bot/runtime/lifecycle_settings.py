"""Token lifecycle settings, read once from the environment (see Settings for the rest).

    OTPBOT_OVERDUE_DAYS               `pending` flags, and the sweeper reminds about, tokens burned longer ago (30)
    OTPBOT_MAX_SEED_AGE_DAYS          the sweeper disables seeds not delivered within this many days (45)
    OTPBOT_HELPDESK_CONVERSATION_ID   where reminders go (default: OTPBOT_ALERTS_CHANNEL_ID)
    OTPBOT_REVOKED_RETENTION_DAYS     the sweeper destroys a revoked token's seed this many days after revoke (7)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping

from ..core.errors import ConfigurationError

DAY = timedelta(days=1)


@dataclass(frozen=True)
class LifecycleSettings:
    overdue_after: timedelta = 30 * DAY
    max_seed_age: timedelta = 45 * DAY
    helpdesk_conversation_id: str = ""
    revoked_retention: timedelta = 7 * DAY  # time to undo a mistaken revoke before the seed is destroyed
    sweep_every: timedelta = DAY
    first_sweep_after: timedelta = timedelta(minutes=5)  # let a new instance settle before it sweeps

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "LifecycleSettings":
        return cls(overdue_after=_days(env, "OTPBOT_OVERDUE_DAYS", 30),
                   max_seed_age=_days(env, "OTPBOT_MAX_SEED_AGE_DAYS", 45),
                   helpdesk_conversation_id=(env.get("OTPBOT_HELPDESK_CONVERSATION_ID") or "").strip(),
                   revoked_retention=_days(env, "OTPBOT_REVOKED_RETENTION_DAYS", 7))

    def apply(self, services) -> None:
        services.overdue_after = self.overdue_after
        services.max_seed_age = self.max_seed_age
        services.helpdesk_conversation = self.helpdesk_conversation_id or None
        services.revoked_retention = self.revoked_retention


def _days(env: Mapping[str, str], name: str, default: int) -> timedelta:
    raw = (env.get(name) or str(default)).strip()
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 365:
        raise ConfigurationError(
            f"Refusing to start: {name} must be a whole number of days from 1 to 365, not {raw!r}.")
    return int(raw) * DAY
