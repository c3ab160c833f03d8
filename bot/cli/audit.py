"""`otpbot audit export|verify`: the audit trail for security reviews, and a check of its hash chain.

Both stream the trail page by page (constant memory at any size; on Table Storage each page under its own
deadline, no overall one) and show progress on standard error. They need only where the trail is: the table
endpoint (OTPBOT_TABLE_ACCOUNT_URL, with the managed identity) or the data directory (OTPBOT_DATA_DIR, or
--local for the local mode's) — not the bot's production settings.

Exit codes: 0 intact (or exported), 1 the chain is broken (the first broken record is named), 2 the trail could
not be read (the reason is named).
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
                   help="check the hash chain; exit 1 and name the first broken record, 2 if it cannot be read")
    parser.set_defaults(local=False)
    return parser


def audit_settings(env, local: bool) -> Settings:
    """Only what locates the trail; a missing SQLite trail is an error here, not an empty trail created."""
    table = (env.get("OTPBOT_TABLE_ACCOUNT_URL") or "").strip()
    data_dir = Path(env.get("OTPBOT_DATA_DIR") or (".otpbot-local" if local else ".otpbot"))
    if table and not local:
        return Settings(local=False, table_account_url=table, data_dir=data_dir)
    if not (data_dir / "audit.sqlite").is_file():
        raise UserError(f"there is no audit trail in {data_dir} (set OTPBOT_DATA_DIR to the bot's data directory, "
                        "OTPBOT_TABLE_ACCOUNT_URL for Table Storage, or use --local for the local mode's).")
    return Settings(local=local, data_dir=data_dir)


@dataclass
class Verdict:
    records: int
    broken: int | None = None  # seq of the first broken record


async def verify_trail(records: AsyncIterator[AuditRecord], progress: Callable[[int], None]) -> Verdict:
    """The chain check over a stream of records; further checks (signed checkpoints) hook in here."""
    check = ChainCheck()
    async for record in records:
        if not check.feed(record):
            break
        if check.count % PROGRESS_EVERY == 0:
            progress(check.count)
    return Verdict(check.count if check.broken is None else check.count - 1, check.broken)


async def _run(args, settings: Settings) -> int:
    from ..adapters.clock import SystemClock
    from ..app import build_audit, close_resource

    audit = build_audit(settings, SystemClock())
    try:
        if args.action == "verify":
            verdict = await verify_trail(audit.stream(), lambda n: _progress("checked", n))
            if verdict.broken is None:
                print(f"audit chain intact: {verdict.records} records")
                return INTACT
            print(f"audit chain broken at record {verdict.broken}: it or its predecessor was changed or removed")
            return BROKEN
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
