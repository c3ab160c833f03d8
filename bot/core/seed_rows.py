"""The seed spreadsheet format: `username,secret` plus optional serial, period, digits, algorithm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .errors import InvalidInput
from .models import TotpParams
from .totp import normalise_secret
from .upn import normalise_upn

REQUIRED = ("username", "secret")


@dataclass(frozen=True)
class SeedRow:
    row: int
    upn: str
    secret: str = field(repr=False)
    params: TotpParams
    serial: str | None


@dataclass(frozen=True)
class RowProblem:
    row: int
    reason: str  # never contains the seed


def check_header(columns: Iterable[str]) -> None:
    names = {c.strip().lower() for c in columns}
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InvalidInput(f"The file has no {' or '.join(missing)} column. Expected: username,secret[,serial,period,digits,algorithm].")


def parse_rows(rows: Iterable[Mapping[str, str]]) -> tuple[list[SeedRow], list[RowProblem]]:
    good, bad = [], []
    for number, raw in enumerate(rows, start=2):  # row 1 is the header
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        try:
            good.append(_parse(number, row))
        except (InvalidInput, ValueError) as error:
            bad.append(RowProblem(number, getattr(error, "message", None) or str(error)))
    return good, bad


def _parse(number: int, row: Mapping[str, str]) -> SeedRow:
    upn = normalise_upn(row.get("username", ""))
    secret = normalise_secret(row.get("secret", ""))
    params = TotpParams(
        period=_number(row.get("period"), 30, "period"),
        digits=_number(row.get("digits"), 6, "digits"),
        algorithm=(row.get("algorithm") or "SHA1").upper(),
    )
    return SeedRow(number, upn, secret, params, row.get("serial") or None)


def _number(raw: str | None, default: int, name: str) -> int:
    if not raw:
        return default
    if not raw.isdigit():
        raise InvalidInput(f"{name} must be a number.")
    return int(raw)
