"""The I/O the domain needs, as protocols. Adapters in bot/adapters implement them; tests/fakes.py fakes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Protocol

from .models import AuditRecord, Person, Seed


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SecretStore(Protocol):
    """Where seeds live. Implementations enforce a hard deadline on every call.

    get_seed raises SeedNotFound when no seed exists and DependencyUnavailable on timeouts,
    throttling or server errors. It returns disabled or expired seeds as they are: the
    caller decides (see core.release), so the rule lives in one place.
    """

    async def get_seed(self, object_id: str) -> Seed: ...

    async def put_seed(self, seed: Seed) -> None: ...

    async def close(self) -> None: ...


class Directory(Protocol):
    """UPN -> person. Exact matches only."""

    async def find_by_upn(self, upn: str) -> Person | None: ...

    async def find_by_object_id(self, object_id: str) -> Person | None: ...


class StateStore(Protocol):
    """Key/value state with optimistic concurrency; the shape of botbuilder's Storage.

    Values are dicts. A value written with an "e_tag" other than "*" must match the stored
    one, otherwise write raises ConcurrencyConflict. read returns only keys that exist,
    each with its current "e_tag".
    """

    async def read(self, keys: list[str]) -> dict[str, Any]: ...

    async def write(self, changes: dict[str, Any]) -> None: ...

    async def delete(self, keys: list[str]) -> None: ...


class AuditLog(Protocol):
    """Append-only, hash-chained. append raises AuditWriteError if the record is not durable."""

    async def append(
        self, event: str, actor: str, target: str, details: Mapping[str, str]
    ) -> AuditRecord: ...

    async def records(self, since: datetime | None = None) -> list[AuditRecord]: ...

    async def verify(self) -> int | None:
        """Checks the chain; returns the seq of the first broken record, or None if intact."""
