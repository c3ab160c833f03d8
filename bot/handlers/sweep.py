"""The daily sweeper: disable seeds past their maximum age, remind the helpdesk once per overdue token.

Safe with several instances: a sweep runs only under the `lease/sweeper` claim, and what it does is idempotent
(a disabled seed is never disabled again; `reminded_at` in the token's record means one reminder per token).
Runs in process (runtime/sweep_schedule.start_sweeper, from app.py's cleanup context) and once from the CLI (`otpbot sweep`).
Reads only metadata, never a seed's value.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime

from ..core import audit_events as events
from ..core.errors import ConcurrencyConflict, DeliveryFailed, UserError
from ..core.lifecycle import TokenRecord, sweep_plan
from ..core.models import TokenStatus
from ..core.views import Text
from .context import Services
from .token_records import describe_last_event, destroy_seed, token_records, update_record

log = logging.getLogger("otpbot.sweeper")
LEASE_KEY = "lease/sweeper"
LEASE_TTL_S = 15 * 60  # far longer than a sweep; a crashed holder blocks the next one for at most this long
ACTOR = "otpbot-sweeper"
TASK_NAME = "sweeper"


@dataclass
class SweepReport:
    skipped: bool = False  # another instance holds the lease
    checked: int = 0
    disabled: list[str] = field(default_factory=list)  # UPNs
    destroyed: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return "Another instance is sweeping right now (it holds the sweeper lease); nothing was done."
        failed = f", {len(self.failed)} failed ({', '.join(self.failed)})" if self.failed else ""
        destroyed = f", destroyed {len(self.destroyed)} revoked seeds" if self.destroyed else ""
        return (f"Checked {self.checked} tokens: disabled {len(self.disabled)} seeds{destroyed}, posted "
                f"{len(self.reminded)} reminders{failed}.")


def instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def sweep_once(s: Services, instance: str) -> SweepReport:
    if not await s.coordination.claim(LEASE_KEY, instance, LEASE_TTL_S):
        return SweepReport(skipped=True)
    try:
        return await _sweep(s)
    finally:
        await s.coordination.release(LEASE_KEY, instance)


async def _sweep(s: Services) -> SweepReport:
    now = s.clock.now()
    tokens, records = await token_records(s)
    reminded = {oid for oid, record in records.items() if record.get("reminded_at")}
    plan = sweep_plan(tokens, now, s.max_seed_age, s.overdue_after, reminded)
    by_id = {token.object_id: token for token in tokens}
    report = SweepReport(checked=len(tokens))
    for object_id in plan.disable:
        token = by_id[object_id]
        try:
            await _disable(s, token, now)
            report.disabled.append(token.upn)
        except UserError as error:  # one token's trouble must not stop the sweep
            log.warning("sweeper could not disable a seed: %s", type(error).__name__)
            report.failed.append(token.upn)
    for token in tokens:
        revoked_at = records.get(token.object_id, {}).get("revoked_at")
        if token.status is TokenStatus.REVOKED and revoked_at and \
                now - datetime.fromisoformat(revoked_at) >= s.revoked_retention:
            try:
                await _destroy_revoked(s, token)
                report.destroyed.append(token.upn)
            except UserError as error:
                log.warning("sweeper could not destroy a revoked seed: %s", type(error).__name__)
                report.failed.append(token.upn)
    conversation = s.helpdesk_conversation or s.alerts_conversation
    if plan.remind and not conversation:
        log.warning("%d overdue tokens, but no helpdesk conversation is configured for reminders", len(plan.remind))
        return report
    for object_id in plan.remind:
        token = by_id[object_id]
        try:
            await s.notifier.to_conversation(conversation, Text(reminder(token, now)))
        except DeliveryFailed:  # not recorded as reminded: tomorrow's sweep tries again (no code in it)
            report.failed.append(token.upn)
            continue
        try:  # posted: the record first, then the state that stops tomorrow's reminder
            await s.audit.append(events.SWEEPER_REMINDED, ACTOR, token.upn,
                                 {"status": token.status.value, "age_days": str((now - token.burned_at).days)})
            await update_record(s, object_id, reminded_at=now)
        except (UserError, ConcurrencyConflict) as error:
            log.warning("sweeper could not record a reminder: %s", type(error).__name__)
            report.failed.append(token.upn)
            continue
        report.reminded.append(token.upn)
    return report


async def _disable(s: Services, token: TokenRecord, now) -> None:
    expired = token.expires_at is not None and token.expires_at <= now
    await s.audit.append(events.SWEEPER_DISABLED, ACTOR, token.upn, {
        "status": token.status.value, "age_days": str((now - token.burned_at).days),
        "reason": "expired" if expired else "max_age"})
    await s.secrets.disable(token.object_id)
    await update_record(s, token.object_id, disabled_at=now)


async def _destroy_revoked(s: Services, token: TokenRecord) -> None:
    """A revoked token is lost or its user has left: once the undo period is over, its seed has no purpose."""
    await destroy_seed(s, ACTOR, token.upn, token.object_id, {"reason": "revoked"})


def reminder(token: TokenRecord, now) -> str:
    days = (now - token.burned_at).days
    return (f"Overdue token: {token.upn}, burned {days} days ago and not delivered yet ({describe_last_event(token)})."
            f" If it has arrived, a lead marks it `delivered {token.upn}`; if it is lost, `revoke {token.upn} lost`.")
