"""The release itself: lock, read the seed once, audit, compute, deliver privately, notify."""

from __future__ import annotations

from dataclasses import replace

from ..core import audit_events as events
from ..core import verification as v
from ..core.errors import DeliveryFailed, DependencyUnavailable, SeedUnusable, UserError, VerificationError
from ..core.lifecycle import releasable
from ..core.models import Seed
from ..core.proofs import DECLARATIONS
from ..core.totp import code_at, group_code
from ..core.verification import Verification
from ..core.views import ActionOutcome, CodeCard, Text
from ..core.window import agent_zone, clock_text, plan_window, resolve_instant, zone_label
from .context import CONVERSATION, DIRECT, Action, Services, append_best_effort, write_together
from .expiry import schedule_expiry
from .notify import alert, mail_target

LOCK_TTL_S = 30
DELIVERY_UNCERTAIN = ("I could not confirm that the code reached your 1:1 chat with me. It will not be sent again; "
                      "if you did not get it, start again with `code {upn}`.")


async def release(s: Services, action: Action, key: str, record: Verification, etag: str | None) -> ActionOutcome:
    if s.draining:
        raise DependencyUnavailable("The bot is restarting, so nothing was released. Press Show code again in a "
                                    "few seconds.")
    lock = f"release-lock/{record.target_oid}"
    if not await s.coordination.claim(lock, record.vid, LOCK_TTL_S):
        raise VerificationError(f"Another code release for {record.target_name} is in progress. Try again in a moment.")
    try:
        from .code import save

        await save(s, key, record.with_status(v.RELEASING), etag)  # the single-use lock
        card, window_text, code, accepted_until, released = await _release_locked(s, action, key, record)
    except BaseException:
        await s.coordination.release(lock, record.vid)
        raise
    # The release is audited. Recording it and freeing the target's lock are independent writes: one round
    # trip (one group commit) instead of two in a row.
    await write_together(s.state.write({key: {**released.to_dict(), "e_tag": "*"}}),
                         s.coordination.release(lock, record.vid))
    return await _deliver(s, action, record, card, code, window_text, accepted_until)


async def _release_locked(s: Services, action: Action, key: str, record: Verification):
    zone = agent_zone(record.timezone)  # the requester's zone when they asked: `at 14:30` means their 14:30
    try:
        now = s.clock.now()
        instant = resolve_instant(record.window, now, zone, s.windows)
        seed = await s.secrets.get_seed(record.target_oid)
        require_releasable(seed, record.target_name, now)
        window = plan_window(instant, now, seed.params.period, s.windows)
        # Computed before the audit write, so a bad seed leaves no false release record; sent only after it.
        code = group_code(code_at(seed.secret, seed.params, window.instant))
        await s.audit.append(events.CODE_RELEASED, action.agent.object_id, record.target_upn, {
            "vid": record.vid, "ticket": record.ticket or "", "proofs": ",".join(record.required),
            "approvers": ",".join(f"{p}={oid}" for p, oid in record.done.items() if not DECLARATIONS[p].by_requester),
            "window": record.window.text, "delivery": s.delivery,
            "step_start": window.step_start.isoformat(), "step_end": window.step_end.isoformat(),
            "accepted_until": window.accepted_until.isoformat(), "secret_version": seed.version,
        })
    except BaseException as error:
        await s.state.write({key: {**record.to_dict(), "e_tag": "*"}})  # nothing left: usable again
        if isinstance(error, UserError):
            await _audit_refusal(s, action, record, error)
        raise
    released = replace(record, status=v.RELEASED, released_at=now.isoformat(),
                       accepted_until=window.accepted_until.isoformat())
    card = CodeCard(record.target_name, record.target_upn, code, clock_text(window.step_start, zone),
                    clock_text(window.step_end, zone), clock_text(window.accepted_until, zone), zone_label(zone))
    return card, record.window.text, code, window.accepted_until, released


async def _deliver(s: Services, action: Action, record: Verification, card: CodeCard, code: str,
                   window_text: str, accepted_until) -> ActionOutcome:
    who = action.agent.display_name or "An agent"
    proofs = record.proofs_text()
    base = f"{who} released a sign-in code for {record.target_name} ({record.target_upn}), window {window_text}, " \
           f"after: {proofs}."
    notices = [f"{base} The code was shown only to them."]
    shown = card
    if s.delivery == DIRECT:
        try:
            sent = await s.notifier.to_user(action.agent.object_id, card)
            shown = Text(f"The code for {record.target_name} is in your 1:1 chat with me.")
            await _schedule_expiry(s, sent, accepted_until, record)
        except DeliveryFailed:  # outcome unknown: a message that carries a code is never re-sent
            await s.audit.append(events.DELIVERY_UNCERTAIN, action.agent.object_id, record.target_upn,
                                 {"vid": record.vid})
            shown = Text(DELIVERY_UNCERTAIN.format(upn=record.target_upn))
    elif s.delivery == CONVERSATION:  # only when explicitly enabled; the README explains the risk
        notices = [f"{base} Code: {code} (valid {card.valid_from}–{card.valid_to} {card.zone})."]
    await alert(s, f"Code released: {who} ({action.agent.object_id}) for {record.target_upn}, window {window_text}, "
                   f"proofs: {proofs}.")
    await mail_target(s, record, s.clock.now())
    return ActionOutcome(shown, tuple(notices))


async def _schedule_expiry(s: Services, sent, accepted_until, record: Verification) -> None:
    """The code is delivered: failing to schedule its "expired" edit must not turn that into an error reply."""
    try:
        await schedule_expiry(s, sent, accepted_until, f"Expired: the code released for {record.target_name} is no "
                              "longer accepted by Entra.")
    except Exception as error:
        s.log.error("could not schedule the expiry of a delivered code: %s", type(error).__name__)


def require_releasable(seed: Seed, target_name: str, now) -> None:
    """Also checked before any dialog starts (handlers/code.py), on the seed's metadata."""
    if not seed.enabled:
        raise SeedUnusable(f"The token seed for {target_name} is disabled. No code was released.")
    if seed.not_before is not None and seed.not_before > now:
        raise SeedUnusable(f"The token seed for {target_name} is not valid yet (Key Vault's not-before "
                           "date). No code was released.")
    if seed.expires_at is not None and seed.expires_at <= now:
        raise SeedUnusable(f"The token seed for {target_name} has expired. No code was released.")
    if not releasable(seed.status):
        raise SeedUnusable(
            f"The token for {target_name} is {seed.status.value}; codes are only released for tokens "
            "that are burned or shipped. No code was released."
        )


async def _audit_refusal(s: Services, action: Action, record: Verification, error: UserError) -> None:
    await append_best_effort(s, events.CODE_REFUSED, action.agent.object_id, record.target_upn,
                             {"vid": record.vid, "reason": type(error).__name__})
