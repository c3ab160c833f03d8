"""The bot's checkpointer: every minute, the audit trail's head is published to the checkpoint store, but only
if the trail still holds the last checkpoint's record. A trail cut short or rewritten is never covered again:
the bot says so in its log and in the alerts channel, and `otpbot audit verify` fails."""

from __future__ import annotations

from ..core import audit_events as events
from ..core.audit_checkpoint import Checkpoint, CheckpointTampered, next_checkpoint
from .context import Services, append_best_effort
from .notify import alert

INTERVAL_S = 60.0
TAMPERED = ("The audit trail no longer matches its last checkpoint (records were deleted or rewritten). No new "
            "checkpoint is published until security has looked: run `otpbot audit verify`.")


async def checkpoint(s: Services) -> Checkpoint | None:
    if s.checkpoints is None:
        return None
    try:
        last = await s.checkpoints.latest()
        records = await s.audit.records(last.record_at if last else None)
        made = next_checkpoint(last, records, s.clock.now())
    except CheckpointTampered:
        s.log.error("audit trail does not match its checkpoint; no checkpoint published")
        await append_best_effort(s, events.AUDIT_TAMPERED, "otpbot", "", {"check": "checkpoint"})
        await alert(s, TAMPERED, kind=events.AUDIT_TAMPERED, target="audit")
        raise
    if made is not None:
        await s.checkpoints.publish(made)
    return made
