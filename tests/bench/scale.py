"""`make bench-scale`: issue 14's figures, each against its target, PASS or FAIL, in one run.

Builds 10,000 tokens (a real `otpbot import` into the local store) and 1,000,000 audit records in SQLite and
200,000 in Table Storage on Azurite (bulk inserts that compute the real hash chain), then measures:

    pending      largest message (JSON bytes) over every page and filter, and its time, SQLite and Azurite
    sweep        one sweep of 10,000 tokens on Azurite (Blob state + Table audit): completes, and its digest
    audit <upn>  one user's newest records, 1M on SQLite / 200k on Azurite, and the event loop's longest stall
    verify/export  `otpbot audit verify|export` (SQLite) and the same code on Table, peak RSS and time, exit code
    import       10,000 local enrolments through `otpbot import --local`'s code

Usage: python -m tests.bench.scale [--tokens N] [--sqlite-records N] [--table-records N]
Takes minutes (most of it building the data). Not part of `make test`. Numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .scale_data import (AZURITE_ENV, NOW, build_sqlite_audit, build_table_audit, import_tokens, make_services, make_table,
                         start_azurite, upn_of)

RESULTS: list[tuple[str, str, str, bool]] = []


def report(what: str, figure: str, target: str, ok: bool) -> None:
    RESULTS.append((what, figure, target, ok))
    print(f"{'PASS' if ok else 'FAIL'}  {what}: {figure} (target {target})", flush=True)


async def measure_pending(label: str, services) -> None:
    from bot.adapters.teams.cards import message_of
    from bot.core.commands import ShowPending
    from bot.handlers.tokens import show_pending

    largest, slowest, pages = 0, 0.0, 0
    for only in (None, "overdue", "burned", "shipped"):
        page, last = 1, None
        while page is not None:  # the first, second and last page of each filter
            started = time.perf_counter()
            [card] = await show_pending(services, None, ShowPending(only, page))
            slowest = max(slowest, time.perf_counter() - started)
            size = len(json.dumps(message_of(card).serialize(), ensure_ascii=False).encode())
            largest, pages = max(largest, size), pages + 1
            last = card.pages
            page = 2 if page == 1 and last >= 2 else (last if page == 2 and last > 2 else None)
    report(f"pending, {card.total:,} tokens ({label})", f"largest message {largest:,} bytes over {pages} pages",
           "≤ 40,000 bytes", largest <= 40_000)
    report(f"pending, {card.total:,} tokens ({label})", f"slowest page {slowest:.2f} s",
           "inside the turn (≤ 3 s)", slowest <= 3.0)


async def stalls_while(call) -> tuple[object, float, float]:
    """(result, seconds, the event loop's longest stall meanwhile): other turns wait at most that long."""
    stall, stop = [0.0], asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stall[0] = max(stall[0], time.perf_counter() - before - 0.005)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    result = await call
    took = time.perf_counter() - started
    stop.set()
    await task
    return result, took, stall[0]


async def measure_audit_for(label: str, audit, users: int, target_s: float) -> None:
    from datetime import timedelta

    found, took, stall = await stalls_while(audit.records_for(upn_of(users // 2), NOW - timedelta(days=3650), 50))
    report(f"audit <upn> ({label})", f"{took:.3f} s for {len(found)} rows", f"≤ {target_s:g} s", took <= target_s)
    report(f"audit <upn> ({label})", f"event loop's longest stall {stall * 1000:.0f} ms",
           "other turns not blocked (≤ 100 ms)", stall <= 0.1)


def run_child(args: list[str], env: dict) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS in MB, stderr's last other line) of `python -m MODULE ARGS` (tests/bench/
    peak_rss.py reports the child's own high-water mark)."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        done = subprocess.run([sys.executable, "-m", "tests.bench.peak_rss", *args], env=env, stdout=sink,
                              stderr=subprocess.PIPE, check=False)
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    rss = [int(line.split("=")[1]) / 1024 for line in lines if line.startswith("peak_rss_kb=")]
    other = [line for line in lines if not line.startswith("peak_rss_kb=")]
    return done.returncode, time.perf_counter() - started, rss[0] if rss else float("nan"), other[-1] if other else ""


def measure_cli(label: str, args: list[str], env: dict, records: int) -> None:
    code, took, rss, last = run_child(args, env)
    report(f"{label}, {records:,} records", f"exit {code}, {took:.1f} s, peak RSS {rss:.0f} MB ({last})",
           "exit 0 and ≤ 150 MB", code == 0 and rss <= 150)


async def main_async(opts) -> int:
    work = Path(tempfile.mkdtemp(prefix="otpbot-scale-"))
    azurite = None
    try:
        data = work / "local"
        took = await import_tokens(data, opts.tokens)
        report(f"{opts.tokens:,} local enrolments (otpbot import --local)", f"{took:.1f} s", "≤ 30 s", took <= 30)
        if opts.only != "azurite":
            await sqlite_figures(opts, data)
        if opts.only != "sqlite":
            azurite = start_azurite(work / "azurite")
            await azurite_figures(opts, data, azurite)
    finally:
        if azurite is not None:
            azurite.stop()
        shutil.rmtree(work, ignore_errors=True)
    failed = [r for r in RESULTS if not r[3]]
    print(f"\n{len(RESULTS) - len(failed)} of {len(RESULTS)} figures PASS")
    return 1 if failed else 0


async def sqlite_figures(opts, data: Path) -> None:
    local = await make_services(data, azurite=None)
    await measure_pending("SQLite", local.services)
    await local.close()

    took = build_sqlite_audit(data / "audit.sqlite", opts.sqlite_records, opts.tokens)
    print(f"      (built {opts.sqlite_records:,} SQLite audit records in {took:.0f} s)", flush=True)
    from bot.adapters.clock import SystemClock
    from bot.adapters.sqlite import SqliteAuditLog

    audit = SqliteAuditLog(data / "audit.sqlite", SystemClock())
    await measure_audit_for(f"SQLite, {opts.sqlite_records:,} records", audit, opts.tokens, 1.0)
    audit.close()
    env = {**os.environ, "OTPBOT_DATA_DIR": str(data)}
    otpbot = ["bot"]
    measure_cli("otpbot audit verify (SQLite)", otpbot + ["audit", "verify"], env, opts.sqlite_records)
    measure_cli("otpbot audit export (SQLite)", otpbot + ["audit", "export"], env, opts.sqlite_records)


async def azurite_figures(opts, data: Path, azurite) -> None:
    shared = await make_services(data, azurite=azurite)
    await shared.copy_records_to_blob()
    summary, took, _ = await stalls_while(shared.sweep())
    report(f"sweep, {opts.tokens:,} tokens (Azurite)", f"{took:.1f} s: {summary}",
           "completes and posts one digest", "digest posted" in summary and "Stopped" not in summary
           and len(shared.notifier.sent) == 1)
    await measure_pending("Azurite", shared.services)

    await shared.close()
    table, trail = await make_table(azurite, "scaletrail")
    took = await build_table_audit(table, opts.table_records, opts.tokens)
    print(f"      (built {opts.table_records:,} Table audit records in {took:.0f} s)", flush=True)
    await measure_audit_for(f"Azurite, {opts.table_records:,} records", trail, opts.tokens, 2.0)
    await trail.close()
    child_env = {**os.environ, **AZURITE_ENV(azurite, "scaletrail")}
    child = ["tests.bench.scale_data"]
    measure_cli("audit verify (Table on Azurite)", child + ["verify"], child_env, opts.table_records)
    measure_cli("audit export (Table on Azurite)", child + ["export"], child_env, opts.table_records)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--sqlite-records", type=int, default=1_000_000)
    parser.add_argument("--table-records", type=int, default=200_000)
    parser.add_argument("--only", choices=("sqlite", "azurite"), help="one storage's figures (the import runs always)")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    sys.exit(main())
