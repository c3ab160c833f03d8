"""`shipped`, `delivered`, `revoke`, `pending`, and a seed typed into chat.

Each change is audited first (fail closed: no record, no change), then written to the state store and the
secret store; a change that fails after its record is followed by token.change_failed. None reads a seed value.
"""

from __future__ import annotations

from ..core import audit_events as events
from ..core.commands import MarkDelivered, MarkShipped, Revoke, SeedInChat, ShowPending
from ..core.lifecycle import pending_report, transition
from ..core.models import Person, TokenStatus
from ..core.policy import LEAD
from ..core.text import escape_markdown
from ..core.pending import pending_card
from ..core.views import Text
from .context import Services, Turn, require_role
from .token_records import audit_failed_change, current_status, destroy_seed, find_person, open_tokens, update_record

SHIPPED, DELIVERED, REVOKED = TokenStatus.SHIPPED, TokenStatus.DELIVERED, TokenStatus.REVOKED
from .exposure import SEED_IN_CHAT  # noqa: F401  (where tests and older imports look for it)


async def mark_shipped(s: Services, turn: Turn, command: MarkShipped) -> list:
    person = await find_person(s, command.upn)
    return [Text(await ship(s, turn.agent.object_id, person, command.carrier, command.tracking))]


async def ship(s: Services, actor: str, person: Person, carrier: str | None, tracking: str | None) -> str:
    """burned -> shipped; also step 7 of `provision`. Returns the reply."""
    status, _ = await current_status(s, person)
    transition(status, SHIPPED)
    now = s.clock.now()
    await s.audit.append(events.TOKEN_SHIPPED, actor, person.upn,
                         {"from": status.value, "carrier": carrier or "", "tracking": tracking or ""})
    try:
        await update_record(s, person.object_id, status=SHIPPED.value, shipped_at=now, carrier=carrier or "",
                            tracking=tracking or "", shipped_by=actor)
        await s.secrets.set_status(person.object_id, SHIPPED)
    except Exception as error:
        await audit_failed_change(s, actor, person.upn, SHIPPED.value, error)
        raise
    via = f" via {escape_markdown(carrier)}" if carrier else ""
    number = f", tracking {escape_markdown(tracking)}" if tracking else ""
    return (f"Recorded: the token for {person.display_name} ({person.upn}) is shipped{via}{number}. "
            f"When it arrives, a lead marks it `delivered {person.upn}`.")


async def mark_delivered(s: Services, turn: Turn, command: MarkDelivered) -> list:
    await require_role(s, turn.agent, LEAD, "MarkDelivered", target=command.upn,
                       refusal="Only helpdesk leads can mark a token delivered.")
    actor = turn.agent.object_id
    person = await find_person(s, command.upn)
    status, _ = await current_status(s, person)
    if status is not DELIVERED:  # delivered already: an earlier run stopped before the seed was destroyed
        transition(status, DELIVERED)
        await s.audit.append(events.TOKEN_DELIVERED, actor, person.upn, {"from": status.value})
        try:
            await update_record(s, person.object_id, status=DELIVERED.value, delivered_at=s.clock.now(),
                                delivered_by=actor)
            await s.secrets.set_status(person.object_id, DELIVERED)
        except Exception as error:
            await audit_failed_change(s, actor, person.upn, DELIVERED.value, error)
            raise
    return [Text(await _destroy(s, actor, person))]


async def _destroy(s: Services, actor: str, person: Person) -> str:
    purge_date = await destroy_seed(s, actor, person.upn, person.object_id, {})
    head = f"Recorded: {person.display_name} ({person.upn}) has the token."
    if purge_date is None:
        return f"{head} Its seed was disabled, deleted and purged from the vault; no code can be released for it."
    return (f"{head} Its seed was disabled and deleted; purge protection keeps the deleted copy until Key Vault "
            f"purges it on {purge_date.isoformat()[:10]} (UTC). No code can be released for it.")


async def revoke(s: Services, turn: Turn, command: Revoke) -> list:
    actor = turn.agent.object_id
    person = await find_person(s, command.upn)
    status, _ = await current_status(s, person)
    transition(status, REVOKED)
    await s.audit.append(events.TOKEN_REVOKED, actor, person.upn, {"from": status.value, "reason": command.reason})
    try:
        await update_record(s, person.object_id, status=REVOKED.value, revoked_at=s.clock.now(), revoked_by=actor,
                            revoke_reason=command.reason)
        await s.secrets.set_status(person.object_id, REVOKED)
        await s.secrets.disable(person.object_id)
    except Exception as error:
        await audit_failed_change(s, actor, person.upn, REVOKED.value, error)
        raise
    reason = f" ({escape_markdown(command.reason)})" if command.reason else ""
    return [Text(f"Revoked the token for {person.display_name} ({person.upn}){reason}. Its seed is disabled and no "
                 f"code will be released for it. For a new token, use `provision {person.upn}`.")]


async def show_pending(s: Services, turn: Turn, command: ShowPending) -> list:
    """One scan of the open-token index (no secret-store call, no read per token), then a page that fits."""
    report = pending_report(await open_tokens(s), s.clock.now(), s.overdue_after)
    return [pending_card(report, s.overdue_after.days, command.only, command.page)]


async def seed_in_chat(s: Services, turn: Turn, command: SeedInChat) -> list:
    """`enroll <upn> <anything>`: whatever follows the user is taken for a seed typed into chat."""
    from .exposure import seed_in_message

    return await seed_in_message(s, turn, command.upn)
