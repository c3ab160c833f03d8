"""`code <upn> [window]`: verification dialog, then a private release.

Order matters: the audit record is written before a code is computed; any failure before
that leaves the verification usable again, any failure after it leaves it spent.
"""

from __future__ import annotations

from datetime import datetime

from ..core import audit_events as events
from ..core import verification as v
from ..core.commands import RequestCode
from ..core.errors import ConcurrencyConflict, UserError, VerificationError
from ..core.limits import RateLimited
from ..core.policy import AGENT
from ..core.proofs import LABELS, MANAGER_APPROVAL, SECOND_AGENT_APPROVAL
from ..core.verification import Verification, state_key
from ..core.views import ActionOutcome, RevealCard, Text, VerifyCard
from ..core.window import agent_zone, clock_text, resolve_instant
from . import release
from .context import Action, Services, Turn, require_role, write_together
from .token_records import find_person
from .notify import alert, request_manager_approval


async def request_code(s: Services, turn: Turn, command: RequestCode) -> list:
    zone = agent_zone(turn.timezone)
    now = s.clock.now()
    resolve_instant(command.window, now, zone, s.windows)  # refuse an impossible window before any dialog
    person = await find_person(s, command.upn)
    s.authorizer.require_not_self(turn.agent, person)
    if not person.enabled:  # a leaver, or a blocked sign-in: whoever is calling, they cannot sign in
        await s.audit.append(events.VERIFICATION_REFUSED, turn.agent.object_id, person.upn,
                             {"reason": "account_disabled"})
        await alert(s, f"Code requested for a disabled account: {turn.agent.display_name or turn.agent.object_id} "
                       f"asked for a code for {person.upn}. The request was refused.",
                    kind="account_disabled", target=person.object_id)
        raise VerificationError(
            f"The account of {person.display_name} is disabled in Entra, so no code can be released. If they have "
            f"left, revoke their token: `revoke {person.upn} left`."
        )
    if not person.phone_of_record:
        await s.audit.append(events.VERIFICATION_REFUSED, turn.agent.object_id, person.upn,
                             {"reason": "no_phone_of_record"})
        raise VerificationError(
            f"{person.display_name} has no phone number of record, so you cannot call them back. "
            "No code can be released; ask HR or IT to record a number first."
        )
    required = s.proofs.required(await s.authorizer.is_privileged(person))
    manager = None
    if MANAGER_APPROVAL in required:
        manager = await s.directory.find_by_upn(person.manager_upn) if person.manager_upn else None
        if manager is None or not manager.enabled or manager.object_id in (turn.agent.object_id, person.object_id):
            raise VerificationError(f"{person.display_name} needs manager approval, but has no manager of record "
                                    "who could approve. No code can be released.")
    await _count_attempt(s, turn, person.upn, person.object_id)
    record = Verification.start(turn.agent.object_id, person.upn, person.object_id, person.display_name,
                                person.phone_of_record, command.window, now, required,
                                manager.object_id if manager else None)
    # A new request replaces any open one of this agent here: changing the target invalidates it. The audit
    # record and the state go out together (one round trip): the card, the only way to reach the record, is
    # sent only when both are written, so either one alone is unreachable or merely records an attempt.
    key = state_key(turn.agent.tenant_id, turn.conversation_id, turn.agent.object_id)
    started = {"vid": record.vid, "window": command.window.text, "proofs": ",".join(required)}
    await write_together(s.audit.append(events.VERIFICATION_STARTED, turn.agent.object_id, person.upn, started),
                         s.state.write({key: {**record.to_dict(), "e_tag": "*"}}))
    replies: list = [verify_card(record, zone, manager_name=manager.display_name if manager else None)]
    if manager:
        replies += await request_manager_approval(s, turn, record, manager)
    return replies


async def _count_attempt(s: Services, turn: Turn, upn: str, target_oid: str) -> None:
    try:
        await s.limits.count_attempt(s.coordination, turn.agent.object_id, target_oid)
    except RateLimited as limited:
        await s.audit.append(events.RATE_LIMITED, turn.agent.object_id, upn, {"scope": limited.scope})
        await alert(s, f"Rate limit ({limited.scope}) hit: {turn.agent.display_name or turn.agent.object_id} "
                       f"asked for a code for {upn}. The request was refused.",
                    kind=f"rate_limited/{limited.scope}", target=turn.agent.object_id)
        raise


async def cancel_typed(s: Services, turn: Turn, command) -> list:
    key = state_key(turn.agent.tenant_id, turn.conversation_id, turn.agent.object_id)
    found = (await s.state.read([key])).get(key)
    if not found or Verification.from_dict(found).status not in (v.PENDING, v.VERIFIED):
        return [Text("You have no open verification in this conversation.")]
    record = Verification.from_dict(found)
    await save(s, key, record.with_status(v.CANCELLED), found.get("e_tag"))
    await s.audit.append(events.VERIFICATION_CANCELLED, turn.agent.object_id, record.target_upn, {"vid": record.vid})
    return [Text(f"Cancelled the verification for {record.target_name}. Nothing was released.")]


async def verify(s: Services, action: Action) -> ActionOutcome:
    key, record, etag = await load(s, action)
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), v.PENDING)
    if v.CALLBACK in record.done:
        raise VerificationError("This step was already done.")
    zone = agent_zone(action.timezone)
    called_back = str(action.data.get("calledBack", "")).lower() == "true"
    try:
        passed = record.verified(str(action.data.get("ticket", "")), called_back)
    except UserError as error:
        return ActionOutcome(verify_card(record, zone, error=error.message))
    await s.audit.append(events.VERIFICATION_PASSED, action.agent.object_id, record.target_upn,
                         {"vid": record.vid, "ticket": passed.ticket, "proofs": v.CALLBACK})
    await save(s, key, passed, etag)
    return ActionOutcome(reveal_card(passed))


async def reveal(s: Services, action: Action) -> ActionOutcome:
    await require_role(s, action.agent, AGENT, "reveal", fresh=True)  # membership may have changed meanwhile
    key, record, etag = await load(s, action)
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), v.VERIFIED)
    return await release.release(s, action, key, record, etag)


async def refresh(s: Services, action: Action) -> ActionOutcome:
    """Teams asks for the requester's current view whenever the card is shown again: it never
    carries the code, and once Entra would reject the code the view says so."""
    requester = action.data.get("requester")
    if requester and requester != action.agent.object_id:
        raise VerificationError("This verification belongs to another agent; only they can continue it.")
    key = state_key(action.agent.tenant_id, action.conversation_id, action.agent.object_id)
    found = (await s.state.read([key])).get(key)
    record = Verification.from_dict(found) if found else None
    if record is None or record.vid != str(action.data.get("vid", "")):
        return ActionOutcome(Text("This request was replaced or has ended."))
    now, zone = s.clock.now(), agent_zone(action.timezone)
    if record.status == v.RELEASED and record.accepted_until:
        until = datetime.fromisoformat(record.accepted_until)
        if now >= until:
            return ActionOutcome(Text(f"Expired: the code released for {record.target_name} is no longer accepted "
                                      "by Entra."))
        return ActionOutcome(Text(f"A code for {record.target_name} was shown to you once; it is not shown again. "
                                  f"Entra accepts it until {clock_text(until, zone)}."))
    if record.status in (v.RELEASING, v.RELEASED):
        return ActionOutcome(Text(f"A code for {record.target_name} was released."))
    if record.status == v.CANCELLED:
        return ActionOutcome(Text(f"Cancelled the verification for {record.target_name}. Nothing was released."))
    if now >= record.expires_at():
        return ActionOutcome(Text("This verification expired after 10 minutes. Start again with `code <upn>`."))
    if v.CALLBACK in record.done:
        return ActionOutcome(reveal_card(record))
    return ActionOutcome(verify_card(record, zone))


async def cancel_action(s: Services, action: Action) -> ActionOutcome:
    key, record, etag = await load(s, action)
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), record.status)
    await save(s, key, record.with_status(v.CANCELLED), etag)
    await s.audit.append(events.VERIFICATION_CANCELLED, action.agent.object_id, record.target_upn, {"vid": record.vid})
    return ActionOutcome(Text(f"Cancelled the verification for {record.target_name}. Nothing was released."))


async def load(s: Services, action: Action, owner: str | None = None,
               conversation: str | None = None) -> tuple[str, Verification, str | None]:
    """The verification of `owner` (default: the invoker) in `conversation` (default: this one)."""
    requester = action.data.get("requester")
    if owner is None:
        if requester and requester != action.agent.object_id:  # a courtesy message: the key is what protects
            raise VerificationError("This verification belongs to another agent; only they can continue it.")
        owner = action.agent.object_id
    conversation = conversation or action.conversation_id
    key = state_key(action.agent.tenant_id, conversation, owner)
    found = (await s.state.read([key])).get(key)
    if not found:
        raise VerificationError("There is no open verification for this card. Start with `code <upn>`.")
    return key, Verification.from_dict(found), found.get("e_tag")


async def save(s: Services, key: str, record: Verification, etag: str | None) -> None:
    try:
        await s.state.write({key: {**record.to_dict(), "e_tag": etag or "*"}})
    except ConcurrencyConflict:
        raise VerificationError("This verification changed meanwhile (used, cancelled or approved). "
                                "Look at the latest card, or start again with `code <upn>`.") from None


def verify_card(record: Verification, zone, manager_name: str | None = None, error: str | None = None) -> VerifyCard:
    return VerifyCard(record.vid, record.target_name, record.target_upn, record.phone_hint, record.window.text,
                      clock_text(record.expires_at(), zone, seconds=False), record.agent_oid, record.proofs_text(),
                      SECOND_AGENT_APPROVAL in record.required, manager_name, error)


def reveal_card(record: Verification) -> RevealCard:
    waiting = ", ".join(LABELS[p] for p in record.missing()) or None
    return RevealCard(record.vid, record.target_name, record.target_upn, record.window.text, record.agent_oid, waiting)

