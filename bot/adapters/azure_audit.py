"""The hash-chained audit log in Azure Table Storage (aio), safe with several bot instances writing at once.

Layout: one partition ("audit"); RowKey = 10^12 - seq, zero-padded, so the newest record sorts first and the
chain head is a single `$top=1` query. One partition because a chain is one sequence: every append must see
the record before it, which one partition gives in order and at ~2,000 entities/s — far beyond a helpdesk's
tens of records an hour. Spreading records over partitions (per month, say) would buy throughput that is
never needed at the price of chaining across partitions.

Concurrency: `create_entity` is insert-only, so two instances that computed the same next seq cannot both
win; the loser re-reads the head, re-hashes on top of it and tries again (bounded). Within one process a
lock queues appends so only other instances contend. Hashes come from `chain_hash` in adapters/sqlite.py,
so both stores hash identically and `verify` reads the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables.aio import TableClient

from ..core.errors import AuditWriteError, DependencyUnavailable
from ..core.audit_chain import GENESIS, chain_hash, first_broken
from ..core.models import AuditRecord
from ..core.ports import Clock
from .azure_sdk import env_proxy_options

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported

PARTITION = "audit"
DEFAULT_DEADLINE = 3.0
READ_DEADLINE = 10.0  # records/verify read the whole chain; still inside Teams' ~15 s turn
_TOP = 10**12
UNAVAILABLE = ("The audit trail (Azure Table Storage) did not answer in time. "
               "Try again in a minute; if it keeps failing, tell the bot admin.")


def client_options(deadline: float = DEFAULT_DEADLINE) -> dict[str, Any]:
    """TableClient keyword arguments that keep one call inside `deadline` seconds."""
    return {"retry_total": 2, "retry_backoff_factor": 0.2, "retry_backoff_max": 1,
            "connection_timeout": min(1.0, deadline / 3), "read_timeout": deadline / 2, "logging_enable": False}


def row_key(seq: int) -> str:
    return f"{_TOP - seq:012d}"


def _record(entity: Mapping[str, Any]) -> AuditRecord:
    # seq comes from the RowKey, which cannot be edited in place, rather than from an editable property.
    return AuditRecord(_TOP - int(entity["RowKey"]), datetime.fromisoformat(entity["At"]), entity["Event"],
                       entity["Actor"], entity["Target"], json.loads(entity["Details"]), entity["PrevHash"],
                       entity["Hash"])


class TableAuditLog:
    """AuditLog on Azure Table Storage; `append` raises AuditWriteError unless the record was stored."""

    APPEND_ATTEMPTS = 40  # within the deadline: the instance that just won appends again at once from its
    # cached head while the loser re-reads it, so a busy peer can win many rounds in a row

    def __init__(self, table: TableClient, clock: Clock, *, deadline: float = DEFAULT_DEADLINE,
                 read_deadline: float = READ_DEADLINE, credential: AsyncTokenCredential | None = None) -> None:
        self._table, self._clock, self._deadline, self._read_deadline = table, clock, deadline, read_deadline
        self._credential = credential  # closed with the log when given
        self._head: tuple[int, str] | None = None  # (seq, hash) of the newest record this instance has seen
        self._lock = asyncio.Lock()

    @classmethod
    def from_account_url(cls, endpoint: str, table: str, credential: Any, clock: Clock, *,
                         deadline: float = DEFAULT_DEADLINE, owns_credential: bool = False,
                         **client_kwargs: Any) -> "TableAuditLog":
        """Production: `credential` is an azure-identity async credential (managed identity); no account keys."""
        client = TableClient(endpoint, table, credential=credential,
                             **{**client_options(deadline), **env_proxy_options(endpoint), **client_kwargs})
        return cls(client, clock, deadline=deadline, credential=credential if owns_credential else None)

    async def close(self) -> None:
        await self._table.close()
        if self._credential is not None:
            await self._credential.close()

    async def append(self, event: str, actor: str, target: str, details: Mapping[str, str]) -> AuditRecord:
        try:
            return await asyncio.wait_for(self._append(event, actor, target, dict(details)), self._deadline)
        except (AzureError, asyncio.TimeoutError) as error:
            self._head = None
            log.warning("audit append failed: %s", type(error).__name__)
            raise AuditWriteError(f"audit write failed: {type(error).__name__}") from error

    async def _append(self, event: str, actor: str, target: str, details: dict) -> AuditRecord:
        nonce = uuid.uuid4().hex  # tells our own insert apart if a retried request already landed
        async with self._lock:
            for attempt in range(self.APPEND_ATTEMPTS):
                last, prev = self._head or await self._read_head()
                seq, at = last + 1, self._clock.now().isoformat()
                digest = chain_hash(prev, seq, at, event, actor, target, details)
                entity = {"PartitionKey": PARTITION, "RowKey": row_key(seq), "At": at, "Event": event, "Actor": actor,
                          "Target": target, "Details": json.dumps(details, sort_keys=True), "PrevHash": prev,
                          "Hash": digest, "Nonce": nonce}
                try:
                    await self._table.create_entity(entity)
                except ResourceExistsError:
                    held = await self._table.get_entity(PARTITION, row_key(seq))
                    if held.get("Nonce") == nonce:
                        self._head = (seq, held["Hash"])
                        return _record(held)
                    self._head = None  # another instance appended: re-read the head and chain onto it
                    await asyncio.sleep(random.uniform(0, min(0.1, 0.005 * 2 ** attempt)))
                    continue
                self._head = (seq, digest)
                return _record(entity)
        raise AuditWriteError("audit write failed: the chain head kept moving")

    async def _read_head(self) -> tuple[int, str]:
        pages = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": PARTITION},
                                           results_per_page=1, select=["RowKey", "Hash"]).by_page()
        async for page in pages:  # a page may come back empty with a continuation; keep going
            async for entity in page:
                return _TOP - int(entity["RowKey"]), entity["Hash"]
        return 0, GENESIS

    async def records(self, since: datetime | None = None) -> list[AuditRecord]:
        query, params = "PartitionKey eq @pk", {"pk": PARTITION}
        if since is not None:  # ISO strings of UTC instants sort like the instants
            query, params["at"] = query + " and At ge @at", since.astimezone(timezone.utc).isoformat()

        async def run() -> list[AuditRecord]:
            return [_record(e) async for e in self._table.query_entities(query, parameters=params)]

        try:
            found = await asyncio.wait_for(run(), self._read_deadline)
        except (AzureError, asyncio.TimeoutError) as error:
            log.warning("audit read failed: %s", type(error).__name__)
            raise DependencyUnavailable(UNAVAILABLE) from error
        return sorted((r for r in found if since is None or r.at >= since), key=lambda r: r.seq)

    async def verify(self) -> int | None:
        return first_broken(await self.records())

    async def head(self) -> int:
        try:
            return (await asyncio.wait_for(self._read_head(), self._read_deadline))[0]  # one row: $top=1
        except (AzureError, asyncio.TimeoutError) as error:
            log.warning("audit read failed: %s", type(error).__name__)
            raise DependencyUnavailable(UNAVAILABLE) from error
