"""One fake per port. Fakes keep the port's contract (errors, etags) so tests exercise real rules."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from bot.core.errors import AuditWriteError, ConcurrencyConflict, DeliveryFailed, DependencyUnavailable, SeedNotFound
from bot.core.models import AuditRecord, Person, Seed, SentMessage


class FakeClock:
    def __init__(self, at: datetime = datetime(2026, 11, 28, 9, 0, 0, tzinfo=timezone.utc)) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class FakeSecretStore:
    def __init__(self, *seeds: Seed) -> None:
        self.seeds = {s.object_id: s for s in seeds}
        self.reads = 0
        self.fail: Exception | None = None

    async def get_seed(self, object_id: str) -> Seed:
        self.reads += 1
        if self.fail:
            raise self.fail
        if object_id not in self.seeds:
            raise SeedNotFound("No token is enrolled for that user.")
        return self.seeds[object_id]

    async def put_seed(self, seed: Seed) -> None:
        if self.fail:
            raise self.fail
        self.seeds[seed.object_id] = seed

    async def describe(self, object_id: str) -> Seed:
        """Metadata only: does not count as a read of the seed."""
        if object_id not in self.seeds:
            raise SeedNotFound(f"No token is enrolled for {object_id}.")
        from dataclasses import replace

        return replace(self.seeds[object_id], secret="")

    async def close(self) -> None:
        pass


class FakeDirectory:
    def __init__(self, *people: Person) -> None:
        self.people = {p.upn: p for p in people}

    async def find_by_upn(self, upn: str) -> Person | None:
        return self.people.get(upn)

    async def find_by_object_id(self, object_id: str) -> Person | None:
        return next((p for p in self.people.values() if p.object_id == object_id), None)


class MemoryState:
    def __init__(self) -> None:
        self.items: dict[str, tuple[str, str]] = {}

    async def read(self, keys: list[str]) -> dict[str, Any]:
        return {k: {**json.loads(self.items[k][0]), "e_tag": self.items[k][1]} for k in keys if k in self.items}

    async def write(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            value = dict(value)
            expected = value.pop("e_tag", None)
            if expected not in (None, "*") and (key not in self.items or self.items[key][1] != expected):
                raise ConcurrencyConflict("etag mismatch")
        for key, value in changes.items():
            value = {k: v for k, v in value.items() if k != "e_tag"}
            self.items[key] = (json.dumps(value), uuid.uuid4().hex)

    async def delete(self, keys: list[str]) -> None:
        for key in keys:
            self.items.pop(key, None)

    async def scan(self, prefix: str) -> dict[str, Any]:
        return {k: json.loads(v) for k, (v, _) in sorted(self.items.items()) if k.startswith(prefix)}


class MemoryAuditLog:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.entries: list[AuditRecord] = []
        self.down = False

    async def append(self, event: str, actor: str, target: str, details: Mapping[str, str]) -> AuditRecord:
        if self.down:
            raise AuditWriteError("audit sink down")
        prev = self.entries[-1].hash if self.entries else "0" * 64
        digest = hashlib.sha256(f"{prev}|{event}|{actor}|{target}|{sorted(details.items())}".encode()).hexdigest()
        record = AuditRecord(len(self.entries) + 1, self.clock.now(), event, actor, target, dict(details), prev, digest)
        self.entries.append(record)
        return record

    async def records(self, since: datetime | None = None) -> list[AuditRecord]:
        return [r for r in self.entries if since is None or r.at >= since]

    async def stream(self, since: datetime | None = None):
        for record in await self.records(since):
            yield record

    async def records_for(self, target: str, since: datetime, limit: int) -> list[AuditRecord]:
        return [r for r in await self.records(since) if r.target == target][-limit:]

    async def verify(self) -> int | None:
        return None

    async def head(self) -> int:
        return len(self.entries)

    def events(self) -> list[str]:
        return [r.event for r in self.entries]


def unavailable() -> DependencyUnavailable:
    return DependencyUnavailable("Key Vault did not answer in time. No code was released; try again in a minute.")


class MemoryCoordination:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.claims: dict[str, tuple[str, float]] = {}
        self.counters: dict[str, int] = {}
        self.fail: Exception | None = None

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        if self.fail:
            raise self.fail
        now = self.clock.now().timestamp()
        held = self.claims.get(key)
        if held and held[1] > now:
            return False
        self.claims[key] = (owner, now + ttl_s)
        return True

    async def release(self, key: str, owner: str) -> None:
        if self.claims.get(key, ("",))[0] == owner:
            del self.claims[key]

    async def count(self, key: str, window_s: float) -> int:
        if self.fail:
            raise self.fail
        bucket = f"{key}@{int(self.clock.now().timestamp() // window_s)}"
        self.counters[bucket] = self.counters.get(bucket, 0) + 1
        return self.counters[bucket]


class FakeNotifier:
    """Records proactive messages; `fail_users`/`fail_conversations` make sends fail."""

    def __init__(self) -> None:
        self.to_users: list[tuple[str, object]] = []
        self.to_conversations: list[tuple[str, object]] = []
        self.updates: list[tuple[SentMessage, object]] = []
        self.fail_users: set[str] = set()
        self.fail_conversations: set[str] = set()

    async def to_user(self, object_id: str, message: object) -> str:
        if object_id in self.fail_users:
            raise DeliveryFailed("send failed")
        self.to_users.append((object_id, message))
        return SentMessage(f"a:1on1-{object_id}", f"proactive-{len(self.to_users)}")

    async def to_conversation(self, conversation_id: str, message: object) -> str:
        if conversation_id in self.fail_conversations:
            raise DeliveryFailed("send failed")
        self.to_conversations.append((conversation_id, message))
        return SentMessage(conversation_id, f"posted-{len(self.to_conversations)}")

    async def update(self, sent: SentMessage, message: object) -> None:
        if sent.conversation_id in self.fail_conversations:
            raise DeliveryFailed("update failed")
        self.updates.append((sent, message))


class FakeGroups:
    """GroupMembership: a dict of object id -> groups; `fail` simulates Graph being down."""

    def __init__(self, members: dict[str, set[str]]) -> None:
        self.members = members
        self.fail: Exception | None = None
        self.calls = 0

    async def member_of(self, object_id: str, group_ids: list[str]) -> set[str]:
        self.calls += 1
        if self.fail:
            raise self.fail
        return self.members.get(object_id, set()) & set(group_ids)
