"""`audit <upn> [since]`: the release history of one user, for leads."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from ..core import audit_events as events
from ..core.commands import ShowAudit
from ..core.policy import LEAD
from ..core.text import escape_markdown
from ..core.views import AuditCard, AuditRow
from .context import Services, Turn, require_role

SHOWN = ("details", "vid", "ticket", "proofs", "approvers", "window", "reason", "scope", "proof", "requester")
MAX_ROWS = 50


async def show_audit(s: Services, turn: Turn, command: ShowAudit) -> list:
    await require_role(s, turn.agent, LEAD, "ShowAudit", target=command.upn)
    since = _since(command.since, s.clock.now())
    records = await s.audit.records_for(command.upn, since, MAX_ROWS)  # that user's records only, via an index
    await s.audit.append(events.AUDIT_VIEWED, turn.agent.object_id, command.upn, {"since": since.isoformat()})
    names: dict[str, str] = {}
    rows = []
    for record in records:
        if record.actor not in names:
            person = await s.directory.find_by_object_id(record.actor)
            names[record.actor] = person.display_name if person else record.actor
        summary = ", ".join(f"{k}: {escape_markdown(str(record.details[k]))}" for k in SHOWN if record.details.get(k))
        rows.append(AuditRow(f"{record.at:%Y-%m-%d %H:%M:%S}", record.event, names[record.actor], summary))
    return [AuditCard(command.upn, f"{since:%Y-%m-%d %H:%M} UTC", tuple(rows))]


def _since(value, now: datetime) -> datetime:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    return now - value
