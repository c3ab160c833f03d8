"""`otpbot audit export|verify`: the audit trail for security reviews, and a check of its hash chain."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
from datetime import date, datetime, time, timezone

from ..settings import Settings

COLUMNS = ("seq", "at", "event", "actor", "target", "details", "prev_hash", "hash")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="otpbot audit", description=(
        "Read the audit trail. Records never contain seeds or codes; they do contain ticket references "
        "and object ids, so treat exports as confidential."))
    parser.add_argument("--local", action="store_true", help="use the local mode's embedded audit log")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = sub.add_parser("export", help="write records as CSV or JSON lines to standard output")
    export.add_argument("--since", type=_day, help="first day to include, YYYY-MM-DD (default: everything)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="jsonl")
    sub.add_parser("verify", help="check the hash chain and the last checkpoint (a shortened, deleted or recomputed "
                                  "trail); exit 1 and say what is broken; report how far the checkpoint covers")
    sub.add_parser("checkpoint", help="publish a checkpoint of the trail's head now (the bot does every minute)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ, local=args.local)
    return asyncio.run(_run(args, settings))


async def _run(args, settings: Settings) -> int:
    from ..adapters.clock import SystemClock
    from ..app import build_audit, close_resource

    audit = build_audit(settings, SystemClock())
    try:
        if args.action == "verify":
            broken = await audit.verify()
            if broken is not None:
                print(f"audit chain broken at record {broken}: it or its predecessor was changed or removed")
                return 1
            records = await audit.records()
            print(f"audit chain intact: {len(records)} records")
            return await verify_checkpoint(settings, records)
        if args.action == "checkpoint":
            return await publish_checkpoint(settings, audit)
        since = datetime.combine(args.since, time(0), tzinfo=timezone.utc) if args.since else None
        write_records(await audit.records(since), args.format, sys.stdout)
        return 0
    finally:
        await close_resource(audit)


async def verify_checkpoint(settings: Settings, records) -> int:
    """The tamper evidence beyond the chain (core/audit_checkpoint.py): 0 covered or not yet, 1 tampered."""
    from ..app import build_checkpoints, close_resource
    from ..core.audit_checkpoint import CheckpointTampered, Coverage

    store = build_checkpoints(settings)
    try:
        try:
            coverage = Coverage(await store.latest())
        except CheckpointTampered as error:
            print(f"audit checkpoint missing: {error}")
            return 1
        for record in records:
            coverage.see(record)
        verdict = coverage.verdict()
        print(("audit checkpoint: " if verdict.intact else "audit trail tampered: ") + verdict.sentence)
        return 0 if verdict.intact else 1
    finally:
        await close_resource(store)


async def publish_checkpoint(settings: Settings, audit) -> int:
    from ..adapters.clock import SystemClock
    from ..app import build_checkpoints, close_resource
    from ..core.audit_checkpoint import CheckpointTampered, next_checkpoint

    store = build_checkpoints(settings)
    try:
        last = await store.latest()
        made = next_checkpoint(last, await audit.records(last.record_at if last else None), SystemClock().now())
        if made is not None:
            await store.publish(made)
        print(f"audit checkpoint: records 1–{(made or last).seq if (made or last) else 0} covered")
        return 0
    except CheckpointTampered as error:
        print(f"audit trail tampered: {error}; no checkpoint published")
        return 1
    finally:
        await close_resource(store)


def write_records(records, fmt: str, out) -> None:
    rows = [{"seq": r.seq, "at": r.at.isoformat(), "event": r.event, "actor": r.actor, "target": r.target,
             "details": dict(r.details), "prev_hash": r.prev_hash, "hash": r.hash} for r in records]
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, sort_keys=True) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "details": json.dumps(row["details"], sort_keys=True)})


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use YYYY-MM-DD") from None
