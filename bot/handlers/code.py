"""`code <upn> [window]`: verification dialog, then a private release.

Order matters: the audit record is written before a code is computed; any failure before
that leaves the verification usable again, any failure after it leaves it spent.
"""

from __future__ import annotations

from ..core import audit_events as events
from ..core import verification as v
from ..core.commands import RequestCode
from ..core.errors import ConcurrencyConflict, SeedUnusable, UserError, VerificationError
from ..core.models import Seed, TokenStatus
from ..core.totp import code_at, group_code
from ..core.verification import Verification, state_key
from ..core.views import ActionOutcome, CodeCard, RevealCard, Text, VerifyCard
from ..core.window import agent_zone, plan_window, resolve_instant, zone_label
from .context import Action, Services, Turn

RELEASABLE = (TokenStatus.BURNED, TokenStatus.SHIPPED)


async def request_code(s: Services, turn: Turn, command: RequestCode) -> list:
    zone = agent_zone(turn.timezone)
    now = s.clock.now()
    resolve_instant(command.window, now, zone, s.windows)  # refuse an impossible window before any dialog
    person = await s.directory.find_by_upn(command.upn)
    if person is None:
        raise UserError(f"There is no user `{command.upn}` in the directory. Check the spelling.")
    s.access.require_not_self(turn.agent, person)
    if not person.phone_of_record:
        await s.audit.append(events.VERIFICATION_REFUSED, turn.agent.object_id, person.upn,
                             {"reason": "no_phone_of_record"})
        raise VerificationError(
            f"{person.display_name} has no phone number of record, so you cannot call them back. "
            "No code can be released; ask HR or IT to record a number first."
        )
    record = Verification.start(turn.agent.object_id, person.upn, person.object_id, person.display_name,
                                person.phone_of_record, command.window, now)
    await s.audit.append(events.VERIFICATION_STARTED, turn.agent.object_id, person.upn,
                         {"vid": record.vid, "window": command.window.text})
    # A new request replaces any open one of this agent here: changing the target invalidates it.
    key = state_key(turn.agent.tenant_id, turn.conversation_id, turn.agent.object_id)
    await s.state.write({key: {**record.to_dict(), "e_tag": "*"}})
    return [_verify_card(record, zone)]


async def cancel_typed(s: Services, turn: Turn, command) -> list:
    key = state_key(turn.agent.tenant_id, turn.conversation_id, turn.agent.object_id)
    found = (await s.state.read([key])).get(key)
    if not found or Verification.from_dict(found).status not in (v.PENDING, v.VERIFIED):
        return [Text("You have no open verification in this conversation.")]
    record = Verification.from_dict(found)
    await _save(s, key, record.with_status(v.CANCELLED), found.get("e_tag"))
    await s.audit.append(events.VERIFICATION_CANCELLED, turn.agent.object_id, record.target_upn, {"vid": record.vid})
    return [Text(f"Cancelled the verification for {record.target_name}. Nothing was released.")]


async def verify(s: Services, action: Action) -> ActionOutcome:
    key, record, etag = await _load(s, action)
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), v.PENDING)
    zone = agent_zone(action.timezone)
    called_back = str(action.data.get("calledBack", "")).lower() == "true"
    try:
        passed = record.verified(str(action.data.get("ticket", "")), called_back)
    except UserError as error:
        return ActionOutcome(_verify_card(record, zone, error.message))
    await s.audit.append(events.VERIFICATION_PASSED, action.agent.object_id, record.target_upn,
                         {"vid": record.vid, "ticket": passed.ticket, "proofs": "callback"})
    await _save(s, key, passed, etag)
    return ActionOutcome(RevealCard(passed.vid, passed.target_name, passed.target_upn, passed.window.text,
                                    passed.agent_oid))


async def reveal(s: Services, action: Action) -> ActionOutcome:
    key, record, etag = await _load(s, action)
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), v.VERIFIED)
    await _save(s, key, record.with_status(v.RELEASING), etag)  # the single-use lock
    zone = agent_zone(action.timezone)
    try:
        now = s.clock.now()
        instant = resolve_instant(record.window, now, zone, s.windows)
        seed = await s.secrets.get_seed(record.target_oid)
        _require_releasable(seed, record, now)
        window = plan_window(instant, now, seed.params.period, s.windows)
        await s.audit.append(events.CODE_RELEASED, action.agent.object_id, record.target_upn, {
            "vid": record.vid, "ticket": record.ticket or "", "proofs": "callback", "window": record.window.text,
            "step_start": window.step_start.isoformat(), "step_end": window.step_end.isoformat(),
            "accepted_until": window.accepted_until.isoformat(),
        })
    except BaseException as error:
        await s.state.write({key: {**record.to_dict(), "e_tag": "*"}})  # nothing left: usable again
        if isinstance(error, UserError):
            await _audit_refusal(s, action, record, error)
        raise
    code = code_at(seed.secret, seed.params, window.instant)
    await s.state.write({key: {**record.with_status(v.RELEASED).to_dict(), "e_tag": "*"}})
    card = CodeCard(record.target_name, record.target_upn, group_code(code), _clock(window.step_start, zone),
                    _clock(window.step_end, zone), _clock(window.accepted_until, zone), zone_label(zone))
    who = action.agent.display_name or "An agent"
    notice = (f"{who} released a sign-in code for {record.target_name} ({record.target_upn}), window "
              f"{record.window.text}, after a callback to the number of record. The code was shown only to them.")
    return ActionOutcome(card, (notice,))


async def cancel_action(s: Services, action: Action) -> ActionOutcome:
    key, record, etag = await _load(s, action)
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, s.clock.now(), record.status)
    await _save(s, key, record.with_status(v.CANCELLED), etag)
    await s.audit.append(events.VERIFICATION_CANCELLED, action.agent.object_id, record.target_upn, {"vid": record.vid})
    return ActionOutcome(Text(f"Cancelled the verification for {record.target_name}. Nothing was released."))


async def _load(s: Services, action: Action) -> tuple[str, Verification, str | None]:
    owner = action.data.get("requester")
    if owner and owner != action.agent.object_id:  # a courtesy message only: the key below is what protects
        raise VerificationError("This verification belongs to another agent; only they can continue it.")
    key = state_key(action.agent.tenant_id, action.conversation_id, action.agent.object_id)
    found = (await s.state.read([key])).get(key)
    if not found:
        raise VerificationError("You have no open verification here. Start with `code <upn>`.")
    return key, Verification.from_dict(found), found.get("e_tag")


async def _save(s: Services, key: str, record: Verification, etag: str | None) -> None:
    try:
        await s.state.write({key: {**record.to_dict(), "e_tag": etag or "*"}})
    except ConcurrencyConflict:
        raise VerificationError("This verification was already used. Start again with `code <upn>`.") from None


def _require_releasable(seed: Seed, record: Verification, now) -> None:
    if not seed.enabled:
        raise SeedUnusable(f"The token seed for {record.target_name} is disabled. No code was released.")
    if seed.expires_at is not None and seed.expires_at <= now:
        raise SeedUnusable(f"The token seed for {record.target_name} has expired. No code was released.")
    if seed.status not in RELEASABLE:
        raise SeedUnusable(
            f"The token for {record.target_name} is {seed.status.value}; codes are only released for tokens "
            "that are burned or shipped. No code was released."
        )


async def _audit_refusal(s: Services, action: Action, record: Verification, error: UserError) -> None:
    try:
        await s.audit.append(events.CODE_REFUSED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "reason": type(error).__name__})
    except Exception:  # the refusal stands either way; the log says the audit missed it
        s.log.error("audit write failed for a refusal", extra={"event": events.CODE_REFUSED})


def _verify_card(record: Verification, zone, error: str | None = None) -> VerifyCard:
    return VerifyCard(record.vid, record.target_name, record.target_upn, record.phone_hint, record.window.text,
                      _clock(record.expires_at(), zone, seconds=False), record.agent_oid, error)


def _clock(at, zone, seconds: bool = True) -> str:
    return at.astimezone(zone).strftime("%H:%M:%S" if seconds else "%H:%M")
