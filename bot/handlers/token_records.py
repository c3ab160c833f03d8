"""A token's lifecycle metadata: status in the secret store's tags, everything else in the state store.

Key Vault allows 15 tags per secret, so the seed keeps only its own tags there (upn, status, period, digits,
algorithm, serial); burned_at, model, carrier, tracking, shipped_at, reminders and the destroyed record live
under `token/<objectId>` in services.state. Nothing here reads a seed's value: only metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..core import audit_events as events
from ..core.errors import ConcurrencyConflict, SeedNotFound, UserError
from ..core.lifecycle import TokenRecord
from ..core.models import Person, Seed, TokenStatus
from ..core.text import escape_markdown
from .context import Services, append_best_effort

ACTIVE = (TokenStatus.BURNED, TokenStatus.SHIPPED, TokenStatus.DELIVERED)  # not overwritten without a lead
_RETRIES = 3


def token_key(object_id: str) -> str:
    return f"token/{object_id}"


async def find_person(s: Services, upn: str, *, enabled_only: bool = False) -> Person:
    """The directory entry for `upn`. Disabled accounts are found (a leaver's token must stay revocable), except
    with `enabled_only`, for enrolling: no new seed is stored for an account that cannot sign in."""
    person = await s.directory.find_by_upn(upn)
    if person is None:
        raise UserError(f"There is no user `{upn}` in the directory. Check the spelling.")
    if enabled_only and not person.enabled:
        raise UserError(f"The account of {person.display_name} ({person.upn}) is disabled in Entra, so no token "
                        "is enrolled for it.")
    return person


async def read_record(s: Services, object_id: str) -> dict[str, Any]:
    found = (await s.state.read([token_key(object_id)])).get(token_key(object_id)) or {}
    return {k: v for k, v in found.items() if k != "e_tag"}


async def replace_record(s: Services, object_id: str, record: dict[str, Any]) -> None:
    await s.state.write({token_key(object_id): {**record, "e_tag": "*"}})


async def update_record(s: Services, object_id: str, **fields: Any) -> None:
    """Merges `fields` into the record under its ETag, retrying when another writer got there first.
    A record without a burn date (a seed the bot did not enroll) is adopted: its age counts from now."""
    key = token_key(object_id)
    for attempt in range(_RETRIES):
        found = (await s.state.read([key])).get(key) or {}
        merged = {**found, **{k: _plain(v) for k, v in fields.items()}, "e_tag": found.get("e_tag", "*")}
        if not merged.get("burned_at"):
            merged["burned_at"] = merged["adopted_at"] = s.clock.now().isoformat()
        try:
            await s.state.write({key: merged})
            return
        except ConcurrencyConflict:
            if attempt + 1 == _RETRIES:
                raise


async def current_status(s: Services, person: Person) -> tuple[TokenStatus, Seed | None]:
    """The token's status from the secret store's metadata; a destroyed token is known from the record."""
    try:
        seed = await s.secrets.describe(person.object_id)
    except SeedNotFound:
        if (await read_record(s, person.object_id)).get("status") == TokenStatus.DESTROYED.value:
            return TokenStatus.DESTROYED, None
        raise SeedNotFound(f"{person.display_name} has no token enrolled. "
                           f"Use `provision {person.upn}` or `enroll {person.upn}`.") from None
    return seed.status, seed


async def token_records(s: Services) -> tuple[list[TokenRecord], dict[str, dict]]:
    """Every stored token as a TokenRecord, and the raw state records by object id.

    A seed without a record (put there by another tool, or before lifecycle records existed) is adopted: its
    age counts from now, so the sweeper never disables a seed whose burn date it cannot know.
    """
    seeds = await s.secrets.list_seeds()
    found = await s.state.read([token_key(seed.object_id) for seed in seeds]) if seeds else {}
    now = s.clock.now()
    tokens, raw, adopted = [], {}, {}
    for seed in seeds:
        record = {k: v for k, v in (found.get(token_key(seed.object_id)) or {}).items() if k != "e_tag"}
        if not record.get("burned_at"):
            record = {**record, "upn": seed.upn, "burned_at": now.isoformat(), "adopted_at": now.isoformat()}
            adopted[token_key(seed.object_id)] = {**record, "e_tag": "*"}
        raw[seed.object_id] = record
        tokens.append(TokenRecord(
            seed.object_id, seed.upn, seed.status, _time(record["burned_at"]), _time(record.get("shipped_at")),
            record.get("carrier") or None, record.get("tracking") or None, seed.enabled, seed.expires_at))
    if adopted:
        await s.state.write(adopted)
    return tokens, raw


async def audit_failed_change(s: Services, actor: str, upn: str, change: str, error: Exception) -> None:
    """The change was audited as intended but did not complete: say so in the trail (best effort)."""
    await append_best_effort(s, events.TOKEN_CHANGE_FAILED, actor, upn, {"change": change,
                                                                       "reason": type(error).__name__})


async def destroy_seed(s: Services, actor: str, upn: str, object_id: str, details: dict[str, str]) -> datetime | None:
    """delivered or revoked -> destroyed: disable, delete and purge the seed; returns Key Vault's purge date when
    purge protection keeps a deleted copy. The record follows the purge at once (it names what the vault did),
    before the state: a state write that fails afterwards leaves a `change_failed`, never an unaudited purge."""
    try:
        purge_date = await s.secrets.delete_and_purge(object_id)
    except Exception as error:
        await audit_failed_change(s, actor, upn, TokenStatus.DESTROYED.value, error)
        raise
    scheduled = purge_date.isoformat() if purge_date else ""
    await s.audit.append(events.TOKEN_DESTROYED, actor, upn,
                         {**details, "purged": "false" if purge_date else "true", "purge_scheduled": scheduled})
    try:
        await update_record(s, object_id, status=TokenStatus.DESTROYED.value, destroyed_at=s.clock.now(),
                            purge_scheduled=scheduled)
    except Exception as error:
        await audit_failed_change(s, actor, upn, TokenStatus.DESTROYED.value, error)
        raise
    return purge_date


def describe_last_event(token: TokenRecord) -> str:
    """`shipped 2026-11-20 via DHL, tracking JD0123` or `burned 2026-11-16, not shipped yet`."""
    if token.shipped_at is None:
        return f"burned {token.burned_at:%Y-%m-%d}, not shipped yet"
    via = f" via {escape_markdown(token.carrier)}" if token.carrier else ""
    tracking = f", tracking {escape_markdown(token.tracking)}" if token.tracking else ""
    return f"shipped {token.shipped_at:%Y-%m-%d}{via}{tracking}"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
