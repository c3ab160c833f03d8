"""`otpbot import FILE.csv`: load the seed spreadsheet into the secret store, paced, never printing a seed."""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .core import audit_events as events
from .core.errors import SeedNotFound, UserError
from .core.models import Seed
from .core.ports import AuditLog, Directory, SecretStore
from .core.seed_rows import RowProblem, check_header, parse_rows

KEY_VAULT_CREATES_PER_10S = 300
PACE_PER_SECOND = 25  # 250 per 10 s: headroom under Key Vault's 300 creates per 10 s


@dataclass
class ImportReport:
    imported: int = 0
    skipped_same: int = 0
    problems: list[RowProblem] = field(default_factory=list)


async def import_file(path: Path, store: SecretStore, directory: Directory, audit: AuditLog, *,
                      dry_run: bool = False, out=sys.stderr, pace: float = PACE_PER_SECOND,
                      actor: str = "otpbot-import", sleep=asyncio.sleep, monotonic=time.monotonic) -> ImportReport:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        check_header(reader.fieldnames or ())
        rows, problems = parse_rows(reader)
    report = ImportReport(problems=list(problems))
    interval = 1.0 / pace
    for index, row in enumerate(rows, start=1):
        _progress(out, index, len(rows))
        person = await directory.find_by_upn(row.upn)
        if person is None:
            report.problems.append(RowProblem(row.row, f"{row.upn} is not in the directory."))
            continue
        seed = Seed(person.object_id, person.upn, row.secret, row.params, serial=row.serial)
        try:
            existing = await store.get_seed(person.object_id)
        except SeedNotFound:
            existing = None
        except UserError as error:
            report.problems.append(RowProblem(row.row, error.message))
            continue
        if existing is not None:
            if existing.secret == seed.secret:
                report.skipped_same += 1
            else:
                report.problems.append(RowProblem(row.row, f"{row.upn} already has a different seed; not replaced."))
            continue
        if dry_run:
            report.imported += 1
            continue
        started = monotonic()
        await store.put_seed(seed)
        await audit.append(events.SEED_IMPORTED, actor, person.upn, {"serial": row.serial or "", "period": str(row.params.period)})
        report.imported += 1
        await sleep(max(0.0, interval - (monotonic() - started)))
    out.write("\n")
    return report


def _progress(out, done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    out.flush()


def summary(report: ImportReport, dry_run: bool) -> str:
    verb = "would import" if dry_run else "imported"
    lines = [f"{verb}: {report.imported}", f"skipped (same seed already stored): {report.skipped_same}",
             f"rows with problems: {len(report.problems)}"]
    lines += [f"  row {p.row}: {p.reason}" for p in sorted(report.problems, key=lambda p: p.row)]
    return "\n".join(lines)
