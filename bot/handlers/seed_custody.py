"""Four eyes on seeds: who may store a seed for whom.

Storing a seed lets whoever knows it compute codes later, so an agent must not be able to plant one they know.
- Nobody enrolls a seed for their own account.
- A seed for a user with any token history (a seed in the vault in any state, or a token record: revoked,
  destroyed, replaced), for an agent, a lead or a privileged target, or one that replaces an active seed, needs
  a lead: a lead enrolls it, or a lead approves the agent's request by pressing Approve on the card posted to
  the alerts channel (their own identity, never the requester's or the target's). The approval is single-use and
  lasts 30 minutes; it is taken before the seed is stored.
Both identities are audited (token.enrolled: actor and approved_by) and the alerts channel is told.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..core import audit_events as events
from ..core.errors import NotAllowed, SeedNotFound
from ..core.models import Agent, Person, TokenStatus
from ..core.policy import LEAD
from ..core.views import ActionOutcome, EnrollApprovalCard, Text
from .context import Action, Services, require_role
from .notify import alert
from .token_records import find_person, read_record

APPROVAL_TTL = timedelta(minutes=30)
SELF_ENROLL = "Nobody enrolls a seed for their own account, so nothing was saved. Ask another agent."
NEEDS_LEAD = ("A seed for {name} needs a lead ({why}), so nothing was saved. A lead can enroll it, or approve your "
              "request on the card I posted to the alerts channel; then save again.")
NEEDS_LEAD_NO_CHANNEL = ("A seed for {name} needs a lead ({why}), so nothing was saved. Ask a lead to enroll it.")
_WHY = {"history": "the user has token history", "privileged": "the user is an agent, a lead or privileged",
        "replace": "it replaces an active seed"}


def approval_key(requester: str, target_oid: str) -> str:
    return f"enroll-approval/{requester}/{target_oid}"


async def four_eyes_reasons(s: Services, person: Person, previous: TokenStatus | None) -> list[str]:
    reasons = []
    if previous is not None or await read_record(s, person.object_id):
        reasons.append("history")
    if await s.authorizer.is_privileged(person):
        reasons.append("privileged")
    if previous in (TokenStatus.BURNED, TokenStatus.SHIPPED, TokenStatus.DELIVERED):
        reasons.append("replace")
    return reasons


async def require_custody(s: Services, agent: Agent, person: Person, reasons: list[str], details: dict) -> str:
    """Returns who approved ("" when no second person was needed, the lead's own id when a lead enrolls); raises
    NotAllowed (audited as token.enroll_refused) otherwise. A pending approval is taken (single use)."""
    if agent.object_id == person.object_id:
        await s.audit.append(events.TOKEN_ENROLL_REFUSED, agent.object_id, person.upn,
                             {**details, "reason": "self_enroll"})
        raise NotAllowed(SELF_ENROLL)
    if not reasons:
        return ""
    if LEAD in await s.authorizer.roles(agent.object_id, fresh=True):
        return agent.object_id
    approver = await _take_approval(s, agent.object_id, person.object_id)
    if approver:
        return approver
    why = ", ".join(_WHY[r] for r in reasons)
    await s.audit.append(events.TOKEN_ENROLL_REFUSED, agent.object_id, person.upn,
                         {**details, "reason": "needs_lead", "four_eyes": ",".join(reasons)})
    if not s.alerts_conversation:
        raise NotAllowed(NEEDS_LEAD_NO_CHANNEL.format(name=person.display_name, why=why))
    card = EnrollApprovalCard(person.display_name, person.upn, agent.object_id, agent.display_name or "An agent", why)
    try:
        await s.notifier.to_conversation(s.alerts_conversation, card)
    except Exception as error:  # the refusal stands either way
        s.log.error("enroll approval request not posted: %s", type(error).__name__)
    raise NotAllowed(NEEDS_LEAD.format(name=person.display_name, why=why))


async def approve_enroll(s: Services, action: Action) -> ActionOutcome:
    """The lead's Approve on the card in the alerts channel: counted only as their own card action."""
    requester = str(action.data.get("requester", ""))
    person = await find_person(s, str(action.data.get("upn", "")))
    await require_role(s, action.agent, LEAD, "approve_enroll", target=person.upn, fresh=True,
                       refusal="Only helpdesk leads can approve storing a seed.")
    if action.agent.object_id in (requester, person.object_id):
        await s.audit.append(events.APPROVAL_REFUSED, action.agent.object_id, person.upn,
                             {"reason": "self_approval", "proof": "lead_enroll"})
        raise NotAllowed("You cannot approve a seed you asked to store, or one for your own account.")
    now = s.clock.now()
    await s.audit.append(events.APPROVAL_GRANTED, action.agent.object_id, person.upn,
                         {"proof": "lead_enroll", "requester": requester})
    await s.state.write({approval_key(requester, person.object_id): {
        "approved_by": action.agent.object_id, "at": now.isoformat(), "e_tag": "*"}})
    return ActionOutcome(Text(f"You approved storing a seed for {person.display_name} ({person.upn}). The "
                              "requesting agent can save it within 30 minutes, once."))


async def announce(s: Services, agent: Agent, person: Person, approver: str, reasons: list[str]) -> None:
    if not reasons:
        return
    who = agent.display_name or agent.object_id
    by = "themselves a lead" if approver == agent.object_id else f"approved by lead {approver}"
    await alert(s, f"{who} stored a seed for {person.upn} ({', '.join(_WHY[r] for r in reasons)}), {by}.")


async def _take_approval(s: Services, requester: str, target_oid: str) -> str:
    key = approval_key(requester, target_oid)
    found = (await s.state.read([key])).get(key)
    if not found:
        return ""
    await s.state.delete([key])
    if s.clock.now() - datetime.fromisoformat(found["at"]) >= APPROVAL_TTL:
        return ""
    return str(found.get("approved_by", ""))
