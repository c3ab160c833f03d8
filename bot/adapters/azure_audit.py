"""The hash-chained audit log in Azure Table Storage (aio), safe with several bot instances writing at once.

Layout: one partition ("audit"); RowKey = 10^12 - seq, zero-padded, so the newest record sorts first and the
chain head is a single `$top=1` query. One partition because a chain is one sequence: every append must see
the record before it, which one partition gives in order and at ~2,000 entities/s — far beyond a helpdesk's
tens of records an hour. Spreading records over partitions (per month, say) would buy throughput that is
never needed at the price of chaining across partitions.

Reads by target: each record is written together with a copy of it in the same partition, RowKey
`t-<sha256(target)[:32]>-<10^12 - seq>`, in one entity-group transaction (both or neither), so `audit <upn>` is
one range query of that user's newest records. Chain rows have 12-digit RowKeys, which sort before every `t-`
row: the head query and the chain reads (RowKey ranges of SEQ_WINDOW seqs) never see the copies.
Records written before these copies existed are not found by target (`audit export` still has them).

Concurrency: inserts are insert-only, so two instances that computed the same next seq cannot both
win; the loser re-reads the head, re-hashes on top of it and tries again (bounded). Within one process a
lock queues appends so only other instances contend. Hashes come from `chain_hash` in adapters/sqlite.py,
so both stores hash identically and `verify` reads the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import uuid
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Mapping

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables import TableErrorCode, TableTransactionError
from azure.data.tables.aio import TableClient

from ..core.errors import AuditWriteError, DependencyUnavailable
from ..core.audit_chain import GENESIS, ChainCheck, chain_hash
from ..core.models import AuditRecord
from ..core.ports import Clock
from .azure_sdk import env_proxy_options

log = logging.getLogger("otpbot." + __name__.removeprefix("bot."))  # under "otpbot": exported

PARTITION = "audit"
DEFAULT_DEADLINE = 3.0
READ_DEADLINE = 10.0  # one page of a read; still inside Teams' ~15 s turn
SEQ_WINDOW = 1_000  # chain rows per range query when streaming in seq order (the table sorts newest first)
_TOP = 10**12
_EXISTS = ("EntityAlreadyExists", TableErrorCode.entity_already_exists)
UNAVAILABLE = ("The audit trail (Azure Table Storage) did not answer in time. "
               "Try again in a minute; if it keeps failing, tell the bot admin.")


def client_options(deadline: float = DEFAULT_DEADLINE) -> dict[str, Any]:
    """TableClient keyword arguments that keep one call inside `deadline` seconds."""
    return {"retry_total": 2, "retry_backoff_factor": 0.2, "retry_backoff_max": 1,
            "connection_timeout": min(1.0, deadline / 3), "read_timeout": deadline / 2, "logging_enable": False}


def row_key(seq: int) -> str:
    return f"{_TOP - seq:012d}"


def target_prefix(target: str) -> str:
    return f"t-{hashlib.sha256(target.encode()).hexdigest()[:32]}-"


def target_row_key(target: str, seq: int) -> str:
    return target_prefix(target) + row_key(seq)


def _record(entity: Mapping[str, Any]) -> AuditRecord:
    # seq comes from the RowKey, which cannot be edited in place, rather than from an editable property.
    return AuditRecord(_TOP - int(entity["RowKey"]), datetime.fromisoformat(entity["At"]), entity["Event"],
                       entity["Actor"], entity["Target"], json.loads(entity["Details"]), entity["PrevHash"],
                       entity["Hash"])


def _record_of_copy(entity: Mapping[str, Any]) -> AuditRecord:
    return _record({**entity, "RowKey": entity["RowKey"][-12:]})


async def _next_page(pages) -> list | None:
    try:
        page = await pages.__anext__()
    except StopAsyncIteration:
        return None
    return [entity async for entity in page]


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
                try:  # the record and its by-target copy, both or neither
                    await self._table.submit_transaction(
                        [("create", entity), ("create", {**entity, "RowKey": target_row_key(target, seq)})])
                except (ResourceExistsError, TableTransactionError) as error:
                    if getattr(error, "error_code", None) not in _EXISTS:
                        raise
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
        return [record async for record in self.stream(since)]

    async def stream(self, since: datetime | None = None) -> AsyncIterator[AuditRecord]:
        """Seq order in windows of SEQ_WINDOW chain rows (one RowKey range each, its pages followed by their
        continuation tokens, every page under the read deadline): constant memory, no overall deadline."""
        head = await self.head()
        at = since.astimezone(timezone.utc).isoformat() if since is not None else None
        for low in range(1, head + 1, SEQ_WINDOW):
            high = min(low + SEQ_WINDOW - 1, head)
            query = "PartitionKey eq @pk and RowKey ge @first and RowKey le @last"
            params = {"pk": PARTITION, "first": row_key(high), "last": row_key(low)}
            if at is not None:  # ISO strings of UTC instants sort like the instants
                query, params["at"] = query + " and At ge @at", at
            window = await self._pages(query, params, SEQ_WINDOW)
            for record in sorted((_record(e) for e in window), key=lambda r: r.seq):
                if since is None or record.at >= since:
                    yield record

    async def records_for(self, target: str, since: datetime, limit: int) -> list[AuditRecord]:
        prefix = target_prefix(target)
        found = await self._pages("PartitionKey eq @pk and RowKey gt @first and RowKey lt @last",
                                  {"pk": PARTITION, "first": prefix, "last": prefix + "~"}, limit, limit)
        return sorted((r for r in map(_record_of_copy, found) if r.at >= since), key=lambda r: r.seq)

    async def _pages(self, query: str, params: dict, per_page: int, limit: int | None = None) -> list[dict]:
        """Every entity `query` finds (at most `limit`), page by page, each page under the read deadline."""
        pages = self._table.query_entities(query, parameters=params, results_per_page=per_page).by_page()
        found: list[dict] = []
        while limit is None or len(found) < limit:
            try:
                page = await asyncio.wait_for(_next_page(pages), self._read_deadline)
            except (AzureError, asyncio.TimeoutError) as error:
                log.warning("audit read failed: %s", type(error).__name__)
                raise DependencyUnavailable(UNAVAILABLE) from error
            if page is None:
                break
            found += page
        return found[:limit] if limit is not None else found

    async def verify(self) -> int | None:
        check = ChainCheck()
        async for record in self.stream():
            if not check.feed(record):
                break
        return check.broken

    async def head(self) -> int:
        try:
            return (await asyncio.wait_for(self._read_head(), self._read_deadline))[0]  # one row: $top=1
        except (AzureError, asyncio.TimeoutError) as error:
            log.warning("audit read failed: %s", type(error).__name__)
            raise DependencyUnavailable(UNAVAILABLE) from error
