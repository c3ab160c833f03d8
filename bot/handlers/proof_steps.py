"""The hooks of proofs that need more than their card inputs: phone_code texts a code and checks it.

Rules of the code itself are in core/phone_code.py; here are its I/O and audit records. The code exists only in
this module's locals and in the SMS text: never in a log line, an audit record, a card or the state.
"""

from __future__ import annotations

import asyncio

from ..core import audit_events as events
from ..core import verification as v
from ..core.errors import AuditWriteError, SmsNotSent, SmsOutcomeUnknown, UserError, VerificationError
from ..core.limits import RateLimited
from ..core.phone_code import EXPIRED, LOCKED, VERIFIED, WRONG, PhoneCode, allowed_country, e164, new_code, sms_text
from ..core.proofs import PHONE_CODE
from ..core.verification import Verification, mask_phone
from ..core.verify_view import requester_view
from ..core.views import ActionOutcome
from ..core.window import agent_zone
from .context import Action, Services, append_best_effort

UNCERTAIN = ("I could not confirm that the text was sent; it is not sent again on its own. Ask the caller whether "
             "a code arrived. If none did, press Send again.")
FAILURES = {
    WRONG: "That is not the code I texted. {left} left. Nothing was released.",
    EXPIRED: "The texted code has expired (codes are valid 5 minutes). Press Send again for a new one.",
    LOCKED: "That code is locked after 3 wrong tries. Press Send again for a new one, or start again.",
}


async def check_requester_inputs(s: Services, action: Action, record: Verification) -> tuple[Verification, str | None]:
    """Runs each missing requester proof's hook; returns the record (tries spent are in it) and a failure
    sentence, or None when every hook passed."""
    if PHONE_CODE not in record.missing_from_requester():
        return record, None
    return await _check_phone_code(s, action, record)


async def _check_phone_code(s: Services, action: Action, record: Verification) -> tuple[Verification, str | None]:
    code = record.code_sent
    if code is None:
        return record, "Press Text the code first: the caller reads back the code I text them."
    now = s.clock.now()
    try:
        checked, outcome = await asyncio.to_thread(code.check, str(action.data.get("phoneCode", "")), now)
    except UserError as error:  # malformed: costs no try
        return record, error.message
    actor, details = action.agent.object_id, {"vid": record.vid}
    if outcome == VERIFIED:
        await s.audit.append(events.PHONE_CODE_VERIFIED, actor, record.target_upn, details)
        return record.with_code(checked), None
    updated = record.with_code(checked)
    if outcome == LOCKED and not code.locked:
        await s.audit.append(events.PHONE_CODE_FAILED, actor, record.target_upn, {**details, "reason": WRONG,
                                                                                  "try": str(checked.tries)})
        await s.audit.append(events.PHONE_CODE_LOCKED, actor, record.target_upn, details)
    else:
        await s.audit.append(events.PHONE_CODE_FAILED, actor, record.target_upn,
                             {**details, "reason": outcome, "try": str(checked.tries)})
    left = 3 - checked.tries
    return updated, FAILURES[outcome].format(left=f"{left} {'try' if left == 1 else 'tries'}")


async def send_code(s: Services, action: Action, key: str, record: Verification, etag) -> ActionOutcome:
    """Texts a fresh code to the target's mobile of record (re-read from the directory: never a typed number)."""
    from .code import save

    now = s.clock.now()
    record.check_action(str(action.data.get("vid", "")), action.agent.object_id, now, v.PENDING)
    if PHONE_CODE not in record.missing_from_requester():
        raise VerificationError("This step was already done.")
    zone = agent_zone(record.timezone)
    previous = record.code_sent
    if previous is not None and previous.resends_left <= 0:
        return ActionOutcome(requester_view(record, zone, "You have used Send again twice; no more texts for this "
                                                          "verification. Start again with `code <upn>` if needed."))
    try:
        record = record.with_ticket(str(action.data.get("ticket", "")))
        mobile = await _mobile_of_record(s, record)
        await s.limits.count_sms(s.coordination, action.agent.object_id, record.target_oid)
    except RateLimited as limited:
        await s.audit.append(events.RATE_LIMITED, action.agent.object_id, record.target_upn,
                             {"scope": limited.scope})
        return ActionOutcome(requester_view(record, zone, limited.message))
    except SmsNotSent as refused:  # e.g. a country codes are not texted to
        await s.audit.append(events.PHONE_CODE_SEND_FAILED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "reason": refused.reason})
        return ActionOutcome(requester_view(record, zone, refused.message))
    except UserError as error:
        return ActionOutcome(requester_view(record, zone, error.message))
    code = new_code()
    issued = await asyncio.to_thread(PhoneCode.issue, code, now, (previous.sends + 1) if previous else 1)
    pending = record.with_code(issued)
    await save(s, key, pending, etag)  # the hash first: a code that may arrive is always checkable
    hint = mask_phone(mobile)
    try:
        message_id = await s.sms.send(mobile, sms_text(s.organisation, code))
    except SmsNotSent as refused:
        await append_best_effort(s, events.PHONE_CODE_SEND_FAILED, action.agent.object_id, record.target_upn,
                                 {"vid": record.vid, "to": hint, "reason": refused.reason})
        await save(s, key, record.with_code(previous), None)
        return ActionOutcome(requester_view(record.with_code(previous), zone, refused.message))
    except SmsOutcomeUnknown:
        await append_best_effort(s, events.PHONE_CODE_SEND_FAILED, action.agent.object_id, record.target_upn,
                                 {"vid": record.vid, "to": hint, "reason": "outcome_unknown"})
        return ActionOutcome(requester_view(pending, zone, UNCERTAIN))
    sent = pending.with_code(PhoneCode(**{**issued.to_dict(), "message_id": message_id[:100]}))
    try:
        await s.audit.append(events.PHONE_CODE_SENT, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "to": hint, "message_id": message_id[:100],
                              "send": str(issued.sends)})
    except AuditWriteError:
        await save(s, key, record.with_code(None), None)  # an unaudited code must not count as proof
        raise
    await save(s, key, sent, None)
    return ActionOutcome(requester_view(sent, zone))


async def _mobile_of_record(s: Services, record: Verification) -> str:
    person = await s.directory.find_by_object_id(record.target_oid)
    if person is None or not person.enabled:
        raise VerificationError(f"The account of {record.target_name} is disabled in Entra now, so no code is "
                                "texted. Nothing was released.")
    mobile = e164(person.mobile)
    if mobile is None:
        raise VerificationError(f"{record.target_name} has no mobile number of record in international format, "
                                "so no code can be texted. Start again with `code <upn>` once HR or IT has fixed it.")
    if not allowed_country(mobile, await s.countries.calling_codes()):
        raise SmsNotSent(f"{record.target_name}'s mobile of record is in a country codes are not texted to "
                         "(OTPBOT_SMS_COUNTRIES). Nothing was sent; ask a lead.", "country_not_allowed")
    return mobile

