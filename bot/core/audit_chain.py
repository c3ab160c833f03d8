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


class ChainCheck:
    """Checks records fed one at a time in seq order, in constant memory (`otpbot audit verify` streams the trail
    through it). `broken` is the seq of the first record whose hash or link does not hold."""

    def __init__(self) -> None:
        self.prev, self.count, self.last_seq, self.broken = GENESIS, 0, 0, None

    def feed(self, r: AuditRecord) -> bool:
        """False once the chain is broken (at this record or before)."""
        if self.broken is not None:
            return False
        self.count += 1
        if r.prev_hash != self.prev or chain_hash(self.prev, r.seq, r.at.isoformat(), r.event, r.actor, r.target,
                                                  r.details) != r.hash:
            self.broken = r.seq
            return False
        self.prev, self.last_seq = r.hash, r.seq
        return True


def first_broken(records: Iterable[AuditRecord]) -> int | None:
    """The seq of the first record (in seq order) whose hash or link does not hold, or None if all do."""
    check = ChainCheck()
    for r in records:
        if not check.feed(r):
            break
    return check.broken
