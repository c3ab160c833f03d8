"""Approvals count only as card actions by the approver's own object id; never as message text.

Each approval runs as one verification step (handlers/code.step): a click that loses a race is refused and
audited as refused. The approver is re-checked enabled in the directory at the moment they approve.
"""

from __future__ import annotations

from ..core import audit_events as events
from ..core import verification as v
from ..core.errors import NotAllowed, VerificationError
from ..core.proofs import LABELS, MANAGER_APPROVAL, SECOND_AGENT_APPROVAL
from ..core.verify_view import reveal_view
from ..core.views import ActionOutcome, Text
from .code import step, save
from .context import Action, Services
from .notify import alert, tell_requester


async def approve_as_second_agent(s: Services, action: Action) -> ActionOutcome:
    requester = str(action.data.get("requester", ""))
    if requester == action.agent.object_id:
        await _refused(s, action, "self_approval")
        raise NotAllowed("You cannot approve your own request; another agent must approve it.")
    # From the helpdesk channel, for a request made in personal chat, the card names the requester's chat.
    conversation = str(action.data.get("conversation", "")) or None
    async with step(s, action, owner=requester, conversation=conversation,
                    refused_event=events.APPROVAL_REFUSED) as (key, record, etag):
        if action.agent.object_id == record.target_oid:  # an agent asked a code for another agent: not them
            await _refused(s, action, "target_approval", record.target_upn)
            raise NotAllowed("You cannot approve a code request for your own account; another agent must approve it.")
        record.check_open(str(action.data.get("vid", "")), s.clock.now())
        await _require_enabled(s, action, record, "approver_disabled")
        approved = await _with_approval(s, action, record, SECOND_AGENT_APPROVAL)
        await s.audit.append(events.APPROVAL_GRANTED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "proof": SECOND_AGENT_APPROVAL, "requester": requester})
        await save(s, key, approved, etag)
    who = action.agent.display_name or "An agent"
    told = f"{who} approved the code request for {record.target_name} as second agent."
    if record.conversation_id and record.conversation_id != action.conversation_id:
        await tell_requester(s, approved, Text(told + _next_step(approved)))
        if approved.requester_done:
            await tell_requester(s, approved, reveal_view(approved))
        return ActionOutcome(Text(f"You approved the request for {record.target_name} as the second agent. "
                                  "The requester has been told."))
    return ActionOutcome(Text(f"You approved the request for {record.target_name} as the second agent."), (told,))


async def approve_as_manager(s: Services, action: Action) -> ActionOutcome:
    return await _manager_decision(s, action, approve=True)


async def deny_as_manager(s: Services, action: Action) -> ActionOutcome:
    return await _manager_decision(s, action, approve=False)


async def _manager_decision(s: Services, action: Action, approve: bool) -> ActionOutcome:
    requester = str(action.data.get("requester", ""))
    conversation = str(action.data.get("conversation", ""))
    async with step(s, action, owner=requester, conversation=conversation,
                    refused_event=events.APPROVAL_REFUSED) as (key, record, etag):
        if action.agent.object_id != record.manager_oid:
            await _refused(s, action, "not_the_manager_of_record", record.target_upn)
            raise NotAllowed(f"Only {record.target_name}'s manager of record can answer this request.")
        record.check_open(str(action.data.get("vid", "")), s.clock.now())
        await _require_enabled(s, action, record, "manager_disabled")
        details = {"vid": record.vid, "proof": MANAGER_APPROVAL, "requester": requester}
        if not approve:
            await s.audit.append(events.APPROVAL_DENIED, action.agent.object_id, record.target_upn, details)
            await save(s, key, record.with_status(v.CANCELLED), etag)
        else:
            approved = await _with_approval(s, action, record, MANAGER_APPROVAL)
            await s.audit.append(events.APPROVAL_GRANTED, action.agent.object_id, record.target_upn, details)
            await save(s, key, approved, etag)
    manager = record.manager_name or "The manager of record"
    if not approve:
        await alert(s, f"Manager denied a code request for {record.target_upn} (requested by {requester}).")
        await tell_requester(s, record, Text(f"{manager} denied the code request for {record.target_name}. No code "
                                             "will be released; security has been told."))
        return ActionOutcome(Text("You denied the request. No code will be released; security has been told."))
    await tell_requester(s, approved, Text(f"{manager} approved the code request for {record.target_name}."
                                           + _next_step(approved)))
    return ActionOutcome(Text(f"Thank you. You approved the helpdesk's request for {record.target_name}."))


def _next_step(record) -> str:
    if record.status == v.VERIFIED:
        return " Press Show code on your card when you are ready."
    return f" Still waiting for: {', '.join(LABELS[p] for p in record.missing())}."


async def _with_approval(s: Services, action: Action, record, proof: str):
    """A click that comes after the approval was given (or is not needed) is refused, and audited as refused."""
    try:
        return record.with_proof(proof, action.agent.object_id)
    except VerificationError as error:
        await _refused(s, action, "already_given" if proof in record.done else "not_needed", record.target_upn)
        raise error


async def _require_enabled(s: Services, action: Action, record, reason: str) -> None:
    """An approver disabled (or removed) since the request cannot approve it."""
    person = await s.directory.find_by_object_id(action.agent.object_id)
    if person is None or not person.enabled:
        await _refused(s, action, reason, record.target_upn)
        raise NotAllowed("Your account is not enabled in the directory, so your approval cannot count.")


async def _refused(s: Services, action: Action, reason: str, target: str = "") -> None:
    await s.audit.append(events.APPROVAL_REFUSED, action.agent.object_id, target,
                         {"reason": reason, "vid": str(action.data.get("vid", ""))[:40]})
