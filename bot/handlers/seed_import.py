"""`otpbot import FILE.csv`: load the seed spreadsheet into the secret store, paced, never printing a seed.

Idempotent: a row whose seed is already stored for that user is left as it is; a row with a different seed is
flagged and only overwrites the stored one with `--replace`. Every row ends up in the summary table.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..core import audit_events as events
from ..core.errors import AuditWriteError, SeedNotFound, UserError
from ..core.models import Seed, TokenStatus
from ..core.ports import AuditLog, Directory, SecretStore, StateStore
from ..core.seed_in_chat import looks_like_seed
from ..core.seed_rows import SeedRow, check_header, parse_rows
from .token_records import index_changes, token_key

PACE_PER_SECOND = 25  # 250 per 10 s: headroom under Key Vault's 300 creates per 10 s
UNPACED_IN_FLIGHT = 16
DELETE_THE_FILE = ("Now delete the spreadsheet and every copy of it (recycle bin, e-mail attachments, OneDrive or "
                   "SharePoint, backups): the seeds are in the vault, and each copy of the file holds every seed.")
IMPORTED, REPLACED, UNCHANGED, FLAGGED, PROBLEM = "imported", "replaced", "unchanged", "flagged", "problem"
HIDDEN = "(hidden)"
AUDIT_DOWN = "not imported: the audit trail cannot be written, so the import stopped here"
SEED_AS_USER = "the username column holds what looks like a seed; check the file's columns (it is not shown)"


@dataclass(frozen=True)
class RowOutcome:
    row: int
    user: str
    result: str  # one of IMPORTED, REPLACED, UNCHANGED, FLAGGED, PROBLEM
    reason: str = ""  # never contains the seed


@dataclass
class ImportReport:
    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def imported(self) -> int:
        return self.count(IMPORTED)

    @property
    def skipped_same(self) -> int:
        return self.count(UNCHANGED)


async def import_file(path: Path, store: SecretStore, directory: Directory, audit: AuditLog, *,
                      dry_run: bool = False, replace: bool = False, state: StateStore | None = None,
                      out=sys.stderr, pace: float | None = PACE_PER_SECOND, actor: str = "otpbot-import",
                      sleep=asyncio.sleep, monotonic=time.monotonic,
                      now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> ImportReport:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        check_header(reader.fieldnames or ())
        raw = list(reader)
    users = {number: _user(row) for number, row in enumerate(raw, start=2)}
    rows, problems = parse_rows(raw)
    report = ImportReport([RowOutcome(p.row, users[p.row], PROBLEM,
                                      SEED_AS_USER if users[p.row] == HIDDEN else p.reason) for p in problems])
    interval = 1.0 / pace if pace else 0.0  # None: no vault to spare (the local store)
    if not interval:
        report.outcomes += await _unpaced(rows, out, lambda row: _import_row(
            row, store, directory, audit, state, dry_run, replace, actor, now))
        rows = []
    for index, row in enumerate(rows, start=1):
        _progress(out, index, len(rows))
        started = monotonic()
        try:
            outcome = await _import_row(row, store, directory, audit, state, dry_run, replace, actor, now)
        except AuditWriteError:  # nothing may be stored unaudited: stop, and say which rows did not go in
            report.outcomes += [RowOutcome(r.row, r.upn, PROBLEM, AUDIT_DOWN) for r in rows[index - 1:]]
            break
        report.outcomes.append(outcome)
        if outcome.result in (IMPORTED, REPLACED) and not dry_run and interval:
            await sleep(max(0.0, interval - (monotonic() - started)))
    out.write("\n")
    report.outcomes.sort(key=lambda o: o.row)
    return report


async def _unpaced(rows: list[SeedRow], out, run) -> list[RowOutcome]:
    """Without a vault's rate to keep, UNPACED_IN_FLIGHT rows at a time, so one commit (and fsync) of the local
    stores serves many rows; rows for the same user still run in file order, one after the other."""
    gate, by_user, outcomes, stopped, done = asyncio.Semaphore(UNPACED_IN_FLIGHT), {}, [], [], [0]

    async def one(row: SeedRow) -> None:
        async with gate, by_user.setdefault(row.upn, asyncio.Lock()):
            if stopped:
                outcomes.append(RowOutcome(row.row, row.upn, PROBLEM, AUDIT_DOWN))
                return
            try:
                outcomes.append(await run(row))
            except AuditWriteError:  # nothing may be stored unaudited: stop; the rows not started say so
                stopped.append(row)
                outcomes.append(RowOutcome(row.row, row.upn, PROBLEM, AUDIT_DOWN))
            done[0] += 1
            _progress(out, done[0], len(rows))

    await asyncio.gather(*(one(row) for row in rows))
    return outcomes


async def _import_row(row: SeedRow, store, directory, audit, state, dry_run, replace, actor, now) -> RowOutcome:
    person = await directory.find_by_upn(row.upn)
    if person is None:
        return RowOutcome(row.row, row.upn, PROBLEM, f"{row.upn} is not in the directory.")
    if not person.enabled:
        return RowOutcome(row.row, row.upn, PROBLEM, f"The account {row.upn} is disabled in the directory.")
    try:
        existing = await store.get_seed(person.object_id)
    except SeedNotFound:
        existing = None
    except UserError as error:
        return RowOutcome(row.row, row.upn, PROBLEM, error.message)
    result = IMPORTED
    if existing is not None:
        if existing.enabled and existing.secret == row.secret:
            return RowOutcome(row.row, row.upn, UNCHANGED, "the same seed is already stored")
        why = ("the stored seed is disabled, so it cannot be compared" if not existing.enabled
               else "a different seed is already stored")
        if not replace:
            return RowOutcome(row.row, row.upn, FLAGGED, f"{why}; not replaced (rerun with --replace to overwrite it)")
        result = REPLACED
    if dry_run:
        return RowOutcome(row.row, row.upn, result, "dry run: nothing written")
    seed = Seed(person.object_id, person.upn, row.secret, row.params, TokenStatus.BURNED, serial=row.serial)
    await audit.append(events.SEED_IMPORTED, actor, person.upn, {  # audited first: no record, no seed
        "serial": row.serial or "", "period": str(row.params.period), "replaced": str(result == REPLACED).lower()})
    try:
        await store.put_seed(seed)
    except UserError as error:
        try:
            await audit.append(events.TOKEN_CHANGE_FAILED, actor, person.upn,
                               {"change": "imported", "reason": type(error).__name__})
        except AuditWriteError:
            pass  # the row is reported as a problem either way
        return RowOutcome(row.row, row.upn, PROBLEM, error.message)
    if state is not None:  # the token's lifecycle record: its age counts from the import
        record = {"upn": person.upn, "status": TokenStatus.BURNED.value, "burned_at": now().isoformat(),
                  "serial": row.serial or "", "source": "import"}
        index, _ = index_changes(person.object_id, record)  # the open-token index `pending` reads
        await state.write({token_key(person.object_id): {**record, "e_tag": "*"}, **index})
    return RowOutcome(row.row, row.upn, result)


def _user(row: dict) -> str:
    """The username column as shown in the summary: printable, short, and hidden if it looks like a seed."""
    text = "".join(ch for ch in (row.get("username") or "").strip() if ch.isprintable())[:60]
    return HIDDEN if looks_like_seed(text) else text


def _progress(out, done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    out.flush()


def summary(report: ImportReport, dry_run: bool) -> str:
    """An aligned table, one line per row of the file, then the totals."""
    shown = {IMPORTED: "would import" if dry_run else IMPORTED, REPLACED: "would replace" if dry_run else REPLACED}
    table = [("Row", "User", "Result")]
    for o in report.outcomes:
        result = shown.get(o.result, o.result)
        detail = "" if o.result in (IMPORTED, REPLACED) else o.reason
        table.append((str(o.row), o.user or "-", f"{result}: {detail}" if detail else result))
    widths = [max(len(line[i]) for line in table) for i in range(2)]
    lines = [f"{row:>{widths[0]}}  {user:<{widths[1]}}  {result}".rstrip() for row, user, result in table]
    totals = ", ".join(f"{shown.get(r, r)} {report.count(r)}" for r in (IMPORTED, REPLACED, UNCHANGED, FLAGGED))
    lines += ["", f"Rows: {len(report.outcomes)}; {totals}, problems {report.count(PROBLEM)}."]
    if not dry_run and report.count(IMPORTED) + report.count(REPLACED):
        lines.append(DELETE_THE_FILE)
    return "\n".join(lines)
