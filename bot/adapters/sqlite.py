"""SQLite-backed state (a botbuilder Storage) and hash-chained audit log for the embedded default."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from botbuilder.core import Storage

from ..core.errors import AuditWriteError, ConcurrencyConflict
from ..core.models import AuditRecord
from ..core.ports import Clock

GENESIS = "0" * 64


def _connect(path: Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class SqliteStorage(Storage):
    """Key/value state with ETag optimistic concurrency, safe across processes sharing the file."""

    def __init__(self, path: Path) -> None:
        self._db = _connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, etag TEXT NOT NULL)")

    async def read(self, keys: list[str]) -> dict[str, Any]:
        found = {}
        for key in keys:
            row = self._db.execute("SELECT value, etag FROM state WHERE key = ?", (key,)).fetchone()
            if row:
                found[key] = {**json.loads(row[0]), "e_tag": row[1]}
        return found

    async def write(self, changes: dict[str, Any]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for key, item in changes.items():
                value = dict(item if isinstance(item, dict) else vars(item))
                expected = value.pop("e_tag", None)
                if expected not in (None, "*"):
                    row = self._db.execute("SELECT etag FROM state WHERE key = ?", (key,)).fetchone()
                    if row is None or row[0] != expected:
                        raise ConcurrencyConflict(f"etag mismatch for state key")
                self._db.execute(
                    "INSERT INTO state (key, value, etag) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, etag = excluded.etag",
                    (key, json.dumps(value), uuid.uuid4().hex),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    async def delete(self, keys: list[str]) -> None:
        self._db.executemany("DELETE FROM state WHERE key = ?", [(k,) for k in keys])

    def close(self) -> None:
        self._db.close()


def chain_hash(prev_hash: str, seq: int, at: str, event: str, actor: str, target: str, details: Mapping) -> str:
    body = json.dumps([seq, at, event, actor, target, dict(details)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


class SqliteAuditLog:
    """Append-only; each record carries the hash of the previous one."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self._path = Path(path)
        self._clock = clock
        self._db = _connect(self._path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at TEXT, event TEXT, actor TEXT, "
            "target TEXT, details TEXT, prev_hash TEXT, hash TEXT)"
        )

    async def append(self, event: str, actor: str, target: str, details: Mapping[str, str]) -> AuditRecord:
        at = self._clock.now().isoformat()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                digest = chain_hash(prev, seq, at, event, actor, target, details)
                self._db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 (seq, at, event, actor, target, json.dumps(dict(details), sort_keys=True), prev, digest))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            raise AuditWriteError(f"audit write failed: {type(error).__name__}") from error
        return AuditRecord(seq, datetime.fromisoformat(at), event, actor, target, dict(details), prev, digest)

    async def records(self, since: datetime | None = None) -> list[AuditRecord]:
        rows = self._db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        out = [AuditRecord(r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]
        return [r for r in out if since is None or r.at >= since]

    async def verify(self) -> int | None:
        prev = GENESIS
        for r in await self.records():
            if r.prev_hash != prev or chain_hash(prev, r.seq, r.at.isoformat(), r.event, r.actor, r.target, r.details) != r.hash:
                return r.seq
            prev = r.hash
        return None

    def close(self) -> None:
        self._db.close()


class SqliteCoordination:
    """Claims (dedupe, locks, leases) and fixed-window counters in SQLite, safe across local processes."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self._db = _connect(path)
        self._clock = clock
        self._db.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT, expires REAL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER, expires REAL)")

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        now = self._clock.now().timestamp()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
            if row and row[1] > now:
                self._db.execute("COMMIT")
                return False
            self._db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (key, owner, now + ttl_s))
            self._db.execute("COMMIT")
            return True
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    async def release(self, key: str, owner: str) -> None:
        self._db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    async def count(self, key: str, window_s: float) -> int:
        now = self._clock.now().timestamp()
        bucket = f"{key}@{int(now // window_s)}"
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM counters WHERE expires < ?", (now,))
            self._db.execute(
                "INSERT INTO counters VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE SET value = value + 1",
                (bucket, (now // window_s + 1) * window_s))
            value = self._db.execute("SELECT value FROM counters WHERE key = ?", (bucket,)).fetchone()[0]
            self._db.execute("COMMIT")
            return value
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
