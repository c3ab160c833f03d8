"""LocalSecretStore: seeds in SQLite, one AES-GCM encrypted row per seed, for local mode and small setups.

A write touches only its own row (the single encrypted file this replaces was rewritten whole on every write:
quadratic over an import). Each row is sealed with the key file's key and a fresh nonce; the associated data
binds it to its object id, so rows cannot be swapped between users. Writes go through the database's one
writer thread (adapters/sqlite.py: group commit, fsynced, off the event loop). The file is created 0600.

An existing `seeds.enc` (the former single-file format) beside the database is migrated on open, in one
transaction, and then removed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from contextlib import closing
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..core.errors import DependencyUnavailable, SeedNotFound
from ..core.models import Seed, TokenStatus, TotpParams
from .files import read_or_create_key
from .sqlite import _connect, _Writer

_AAD = b"otpbot-local-seed-v2:"
_LEGACY_AAD = b"otpbot-local-seeds-v1"
LEGACY_NAME = "seeds.enc"
UNDECRYPTABLE = "The local seed store cannot be decrypted with its key file."
NOT_FOUND = "No token is enrolled for that user."


class LocalSecretStore:
    def __init__(self, path: Path, key_path: Path) -> None:
        self._path = Path(path)
        if self._path.name == LEGACY_NAME:  # that name is the former format's, migrated from, never written
            raise ValueError(f"the seed database is seeds.sqlite; {LEGACY_NAME} is only read, to migrate it")
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._aead = AESGCM(read_or_create_key(Path(key_path)))
        if not self._path.exists():
            os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite's -wal/-shm copy its mode
        self._db = _connect(self._path)
        self._db.execute("CREATE TABLE IF NOT EXISTS seeds (object_id TEXT PRIMARY KEY, sealed BLOB NOT NULL)")
        self._migrate(self._path.with_name(LEGACY_NAME))
        self._writer = _Writer.acquire(self._path)

    async def get_seed(self, object_id: str) -> Seed:
        row = self._db.execute("SELECT sealed FROM seeds WHERE object_id = ?", (object_id,)).fetchone()
        if row is None:
            raise SeedNotFound(NOT_FOUND)
        return _seed_from(object_id, self._open(object_id, row[0]))

    async def put_seed(self, seed: Seed) -> None:
        sealed = self._seal(seed.object_id, _record_from(seed))
        def put(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO seeds VALUES (?, ?) ON CONFLICT(object_id) DO UPDATE SET sealed = excluded.sealed",
                       (seed.object_id, sealed))

        await self._writer.run(put)

    async def describe(self, object_id: str) -> Seed:
        return replace(await self.get_seed(object_id), secret="")

    async def list_seeds(self) -> list[Seed]:
        """Metadata only (secret ""), like Key Vault's property listing; read in a worker thread."""
        def read() -> list:
            with closing(_connect(self._path)) as db:
                return db.execute("SELECT object_id, sealed FROM seeds ORDER BY object_id").fetchall()

        return [replace(_seed_from(oid, self._open(oid, sealed)), secret="")
                for oid, sealed in await asyncio.to_thread(read)]

    async def set_status(self, object_id: str, status: TokenStatus) -> None:
        await self._change(object_id, status=TokenStatus(status).value)

    async def disable(self, object_id: str) -> None:
        await self._change(object_id, enabled=False)

    async def delete_and_purge(self, object_id: str) -> None:
        """The database keeps no deleted copies: deleting is purging."""
        def delete(db: sqlite3.Connection) -> None:
            if db.execute("DELETE FROM seeds WHERE object_id = ?", (object_id,)).rowcount == 0:
                raise SeedNotFound(NOT_FOUND)

        await self._writer.run(delete)

    async def _change(self, object_id: str, **fields) -> None:
        def change(db: sqlite3.Connection) -> None:  # read, change and write back in one commit
            row = db.execute("SELECT sealed FROM seeds WHERE object_id = ?", (object_id,)).fetchone()
            if row is None:
                raise SeedNotFound(NOT_FOUND)
            record = {**self._open(object_id, row[0]), **fields}
            db.execute("UPDATE seeds SET sealed = ? WHERE object_id = ?", (self._seal(object_id, record), object_id))

        await self._writer.run(change)

    async def close(self) -> None:
        self._writer.release()
        self._db.close()

    def _seal(self, object_id: str, record: dict) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, json.dumps(record, sort_keys=True).encode(), _AAD + object_id.encode())

    def _open(self, object_id: str, sealed: bytes) -> dict:
        try:
            return json.loads(self._aead.decrypt(sealed[:12], sealed[12:], _AAD + object_id.encode()))
        except (InvalidTag, ValueError):
            raise DependencyUnavailable(UNDECRYPTABLE) from None

    def _migrate(self, legacy: Path) -> None:
        try:
            blob = legacy.read_bytes()
        except FileNotFoundError:
            return
        try:
            records = json.loads(self._aead.decrypt(blob[:12], blob[12:], _LEGACY_AAD))
        except (InvalidTag, ValueError):
            raise DependencyUnavailable(UNDECRYPTABLE) from None
        with self._db:  # one transaction: every seed or none
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR IGNORE INTO seeds VALUES (?, ?)",
                                 [(oid, self._seal(oid, record)) for oid, record in records.items()])
        legacy.unlink()


def _record_from(seed: Seed) -> dict:
    return {
        "upn": seed.upn, "secret": seed.secret, "period": seed.params.period, "digits": seed.params.digits,
        "algorithm": seed.params.algorithm.value, "status": seed.status.value, "serial": seed.serial,
        "enabled": seed.enabled, "expires_at": seed.expires_at.isoformat() if seed.expires_at else None,
        "not_before": seed.not_before.isoformat() if seed.not_before else None, "version": uuid.uuid4().hex,
    }


def _seed_from(object_id: str, r: dict) -> Seed:
    return Seed(
        object_id=object_id, upn=r["upn"], secret=r["secret"],
        params=TotpParams(r["period"], r["digits"], r["algorithm"]), status=TokenStatus(r["status"]),
        serial=r.get("serial"), enabled=r.get("enabled", True),
        expires_at=datetime.fromisoformat(r["expires_at"]) if r.get("expires_at") else None,
        not_before=datetime.fromisoformat(r["not_before"]) if r.get("not_before") else None,
        version=r.get("version") or "",
    )
