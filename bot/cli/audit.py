"""`otpbot audit export|verify`: the audit trail for security reviews, and a check of its hash chain.

Both stream the trail page by page (constant memory at any size; on Table Storage each page under its own
deadline, no overall one) and show progress on standard error. They need only where the trail is: the table
endpoint (OTPBOT_TABLE_ACCOUNT_URL, with the managed identity) or the data directory (OTPBOT_DATA_DIR, or
--local for the local mode's) — not the bot's production settings.

`verify` also checks the trail against its last checkpoint (core/audit_checkpoint.py: a truncated tail, a deleted
trail, a delete-and-rehash) and says how far that checkpoint covers; the checkpoints are read from Key Vault
(OTPBOT_KEYVAULT_URL) or, locally, the sealed file beside audit.sqlite. `checkpoint` publishes one now.

Exit codes: 0 intact (or exported), 1 the chain is broken or the trail does not match its checkpoint (what is
named), 2 the trail could not be read (the reason is named).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sqlite3
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import AsyncIterator, Callable

from ..core.audit_chain import ChainCheck
from ..core.audit_checkpoint import CheckpointTampered, Coverage, next_checkpoint
from ..core.errors import UserError
from ..core.models import AuditRecord
from ..settings import Settings

COLUMNS = ("seq", "at", "event", "actor", "target", "details", "prev_hash", "hash")
INTACT, BROKEN, UNREADABLE = 0, 1, 2
PROGRESS_EVERY = 100_000


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = audit_settings(os.environ, args.local)
    except UserError as error:
        print(f"could not read the audit trail: {error.message}", file=sys.stderr)
        return UNREADABLE
    return asyncio.run(_run(args, settings))


def _parser() -> argparse.ArgumentParser:
    local = argparse.ArgumentParser(add_help=False)  # accepted before or after the action
    local.add_argument("--local", action="store_true", default=argparse.SUPPRESS,
                       help="use the local mode's embedded audit log (.otpbot-local)")
    parser = argparse.ArgumentParser(prog="otpbot audit", parents=[local], description=(
        "Read the audit trail (OTPBOT_TABLE_ACCOUNT_URL, else the SQLite trail in OTPBOT_DATA_DIR). Records never "
        "contain seeds or codes; they do contain ticket references and object ids, so treat exports as "
        "confidential. Exit status: 0 intact, 1 chain broken, 2 could not read."))
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = sub.add_parser("export", parents=[local], help="write records as CSV or JSON lines to standard output")
    export.add_argument("--since", type=_day, help="first day to include, YYYY-MM-DD (default: everything)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    sub.add_parser("verify", parents=[local],
                   help="check the hash chain and the last checkpoint (a shortened, deleted or recomputed trail); "
                        "exit 1 and say what is broken, 2 if it cannot be read; report how far the checkpoint covers")
    sub.add_parser("checkpoint", parents=[local],
                   help="publish a checkpoint of the trail's head now (the bot does every minute)")
    parser.set_defaults(local=False)
    return parser


def audit_settings(env, local: bool) -> Settings:
    """Only what locates the trail; a missing SQLite trail is an error here, not an empty trail created."""
    table = (env.get("OTPBOT_TABLE_ACCOUNT_URL") or "").strip()
    data_dir = Path(env.get("OTPBOT_DATA_DIR") or (".otpbot-local" if local else ".otpbot"))
    vault = (env.get("OTPBOT_KEYVAULT_URL") or "").strip()  # where the checkpoints are
    if table and not local:
        return Settings(local=False, table_account_url=table, data_dir=data_dir, keyvault_url=vault)
    if not (data_dir / "audit.sqlite").is_file():
        raise UserError(f"there is no audit trail in {data_dir} (set OTPBOT_DATA_DIR to the bot's data directory, "
                        "OTPBOT_TABLE_ACCOUNT_URL for Table Storage, or use --local for the local mode's).")
    return Settings(local=local, data_dir=data_dir, keyvault_url=vault)


@dataclass
class Verdict:
    records: int
    broken: int | None = None  # seq of the first broken record


async def verify_trail(records: AsyncIterator[AuditRecord], progress: Callable[[int], None],
                       coverage: Coverage | None = None) -> Verdict:
    """The chain check over a stream of records; `coverage` (the checkpoint check) sees each record too."""
    check = ChainCheck()
    async for record in records:
        if not check.feed(record):
            break
        if coverage is not None:
            coverage.see(record)
        if check.count % PROGRESS_EVERY == 0:
            progress(check.count)
    return Verdict(check.count if check.broken is None else check.count - 1, check.broken)


async def _run(args, settings: Settings) -> int:
    from ..adapters.clock import SystemClock
    from ..app import build_audit, close_resource

    audit = build_audit(settings, SystemClock())
    try:
        if args.action == "verify":
            try:
                coverage = Coverage(await _latest_checkpoint(settings))
            except CheckpointTampered as error:
                print(f"audit checkpoint missing: {error}")
                return BROKEN
            verdict = await verify_trail(audit.stream(), lambda n: _progress("checked", n), coverage)
            if verdict.broken is not None:
                print(f"audit chain broken at record {verdict.broken}: it or its predecessor was changed or removed")
                return BROKEN
            print(f"audit chain intact: {verdict.records} records")
            covered = coverage.verdict()
            print(("audit checkpoint: " if covered.intact else "audit trail tampered: ") + covered.sentence)
            return INTACT if covered.intact else BROKEN
        if args.action == "checkpoint":
            return await _publish_checkpoint(settings, audit)
        since = datetime.combine(args.since, time(0), tzinfo=timezone.utc) if args.since else None
        count = await write_records(audit.stream(since), args.format, sys.stdout)
        _progress("exported", count, done=True)
        return INTACT
    except (UserError, sqlite3.Error, OSError) as error:
        print(f"could not read the audit trail: {getattr(error, 'message', None) or _why(error)}", file=sys.stderr)
        return UNREADABLE
    except Exception as error:  # an SDK's own failure (the credential, say): named, never a traceback
        print(f"could not read the audit trail: {type(error).__name__}", file=sys.stderr)
        return UNREADABLE
    finally:
        await close_resource(audit)


async def _latest_checkpoint(settings: Settings):
    from ..app import build_checkpoints, close_resource

    store = build_checkpoints(settings)
    try:
        return await store.latest()
    finally:
        await close_resource(store)


async def _publish_checkpoint(settings: Settings, audit) -> int:
    from ..adapters.clock import SystemClock
    from ..app import build_checkpoints, close_resource

    store = build_checkpoints(settings)
    try:
        last = await store.latest()
        made = next_checkpoint(last, await audit.records(last.record_at if last else None), SystemClock().now())
        if made is not None:
            await store.publish(made)
        newest = made or last
        print(f"audit checkpoint: records 1–{newest.seq if newest else 0} covered")
        return INTACT
    except CheckpointTampered as error:
        print(f"audit trail tampered: {error}; no checkpoint published")
        return BROKEN
    finally:
        await close_resource(store)


async def write_records(records: AsyncIterator[AuditRecord], fmt: str, out) -> int:
    """Writes each record as it is read; returns how many."""
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
    count = 0
    async for r in records:
        row = {"seq": r.seq, "at": r.at.isoformat(), "event": r.event, "actor": r.actor, "target": r.target,
               "details": dict(r.details), "prev_hash": r.prev_hash, "hash": r.hash}
        if writer is None:
            out.write(json.dumps(row, sort_keys=True) + "\n")
        else:
            writer.writerow({**row, "details": json.dumps(row["details"], sort_keys=True)})
        count += 1
        if count % PROGRESS_EVERY == 0:
            _progress("exported", count)
    return count


def _progress(what: str, count: int, done: bool = False) -> None:
    print(f"audit: {what} {count:,} records{'' if done else ' …'}", file=sys.stderr, flush=True)


def _why(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use YYYY-MM-DD") from None
