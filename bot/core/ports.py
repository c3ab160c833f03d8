"""The I/O the domain needs, as protocols. Adapters in bot/adapters implement them; tests/support/fakes.py fakes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, AsyncIterator, Mapping, Protocol

from .models import AuditRecord, Person, Seed, SentMessage, TokenStatus


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class SecretStore(Protocol):
    """Where seeds live. Implementations enforce a hard deadline on every call.

    get_seed raises SeedNotFound when no seed exists and DependencyUnavailable on timeouts,
    throttling or server errors. It returns disabled or expired seeds as they are: the
    caller decides (handlers/release.py), so the rule lives in one place.
    """

    async def get_seed(self, object_id: str) -> Seed: ...

    async def put_seed(self, seed: Seed) -> None: ...

    async def describe(self, object_id: str) -> Seed:
        """The seed's metadata (tags, enabled, expiry) with `secret == ""`: the value is never read.
        Raises SeedNotFound when no seed exists (a deleted one included)."""

    async def list_seeds(self) -> list[Seed]:
        """Every stored seed's metadata, `secret == ""`; the lifecycle commands and the sweeper use it."""

    async def set_status(self, object_id: str, status: TokenStatus) -> None: ...

    async def disable(self, object_id: str) -> None: ...

    async def delete_and_purge(self, object_id: str) -> datetime | None:
        """Disables, deletes and purges; None when purged, else when the store will purge it by itself."""

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

    async def scan(self, prefix: str) -> dict[str, Any]:
        """Every key under `prefix` (one of LISTED_PREFIXES) with its value, without "e_tag": one listing per few
        thousand keys instead of a read per key. Stores may only list the prefixes in LISTED_PREFIXES."""


LISTED_PREFIXES = ("open/",)  # the open-token index (handlers/token_records.py)


class AuditLog(Protocol):
    """Append-only, hash-chained. append raises AuditWriteError if the record is not durable."""

    async def append(
        self, event: str, actor: str, target: str, details: Mapping[str, str]
    ) -> AuditRecord: ...

    async def records(self, since: datetime | None = None) -> list[AuditRecord]: ...

    def stream(self, since: datetime | None = None) -> AsyncIterator[AuditRecord]:
        """Every record in seq order, read page by page (each page under its own deadline), in constant memory.
        Raises DependencyUnavailable naming why when a page cannot be read."""

    async def records_for(self, target: str, since: datetime, limit: int) -> list[AuditRecord]:
        """The newest `limit` records about `target` at or after `since`, in seq order; reads only that
        target's records (an index), off the event loop."""

    async def verify(self) -> int | None:
        """Checks the chain; returns the seq of the first broken record, or None if intact."""

    async def head(self) -> int:
        """The seq of the newest record, 0 for an empty trail: one cheap read (the readiness probe)."""


class Coordination(Protocol):
    """Cross-instance coordination on shared state: dedupe, locks, leases and rate counters.

    claim is create-only: it returns True for exactly one caller per key until the claim's
    ttl has passed (or it is released); an expired claim can be taken over. count adds one to
    a fixed-window counter and returns the new total. Implementations raise
    DependencyUnavailable when the store does not answer.
    """

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool: ...

    async def release(self, key: str, owner: str) -> None: ...

    async def count(self, key: str, window_s: float) -> int: ...


class GroupMembership(Protocol):
    """Which of `group_ids` the user is a (transitive) member of. Raises DependencyUnavailable on failure."""

    async def member_of(self, object_id: str, group_ids: list[str]) -> set[str]: ...


class SmsSender(Protocol):
    """Texts one SMS. Returns the provider's message id. Raises SmsNotSent when the text was certainly not
    sent (refused recipient, throttled, refused access) and SmsOutcomeUnknown when it may have been (a 5xx, a
    timeout): a text that carries a code is never re-sent on its own."""

    async def send(self, to: str, text: str) -> str: ...


class Mailer(Protocol):
    async def send(self, to_upn: str, subject: str, body: str) -> None: ...


class Notifier(Protocol):
    """Proactive Teams messages. `message` is a core view (views.Text or a card view).

    to_user opens (or reuses) the bot's 1:1 chat with that object id. Both raise
    DeliveryFailed when the send failed or its outcome is unknown: never retry one
    that carries a code.
    """

    async def to_user(self, object_id: str, message: object) -> SentMessage: ...

    async def to_conversation(self, conversation_id: str, message: object) -> SentMessage: ...

    async def update(self, sent: SentMessage, message: object) -> None: ...
