"""`code <upn> [window]`: verification dialog, then a private release.

Order matters: everything that can refuse without a dialog (window, target, token) refuses before the dialog
starts and before an attempt is counted; the audit record is written before a code is computed; any failure
before that leaves the verification usable again, any failure after it leaves it spent.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime

from ..core import audit_events as events
from ..core import verification as v
from ..core.commands import RequestCode
from ..core.errors import ConcurrencyConflict, SeedNotFound, SeedUnusable, UserError, VerificationError
from ..core.limits import RateLimited
from ..core.phone_code import e164
from ..core.policy import AGENT
from ..core.proofs import DECLARATIONS, NEEDS_MANAGER, NEEDS_PHONE, SECOND_AGENT_APPROVAL
from ..core.verification import Verification, state_key
from ..core.verify_view import requester_view
from ..core.views import ActionOutcome, Text
from ..core.window import agent_zone, clock_text, resolve_instant
from . import proof_steps, release
from .context import Action, Services, Turn, append_best_effort, require_role, write_together
from .notify import alert, request_manager_approval, request_second_agent
from .token_records import find_person

STEP_LOCK_TTL_S = 20
BUSY = "Another action on this verification is being handled right now. Look at the latest card."


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
    await _require_token(s, turn, person, now)  # a refusal here costs no attempt and no phone call
    mobile = e164(person.mobile)
    required = s.proofs.required(await s.authorizer.is_privileged(person), has_mobile=mobile is not None)
    manager = await _check_needs(s, turn, person, required)
    await _count_attempt(s, turn, person.upn, person.object_id)
    personal = turn.place.conversation_type == "personal"
    record = Verification.start(turn.agent.object_id, person.upn, person.object_id, person.display_name,
                                person.phone_of_record, command.window, now, required,
                                manager.object_id if manager else None, conversation_id=turn.conversation_id,
                                timezone=turn.timezone, mobile=person.mobile,
                                manager_name=manager.display_name if manager else None, personal=personal)
    # A new request replaces any open one of this agent here: changing the target invalidates it. The audit
    # record and the state go out together (one round trip): the card, the only way to reach the record, is
    # sent only when both are written, so either one alone is unreachable or merely records an attempt.
    key = state_key(turn.agent.tenant_id, turn.conversation_id, turn.agent.object_id)
    started = {"vid": record.vid, "window": command.window.text, "proofs": ",".join(required)}
    await write_together(s.audit.append(events.VERIFICATION_STARTED, turn.agent.object_id, person.upn, started),
                         s.state.write({key: {**record.to_dict(), "e_tag": "*"}}))
    replies: list = [requester_view(record, zone)]
    if manager:
        replies += await request_manager_approval(s, turn, record, manager)
    if personal and SECOND_AGENT_APPROVAL in required:
        replies += await request_second_agent(s, turn, record)
    return replies


async def _require_token(s: Services, turn: Turn, person, now) -> None:
    try:
        seed = await s.secrets.describe(person.object_id)  # metadata only: the seed itself is not read
    except SeedNotFound:
        await s.audit.append(events.VERIFICATION_REFUSED, turn.agent.object_id, person.upn, {"reason": "no_token"})
        raise VerificationError(f"No token is enrolled for {person.display_name}, so no code can be released. "
                                f"Enroll one first: `provision {person.upn}`.") from None
    try:
        release.require_releasable(seed, person.display_name, now)
    except SeedUnusable:
        await s.audit.append(events.VERIFICATION_REFUSED, turn.agent.object_id, person.upn,
                             {"reason": "token_unusable"})
        raise


async def _check_needs(s: Services, turn: Turn, person, required: tuple[str, ...]):
    """Each proof's precondition (a phone to call, a manager who can approve); returns the manager, if asked."""
    manager = None
    for name in required:
        needs = DECLARATIONS[name].needs
        missing = None
        if needs == NEEDS_PHONE and not person.phone_of_record:
            missing = "no_phone_of_record"
        elif needs == NEEDS_MANAGER:
            manager = await s.directory.find_by_upn(person.manager_upn) if person.manager_upn else None
            if manager is None or not manager.enabled or manager.object_id in (turn.agent.object_id,
                                                                               person.object_id):
                missing, manager = "no_manager_of_record", None
        if missing:
            await s.audit.append(events.VERIFICATION_REFUSED, turn.agent.object_id, person.upn, {"reason": missing})
            raise VerificationError(DECLARATIONS[name].refusal.format(name=person.display_name))
    return manager


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
    """The requester's Verify: the ticket (once), then the proofs they give on their card, in policy order."""
    async with step(s, action) as (key, record, etag):
        record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), v.PENDING)
        if record.requester_done:
            raise VerificationError("This step was already done.")
        zone = agent_zone(record.timezone)
        ticketed = _with_typed_ticket(record, action)  # a valid ticket is kept even if something else is missing
        try:
            updated = record.with_ticket(str(action.data.get("ticket", "")))
            updated.check_toggles(action.data)
        except UserError as error:
            if ticketed.ticket != record.ticket:
                await save(s, key, ticketed, etag)
            return ActionOutcome(requester_view(ticketed, zone, error.message))
        updated, failure = await proof_steps.check_requester_inputs(s, action, updated)
        if failure:
            await save(s, key, updated, etag)  # the ticket and the spent try are kept
            return ActionOutcome(requester_view(updated, zone, failure))
        given = updated.missing_from_requester()
        passed = updated
        for name in given:
            passed = passed.with_proof(name, action.agent.object_id)
        await s.audit.append(events.VERIFICATION_PASSED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "ticket": passed.ticket, "proofs": ",".join(given)})
        await save(s, key, passed, etag)
        return ActionOutcome(requester_view(passed, zone))


def _with_typed_ticket(record: Verification, action: Action) -> Verification:
    try:
        return record.with_ticket(str(action.data.get("ticket", "")))
    except UserError:
        return record


async def send_code(s: Services, action: Action) -> ActionOutcome:
    async with step(s, action) as (key, record, etag):
        return await proof_steps.send_code(s, action, key, record, etag)


async def reveal(s: Services, action: Action) -> ActionOutcome:
    await require_role(s, action.agent, AGENT, "reveal", fresh=True)  # membership may have changed meanwhile
    key, record, etag = await load(s, action)
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), v.VERIFIED)
    target = await s.directory.find_by_object_id(record.target_oid)
    if target is None or not target.enabled:  # disabled since the dialog started
        await s.audit.append(events.CODE_REFUSED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "reason": "account_disabled"})
        raise VerificationError(f"The account of {record.target_name} is now disabled in Entra, so no code can be "
                                "released.")
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
    return ActionOutcome(requester_view(record, zone))


async def cancel_action(s: Services, action: Action) -> ActionOutcome:
    async with step(s, action) as (key, record, etag):
        record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), record.status)
        await save(s, key, record.with_status(v.CANCELLED), etag)
        await s.audit.append(events.VERIFICATION_CANCELLED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid})
        return ActionOutcome(Text(f"Cancelled the verification for {record.target_name}. Nothing was released."))


@asynccontextmanager
async def step(s: Services, action: Action, owner: str | None = None, conversation: str | None = None,
               refused_event: str = events.VERIFICATION_REFUSED):
    """One state change of a verification at a time: a click that loses the race to another (two agents
    approving, a double click) is refused and audited as refused, never as granted. Yields load()'s result,
    read once the step is held, so the holder sees every earlier change."""
    key = _key(action, owner, conversation)
    lock, holder = f"verification-step/{key}", action.activity_id or action.agent.object_id
    if not await s.coordination.claim(lock, holder, STEP_LOCK_TTL_S):
        found = (await s.state.read([key])).get(key) or {}
        await append_best_effort(s, refused_event, action.agent.object_id, str(found.get("target_upn", "")),
                                 {"vid": str(found.get("vid", "")), "reason": "concurrent_action",
                                  "verb": action.verb})
        raise VerificationError(BUSY)
    try:
        yield await load(s, action, owner, conversation)
    finally:
        await s.coordination.release(lock, holder)


def _key(action: Action, owner: str | None, conversation: str | None) -> str:
    requester = action.data.get("requester")
    if owner is None:
        if requester and requester != action.agent.object_id:  # a courtesy message: the key is what protects
            raise VerificationError("This verification belongs to another agent; only they can continue it.")
        owner = action.agent.object_id
    return state_key(action.agent.tenant_id, conversation or action.conversation_id, owner)


async def load(s: Services, action: Action, owner: str | None = None,
               conversation: str | None = None) -> tuple[str, Verification, str | None]:
    """The verification of `owner` (default: the invoker) in `conversation` (default: this one)."""
    key = _key(action, owner, conversation)
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

