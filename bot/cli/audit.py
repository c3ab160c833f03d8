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
    sub.add_parser("verify", help="check the hash chain; exit 1 and name the first broken record if any")
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
            if broken is None:
                print(f"audit chain intact: {len(await audit.records())} records")
                return 0
            print(f"audit chain broken at record {broken}: it or its predecessor was changed or removed")
            return 1
        since = datetime.combine(args.since, time(0), tzinfo=timezone.utc) if args.since else None
        write_records(await audit.records(since), args.format, sys.stdout)
        return 0
    finally:
        await close_resource(audit)


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
