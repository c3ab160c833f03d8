"""The audit trail's hash chain, the same for every AuditLog: each record's hash covers the previous hash and
the record's own fields, so editing, removing or reordering a record breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from typing import Iterable, Mapping

from .models import AuditRecord

GENESIS = "0" * 64


def chain_hash(prev_hash: str, seq: int, at: str, event: str, actor: str, target: str, details: Mapping) -> str:
    body = json.dumps([seq, at, event, actor, target, dict(details)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


def first_broken(records: Iterable[AuditRecord]) -> int | None:
    """The seq of the first record (in seq order) whose hash or link does not hold, or None if all do."""
    prev = GENESIS
    for r in records:
        if r.prev_hash != prev or chain_hash(prev, r.seq, r.at.isoformat(), r.event, r.actor, r.target,
                                             r.details) != r.hash:
            return r.seq
        prev = r.hash
    return None
