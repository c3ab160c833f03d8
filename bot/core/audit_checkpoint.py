"""Checkpoints: the audit trail's head (seq, hash), published where the audit store's writers cannot rewrite it.

The hash chain alone catches an edit in the middle, but not a trail cut short at its tail, deleted outright,
or rewritten from some record on with the hashes recomputed: each of those leaves a chain that holds. A
checkpoint records the head at a moment; from then on the trail must still hold that record with that hash.

- `Coverage` is the check `otpbot audit verify` runs, fed one record at a time (constant memory).
- `next_checkpoint` is what the bot's checkpointer runs every minute: it publishes the new head only if the
  trail still matches the last checkpoint, so a shortened or rewritten trail is never covered by a new one.

What it cannot detect: changes to records newer than the last checkpoint (`verify` says how many there are),
and anything done by someone who can also write where checkpoints live (Key Vault, or the local key file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Protocol

from .models import AuditRecord


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    record_at: datetime  # when record `seq` was written: records(since=record_at) starts at it
    at: datetime  # when the checkpoint was published

    def to_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "hash": self.hash, "record_at": self.record_at.isoformat(), "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict) -> "Checkpoint":
        return cls(int(data["seq"]), str(data["hash"]), datetime.fromisoformat(data["record_at"]),
                   datetime.fromisoformat(data["at"]))


class CheckpointTampered(Exception):
    """Where the checkpoints live says they were removed (e.g. the Key Vault secret is in the deleted state)."""


class CheckpointStore(Protocol):
    async def latest(self) -> Checkpoint | None:
        """The newest checkpoint, None if none was ever published; raises CheckpointTampered if they were
        deleted, DependencyUnavailable if the store does not answer."""

    async def publish(self, checkpoint: Checkpoint) -> None: ...


@dataclass(frozen=True)
class Verdict:
    intact: bool
    sentence: str
    covered: int  # records 1..covered are covered by the checkpoint


class Coverage:
    """Feed every record in seq order to `see`, then read `verdict()`."""

    def __init__(self, checkpoint: Checkpoint | None) -> None:
        self._checkpoint, self._last, self._match = checkpoint, 0, None

    def see(self, record: AuditRecord) -> None:
        self._last = record.seq
        if self._checkpoint is not None and record.seq == self._checkpoint.seq:
            self._match = record.hash == self._checkpoint.hash

    def verdict(self) -> Verdict:
        cp, last = self._checkpoint, self._last
        if cp is None:
            return Verdict(True, f"no checkpoint yet: none of the {last} records is covered, so a shortened or "
                                 "recomputed trail would not show", 0)
        when = f"the checkpoint of {cp.at:%Y-%m-%d %H:%M} UTC"
        if last < cp.seq:
            what = "the trail is empty" if last == 0 else f"the trail ends at record {last}"
            return Verdict(False, f"{what}, but {when} covers records 1–{cp.seq}: records were deleted", 0)
        if not self._match:
            return Verdict(False, f"record {cp.seq} does not match {when}: the trail was rewritten (records deleted "
                                  "or changed and the hashes recomputed)", 0)
        newer = last - cp.seq
        tail = f"; the {newer} newer records are not covered yet" if newer else ""
        return Verdict(True, f"{when} covers records 1–{cp.seq} of {last}{tail}", cp.seq)


def next_checkpoint(last: Checkpoint | None, since_last: Iterable[AuditRecord], now: datetime) -> Checkpoint | None:
    """The checkpoint to publish now: `since_last` are the records from the last checkpoint's record on (all of
    them when there is none). None when nothing new was written. Raises CheckpointTampered when the trail no
    longer holds the last checkpoint's record: the trail was shortened or rewritten."""
    records = sorted(since_last, key=lambda r: r.seq)
    if last is not None:
        held = next((r for r in records if r.seq == last.seq), None)
        if held is None or held.hash != last.hash:
            raise CheckpointTampered(f"the audit trail no longer holds record {last.seq} as checkpointed")
    if not records or (last is not None and records[-1].seq == last.seq):
        return None
    head = records[-1]
    return Checkpoint(head.seq, head.hash, head.at, now)
