"""`provision <upn>`: a guided runbook, one card per step, every step in the audit trail.

Step 3 is the enrollment card (handlers/enroll.py saves the seed, then comes back here); step 7 records the
shipment through the same path as `shipped`. Only the agent who started a run can continue or abort it.
"""

from __future__ import annotations

from ..core import audit_events as events
from ..core.commands import Provision, shipping_word
from ..core.errors import ConcurrencyConflict, UserError, VerificationError
from ..core.models import Person
from ..core.runbook import CAPTURE, CAPTURE_NOTE, COMPLETED, SHIP, STEPS, TOTAL, ProvisionRun, run_key
from ..core.views import ActionOutcome, EnrollCard, RunbookCard, Text
from .context import Action, Services, Turn
from .enroll import enroll, refill
from .token_records import find_person
from .tokens import ship


async def start(s: Services, turn: Turn, command: Provision) -> list:
    person = await find_person(s, command.upn, enabled_only=True)
    run = ProvisionRun.start(turn.agent.object_id, person.upn, person.object_id, person.display_name, s.clock.now())
    await s.audit.append(events.PROVISION_STARTED, turn.agent.object_id, person.upn, {"run": run.run})
    await s.state.write({run_key(run.run): {**run.to_dict(), "e_tag": "*"}})
    return [card_for(run)]


async def step_done(s: Services, action: Action) -> ActionOutcome:
    key, run, etag = await _load(s, action)
    run.check(action.agent.object_id, _int(action.data.get("step")), s.clock.now())
    if run.step == CAPTURE:
        raise VerificationError("Save the secret key with the card's Check code and save button first.")
    outcome = None
    if run.step == SHIP:
        try:
            carrier, tracking = (shipping_word(str(action.data.get(f) or "")) for f in ("carrier", "tracking"))
            outcome = await ship(s, action.agent.object_id, await find_person(s, run.target_upn), carrier, tracking)
        except UserError as error:
            return ActionOutcome(card_for(run, error=error.message))
    return await _advance(s, action, key, run, etag, outcome)


async def capture(s: Services, action: Action, person: Person, run_id: str) -> ActionOutcome:
    """Step 3: the enrollment card's submit, inside a run."""
    key, run, etag = await _load(s, action, run_id)
    run.check(action.agent.object_id, CAPTURE, s.clock.now())
    if person.upn != run.target_upn:
        raise VerificationError("This card belongs to a runbook for another user. Nothing was saved.")
    try:
        saved = await enroll(s, action, person)
    except UserError as error:
        return ActionOutcome(refill(card_for(run), action.data, error.message))
    return await _advance(s, action, key, run, etag, saved)


async def abort(s: Services, action: Action) -> ActionOutcome:
    key, run, etag = await _load(s, action)
    run.check(action.agent.object_id, None, s.clock.now())
    await s.audit.append(events.PROVISION_ABORTED, action.agent.object_id, run.target_upn,
                         {"run": run.run, "step": str(run.step), "name": STEPS[run.step - 1].name})
    await _save(s, key, run.aborted(), etag)
    kept = (f"The token saved at step 3 stays enrolled; record the shipment later with `shipped {run.target_upn}`, "
            f"or `revoke {run.target_upn}` it if it will not be used." if run.step > CAPTURE else "Nothing was saved.")
    return ActionOutcome(Text(f"Aborted provisioning for {run.target_name} at step {run.step} of {TOTAL} "
                              f"({run.title()}). {kept}"))


def card_for(run: ProvisionRun, error: str | None = None, outcome: str | None = None):
    heading = f"Provisioning {run.target_name} ({run.target_upn}) — step {run.step} of {TOTAL}: {run.title()}"
    if run.step == CAPTURE:
        return EnrollCard(run.target_name, run.target_upn, error=error, run=run.run, title=heading, note=CAPTURE_NOTE)
    return RunbookCard(run.run, run.step, TOTAL, heading, run.lines(), run.target_name, run.target_upn,
                       ask_shipment=run.step == SHIP, done_label="Shipped" if run.step == SHIP else "Done",
                       error=error, outcome=outcome)


async def _advance(s: Services, action: Action, key: str, run: ProvisionRun, etag, outcome: str | None):
    actor, step = action.agent.object_id, STEPS[run.step - 1]
    await s.audit.append(events.PROVISION_STEP, actor, run.target_upn,
                         {"run": run.run, "step": str(run.step), "name": step.name})
    following = run.advanced()
    await _save(s, key, following, etag)
    who = action.agent.display_name or "An agent"
    if following.status != COMPLETED:
        notices = (f"{who} enrolled a token for {run.target_name} ({run.target_upn}).",) if run.step == CAPTURE else ()
        return ActionOutcome(card_for(following, outcome=outcome), notices)
    await s.audit.append(events.PROVISION_COMPLETED, actor, run.target_upn, {"run": run.run})
    return ActionOutcome(
        Text(f"Provisioning complete for {run.target_name} ({run.target_upn}). {outcome}"),
        (f"{who} provisioned and shipped a token for {run.target_name} ({run.target_upn}).",))


async def _load(s: Services, action: Action, run_id: str | None = None) -> tuple[str, ProvisionRun, str | None]:
    key = run_key(run_id if run_id is not None else str(action.data.get("run", "")))
    found = (await s.state.read([key])).get(key)
    if not found:
        raise VerificationError("There is no such runbook. Start with `provision <upn>`.")
    return key, ProvisionRun.from_dict(found), found.get("e_tag")


async def _save(s: Services, key: str, run: ProvisionRun, etag: str | None) -> None:
    try:
        await s.state.write({key: {**run.to_dict(), "e_tag": etag or "*"}})
    except ConcurrencyConflict:
        raise VerificationError("This runbook changed meanwhile. Look at the latest card.") from None


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
