"""Data and stores for tests/bench/scale.py: tokens through the real import, audit trails built in bulk with the
real hash chain, Azurite, and the services a sweep and `pending` run on. As a script (`python -m
tests.bench.scale_data verify|export`), the audit CLI's own streaming code against Table Storage on Azurite,
whose address comes from the environment (the CLI itself authenticates with a managed identity only)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.adapters.azure_audit import PARTITION, TableAuditLog, row_key, target_row_key
from bot.core.audit_chain import GENESIS, chain_hash

NOW = datetime.now(timezone.utc).replace(microsecond=0)
EVENTS = ("verification.started", "verification.passed", "code.released", "audit.viewed")
HELPDESK = "19:helpdesk@thread.tacv2"


def upn_of(i: int) -> str:
    return f"user{i:05d}@contoso.example"


def oid_of(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


async def import_tokens(data: Path, tokens: int) -> float:
    """`otpbot import --local`'s code on a CSV of `tokens` rows; returns its seconds. Then spreads the burn dates
    over 60 days (records and index, in one write), so some tokens are overdue and some past the maximum age."""
    from bot.adapters.local_directory import LocalDirectory
    from bot.adapters.local_store import LocalSecretStore
    from bot.adapters.sqlite import SqliteAuditLog, SqliteStorage
    from bot.handlers.seed_import import import_file
    from bot.handlers.token_records import index_changes, token_key

    data.mkdir(parents=True, exist_ok=True)
    people = ["upn,object_id,display_name,phone,manager_upn"]
    rows = ["username,secret,serial"]
    for i in range(tokens):
        people.append(f"{upn_of(i)},{oid_of(i)},User {i},+44 20 7946 {i % 10000:04d},")
        rows.append(f"{upn_of(i)},{base64.b32encode(os.urandom(20)).decode()},SN-{i}")
    (data / "directory.csv").write_text("\n".join(people) + "\n")
    (data / "seeds.csv").write_text("\n".join(rows) + "\n")
    store = LocalSecretStore(data / "seeds.sqlite", data / "seeds.key")
    audit, state = SqliteAuditLog(data / "audit.sqlite", SystemClock()), SqliteStorage(data / "state.sqlite")
    started = time.perf_counter()
    report = await import_file(data / "seeds.csv", store, LocalDirectory(data / "directory.csv"), audit,
                               state=state, out=io.StringIO(), pace=None)
    took = time.perf_counter() - started
    assert report.imported == tokens, report.outcomes[:3]
    (data / "seeds.csv").unlink()
    changes = {}
    for i in range(tokens):
        record = {"upn": upn_of(i), "status": "burned", "burned_at": (NOW - timedelta(days=i % 60)).isoformat()}
        index, _ = index_changes(oid_of(i), record)
        changes.update({token_key(oid_of(i)): {**record, "e_tag": "*"}, **index})
    await state.write(changes)
    await store.close()
    audit.close()
    state.close()
    return took


def _rows(records: int, users: int, start_seq: int = 1, prev: str = GENESIS):
    """(seq, at, event, actor, target, details json, prev, hash), chained; targets spread over `users`."""
    first = NOW - timedelta(seconds=records)
    for seq in range(start_seq, start_seq + records):
        at = (first + timedelta(seconds=seq)).isoformat()
        event, target = EVENTS[seq % len(EVENTS)], upn_of(seq % users)
        details = {"vid": f"v{seq}", "ticket": f"INC-{seq}"}
        digest = chain_hash(prev, seq, at, event, "00000000-0000-4000-8000-0000000000a1", target, details)
        yield (seq, at, event, "00000000-0000-4000-8000-0000000000a1", target, json.dumps(details, sort_keys=True),
               prev, digest)
        prev = digest


def build_sqlite_audit(path: Path, records: int, users: int) -> float:
    """Replaces the trail with `records` chained records (one transaction, then the by-target index)."""
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("DELETE FROM audit")
    db.execute("BEGIN")
    db.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _rows(records, users))
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - started


async def build_table_audit(table, records: int, users: int, concurrency: int = 16) -> float:
    """`records` chained records, each with its by-target copy, in transactions of 50 + 50 (Table's maximum
    is 100 operations), `concurrency` at a time."""
    started = time.perf_counter()
    gate = asyncio.Semaphore(concurrency)

    async def send(batch: list) -> None:
        async with gate:
            await table.submit_transaction(batch)

    pending, batch = [], []
    for seq, at, event, actor, target, details, prev, digest in _rows(records, users):
        entity = {"PartitionKey": PARTITION, "RowKey": row_key(seq), "At": at, "Event": event, "Actor": actor,
                  "Target": target, "Details": details, "PrevHash": prev, "Hash": digest, "Nonce": "bulk"}
        batch += [("create", entity), ("create", {**entity, "RowKey": target_row_key(target, seq)})]
        if len(batch) == 100:
            pending.append(asyncio.ensure_future(send(batch)))
            batch = []
            if len(pending) >= 4 * concurrency:
                await asyncio.gather(*pending)
                pending = []
    if batch:
        pending.append(asyncio.ensure_future(send(batch)))
    await asyncio.gather(*pending)
    return time.perf_counter() - started


@dataclass
class RunningAzurite:
    process: object
    endpoints: object

    def stop(self) -> None:
        from tests.support.azurite import _stop

        _stop(self.process)


def start_azurite(workdir: Path) -> RunningAzurite:
    from tests.support.azurite import _start

    workdir.mkdir(parents=True, exist_ok=True)
    process, endpoints, _ = _start(workdir)
    return RunningAzurite(process, endpoints)


def AZURITE_ENV(azurite: RunningAzurite, table: str) -> dict[str, str]:  # noqa: N802 (a constant-like helper)
    e = azurite.endpoints
    return {"BENCH_TABLE_URL": e.table_url, "BENCH_TABLE": table, "BENCH_CA": e.ca_cert or ""}


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list = []

    async def to_conversation(self, conversation_id: str, message) -> str:
        self.sent.append((conversation_id, message))
        return "sent"


@dataclass
class Stores:
    services: object
    notifier: RecordingNotifier
    closers: list
    local_state: object
    table_client: object = None
    table_audit: object = None
    table_name: str = ""

    async def copy_records_to_blob(self) -> None:
        """The token records the import wrote, into Blob state (the sweep then builds the index there)."""
        found = await self.local_state.scan("open/")
        keys = [f"token/{key[len('open/'):]}" for key in found]
        records = await self.local_state.read(keys)
        from bot.core.errors import DependencyUnavailable

        gate = asyncio.Semaphore(8)

        async def put(key: str) -> None:
            async with gate:
                for attempt in range(5):  # a busy Azurite on a shared machine: building data, not measuring
                    try:
                        return await self.services.state.write({key: {**records[key], "e_tag": "*"}})
                    except DependencyUnavailable:
                        await asyncio.sleep(0.5 * (attempt + 1))
                raise RuntimeError("Azurite did not take the token records")

        await asyncio.gather(*(put(key) for key in keys))

    async def sweep(self) -> str:
        from bot.handlers.sweep import sweep_once

        return (await sweep_once(self.services, "bench")).summary()

    async def close(self) -> None:
        for close in self.closers:
            result = close()
            if hasattr(result, "__await__"):
                await result


async def make_services(data: Path, azurite: RunningAzurite | None) -> Stores:
    from bot.adapters.local_store import LocalSecretStore
    from bot.adapters.sqlite import SqliteAuditLog, SqliteCoordination, SqliteStorage
    from bot.handlers.context import Services

    clock = SystemClock()
    secrets = LocalSecretStore(data / "seeds.sqlite", data / "seeds.key")
    local_state = SqliteStorage(data / "state.sqlite")
    notifier = RecordingNotifier()
    closers = [secrets.close, local_state.close]
    if azurite is None:
        audit, coordination = SqliteAuditLog(data / "audit.sqlite", clock), SqliteCoordination(data / "state.sqlite",
                                                                                                clock)
        closers += [audit.close, coordination.close]
        services = Services(secrets, None, local_state, audit, clock, None, coordination, notifier,
                            helpdesk_conversation=HELPDESK)
        return Stores(services, notifier, closers, local_state)
    from bot.adapters.azure_storage import BlobCoordination, BlobStorage

    e = azurite.endpoints
    container_name, table_name = "scale", "scaleaudit"
    container = e.container(container_name)
    await container.create_container()
    table, audit = await make_table(azurite, table_name)
    state, coordination = BlobStorage(container), BlobCoordination(e.container(container_name), clock)
    closers += [state.close, coordination.close, audit.close]
    services = Services(secrets, None, state, audit, clock, None, coordination, notifier,
                        helpdesk_conversation=HELPDESK)
    return Stores(services, notifier, closers, local_state, table, audit, table_name)


async def make_table(azurite: RunningAzurite, name: str):
    from azure.data.tables.aio import TableClient

    from bot.adapters.azure_audit import client_options

    e = azurite.endpoints
    table = TableClient(e.table_url, name, credential=e.credential(), connection_verify=e.ca_cert,
                        **client_options())
    await table.create_table()
    return table, TableAuditLog(table, SystemClock())


async def _cli_on_table(action: str) -> int:
    """The audit CLI's verify/export code on Table Storage (its `_run` minus the managed-identity client)."""
    from azure.data.tables.aio import TableClient

    from bot.adapters.azure_audit import client_options
    from bot.cli import audit as cli
    from tests.support.azurite import Azurite

    endpoints = Azurite("", os.environ["BENCH_TABLE_URL"], os.environ["BENCH_CA"] or None, True)
    table = TableClient(endpoints.table_url, os.environ["BENCH_TABLE"], credential=endpoints.credential(),
                        connection_verify=endpoints.ca_cert, **client_options())
    audit = TableAuditLog(table, SystemClock())
    try:
        if action == "verify":
            verdict = await cli.verify_trail(audit.stream(), lambda n: cli._progress("checked", n))
            print(f"audit chain intact: {verdict.records} records" if verdict.broken is None else
                  f"broken at {verdict.broken}", file=sys.stderr)
            return 0 if verdict.broken is None else 1
        count = await cli.write_records(audit.stream(), "jsonl", sys.stdout)
        cli._progress("exported", count, done=True)
        return 0
    finally:
        await audit.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(_cli_on_table(sys.argv[1])))
