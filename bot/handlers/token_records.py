"""A token's lifecycle metadata: status in the secret store's tags, everything else in the state store.

Key Vault allows 15 tags per secret, so the seed keeps only its own tags there (upn, status, period, digits,
algorithm, serial); burned_at, model, carrier, tracking, shipped_at and the destroyed record live under
`token/<objectId>` in services.state. Nothing here reads a seed's value: only metadata.

The open-token index: `open/<objectId>` holds what `pending` shows (upn, status, dates, carrier, tracking,
enabled) for every token not destroyed, written with its record and listed by one `state.scan`, so `pending`
neither reads every record nor lists the vault. The sweeper repairs it from the secret store on every run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ..core import audit_events as events
from ..core.errors import ConcurrencyConflict, SeedNotFound, UserError
from ..core.lifecycle import TokenRecord
from ..core.models import Person, Seed, TokenStatus
from ..core.ports import LISTED_PREFIXES
from .context import Services, append_best_effort

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported
ACTIVE = (TokenStatus.BURNED, TokenStatus.SHIPPED, TokenStatus.DELIVERED)  # not overwritten without a lead
OPEN_PREFIX = LISTED_PREFIXES[0]
_INDEXED = ("upn", "status", "burned_at", "shipped_at", "carrier", "tracking")
_INDEXED_STATUSES = tuple(s.value for s in (TokenStatus.BURNED, TokenStatus.SHIPPED, TokenStatus.DELIVERED,
                                            TokenStatus.REVOKED))
_RETRIES = 3
READ_CHUNK = 50  # records per state read: Blob reads 16 at a time, so a read is ~4 round trips


def token_key(object_id: str) -> str:
    return f"token/{object_id}"


def open_key(object_id: str) -> str:
    """The token's entry in the open-token index: what `pending` shows, listed in one scan of OPEN_PREFIX."""
    return f"{OPEN_PREFIX}{object_id}"


def index_entry(record: dict[str, Any], enabled: bool | None = None) -> dict[str, Any] | None:
    """The index entry for a token record (None: not indexed, a destroyed token or one without a status).
    `enabled`: the secret store's word; without it, the record's (disabled by the sweeper, or revoked)."""
    status = record.get("status")
    if status not in _INDEXED_STATUSES or not record.get("burned_at"):
        return None
    entry = {k: _plain(record[k]) for k in _INDEXED if record.get(k)}
    if enabled is None:
        enabled = not record.get("disabled_at") and status != TokenStatus.REVOKED.value
    entry["enabled"] = bool(enabled)
    return entry


def index_changes(object_id: str, record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(writes, deletes) that bring the index in line with `record`. A record without a status (adopted) leaves
    the index alone: the sweeper indexes it from the secret store's status."""
    entry = index_entry(record)
    if entry is None:
        return {}, [open_key(object_id)] if record.get("status") else []
    return {open_key(object_id): {**entry, "e_tag": "*"}}, []


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
    writes, deletes = index_changes(object_id, record)
    await s.state.write({token_key(object_id): {**record, "e_tag": "*"}, **writes})
    if deletes:
        await s.state.delete(deletes)


async def update_record(s: Services, object_id: str, **fields: Any) -> None:
    """Merges `fields` into the record under its ETag, retrying when another writer got there first.
    A record without a burn date (a seed the bot did not enroll) is adopted: its age counts from now."""
    key = token_key(object_id)
    for attempt in range(_RETRIES):
        found = (await s.state.read([key])).get(key) or {}
        merged = {**found, **{k: _plain(v) for k, v in fields.items()}, "e_tag": found.get("e_tag", "*")}
        if not merged.get("burned_at"):
            merged["burned_at"] = merged["adopted_at"] = s.clock.now().isoformat()
        writes, deletes = index_changes(object_id, merged)
        try:  # the record first (a conditional write goes first), then its index entry
            await s.state.write({key: merged, **writes})
            if deletes:
                await s.state.delete(deletes)
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


async def token_records(s: Services, seeds: list[Seed] | None = None,
                        index: dict[str, Any] | None = None) -> tuple[list[TokenRecord], dict[str, dict]]:
    """The stored tokens (`seeds`, default: every one) as TokenRecords, and the raw state records by object id.

    A seed without a record (put there by another tool, or before lifecycle records existed) is adopted: its
    age counts from now, so the sweeper never disables a seed whose burn date it cannot know. With `index` (what
    a scan of the open-token index gave), entries that disagree with the secret store are rewritten.
    """
    seeds = await s.secrets.list_seeds() if seeds is None else seeds
    found: dict[str, Any] = {}
    keys = [token_key(seed.object_id) for seed in seeds]
    for first in range(0, len(keys), READ_CHUNK):  # each read under the store's own deadline
        found.update(await s.state.read(keys[first:first + READ_CHUNK]))
    now = s.clock.now()
    tokens, raw, writes, deletes = [], {}, {}, []
    for seed in seeds:
        record = {k: v for k, v in (found.get(token_key(seed.object_id)) or {}).items() if k != "e_tag"}
        if not record.get("burned_at"):
            record = {**record, "upn": seed.upn, "burned_at": now.isoformat(), "adopted_at": now.isoformat()}
            writes[token_key(seed.object_id)] = {**record, "e_tag": "*"}
        raw[seed.object_id] = record
        tokens.append(TokenRecord(
            seed.object_id, seed.upn, seed.status, _time(record["burned_at"]), _time(record.get("shipped_at")),
            record.get("carrier") or None, record.get("tracking") or None, seed.enabled, seed.expires_at))
        if index is not None:
            entry = index_entry({**record, "upn": seed.upn, "status": seed.status.value}, enabled=seed.enabled)
            if entry is None and open_key(seed.object_id) in index:
                deletes.append(open_key(seed.object_id))
            elif entry is not None and entry != index.get(open_key(seed.object_id)):
                writes[open_key(seed.object_id)] = {**entry, "e_tag": "*"}
    if writes:
        await s.state.write(writes)
    if deletes:
        await s.state.delete(deletes)
    return tokens, raw


async def open_tokens(s: Services) -> list[TokenRecord]:
    """Every token the index lists as not destroyed: one scan, no per-token read, no secret-store call.
    The sweeper repairs the index from the secret store each day (a seed stored by another tool, a crash)."""
    tokens = []
    for key, entry in (await s.state.scan(OPEN_PREFIX)).items():
        try:
            tokens.append(TokenRecord(key[len(OPEN_PREFIX):], entry["upn"], TokenStatus(entry["status"]),
                                      _time(entry["burned_at"]), _time(entry.get("shipped_at")),
                                      entry.get("carrier") or None, entry.get("tracking") or None,
                                      bool(entry.get("enabled", True))))
        except (KeyError, ValueError):
            log.warning("open-token index entry %s is damaged; left out", key)
    return tokens


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


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
