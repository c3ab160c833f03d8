"""LocalDirectory: a CSV file standing in for Microsoft Graph.

Format (header required, one user a row):
    upn,object_id,display_name,phone,manager_upn[,enabled][,landline]
    alice@contoso.example,00000000-...-c1,Alice User,+44 7700 900958,lee@contoso.example
`phone` is the mobile number of record (Graph's mobilePhone): codes are texted to it, and calls go to it.
The optional `landline` column plays Graph's businessPhones: called back when there is no mobile, never
texted. Leave either empty when there is none. The optional `enabled` column plays Entra's accountEnabled:
`false` marks a disabled account (empty or missing: enabled).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..core.models import Person

COLUMNS = ("upn", "object_id", "display_name", "phone", "manager_upn")


class LocalDirectory:
    def __init__(self, path: Path) -> None:
        self._by_upn: dict[str, Person] = {}
        self._by_oid: dict[str, Person] = {}
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
            for row in reader:
                mobile = row["phone"].strip() or None
                person = Person(
                    upn=row["upn"].strip().lower(), object_id=row["object_id"].strip().lower(),
                    display_name=row["display_name"].strip(),
                    phone_of_record=mobile or (row.get("landline") or "").strip() or None,
                    manager_upn=row["manager_upn"].strip().lower() or None,
                    enabled=_enabled(row.get("enabled"), path, reader.line_num), mobile=mobile,
                )
                self._by_upn[person.upn] = person
                self._by_oid[person.object_id] = person

    async def find_by_upn(self, upn: str) -> Person | None:
        return self._by_upn.get(upn)  # exact match only: upn is already normalised

    async def find_by_object_id(self, object_id: str) -> Person | None:
        return self._by_oid.get(object_id.lower())


def _enabled(value: str | None, path: Path, line: int) -> bool:
    text = (value or "").strip().lower()
    if text in ("", "true"):
        return True
    if text == "false":
        return False
    raise ValueError(f"{path}, line {line}: enabled must be true or false, not {text[:20]!r}")
