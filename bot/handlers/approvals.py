"""Approvals count only as card actions by the approver's own object id; never as message text."""

from __future__ import annotations

from ..core import audit_events as events
from ..core import verification as v
from ..core.errors import NotAllowed
from ..core.proofs import MANAGER_APPROVAL, SECOND_AGENT_APPROVAL
from ..core.views import ActionOutcome, Text
from .code import load, save
from .context import Action, Services
from .notify import alert


async def approve_as_second_agent(s: Services, action: Action) -> ActionOutcome:
    requester = str(action.data.get("requester", ""))
    if requester == action.agent.object_id:
        await _refused(s, action, "self_approval")
        raise NotAllowed("You cannot approve your own request; another agent must approve it.")
    key, record, etag = await load(s, action, owner=requester)
    if action.agent.object_id == record.target_oid:  # an agent asked a code for another agent: not them
        await _refused(s, action, "target_approval", record.target_upn)
        raise NotAllowed("You cannot approve a code request for your own account; another agent must approve it.")
    record.check_open(str(action.data.get("vid", "")), s.clock.now())
    approved = record.with_proof(SECOND_AGENT_APPROVAL, action.agent.object_id)
    await s.audit.append(events.APPROVAL_GRANTED, action.agent.object_id, record.target_upn,
                         {"vid": record.vid, "proof": SECOND_AGENT_APPROVAL, "requester": requester})
    await save(s, key, approved, etag)
    who = action.agent.display_name or "An agent"
    return ActionOutcome(Text(f"You approved the request for {record.target_name} as the second agent."),
                         (f"{who} approved the code request for {record.target_name} as second agent.",))


async def approve_as_manager(s: Services, action: Action) -> ActionOutcome:
    return await _manager_decision(s, action, approve=True)


async def deny_as_manager(s: Services, action: Action) -> ActionOutcome:
    return await _manager_decision(s, action, approve=False)


async def _manager_decision(s: Services, action: Action, approve: bool) -> ActionOutcome:
    requester = str(action.data.get("requester", ""))
    conversation = str(action.data.get("conversation", ""))
    key, record, etag = await load(s, action, owner=requester, conversation=conversation)
    if action.agent.object_id != record.manager_oid:
        await _refused(s, action, "not_the_manager_of_record", record.target_upn)
        raise NotAllowed(f"Only {record.target_name}'s manager of record can answer this request.")
    record.check_open(str(action.data.get("vid", "")), s.clock.now())
    if not approve:
        await s.audit.append(events.APPROVAL_DENIED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "proof": MANAGER_APPROVAL, "requester": requester})
        await save(s, key, record.with_status(v.CANCELLED), etag)
        await alert(s, f"Manager denied a code request for {record.target_upn} (requested by {requester}).")
        return ActionOutcome(Text("You denied the request. No code will be released; security has been told."))
    approved = record.with_proof(MANAGER_APPROVAL, action.agent.object_id)
    await s.audit.append(events.APPROVAL_GRANTED, action.agent.object_id, record.target_upn,
                         {"vid": record.vid, "proof": MANAGER_APPROVAL, "requester": requester})
    await save(s, key, approved, etag)
    return ActionOutcome(Text(f"Thank you. You approved the helpdesk's request for {record.target_name}."))


async def _refused(s: Services, action: Action, reason: str, target: str = "") -> None:
    await s.audit.append(events.APPROVAL_REFUSED, action.agent.object_id, target,
                         {"reason": reason, "vid": str(action.data.get("vid", ""))[:40]})
