"""SQLite-backed state (a botbuilder Storage) and hash-chained audit log for the embedded default.

Writes are durable (WAL, synchronous=FULL: each commit is fsynced) and run in one writer thread per database
file, off the event loop. The writer takes every write queued while the previous commit was being fsynced and
commits them together, each in its own savepoint (group commit): an operation fails or succeeds alone, exactly
as in a transaction of its own, and its caller resumes only once the commit holding it is on disk. One fsync
then serves many turns, and the loop keeps serving requests while the disk works. Reads run on the loop, on
their own connection (WAL readers never wait for the writer) and see what has been committed.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import uuid
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Mapping, TypeVar

from botbuilder.core import Storage

from ..core.audit_chain import GENESIS, ChainCheck, chain_hash
from ..core.errors import AuditWriteError, ConcurrencyConflict
from ..core.models import AuditRecord
from ..core.ports import Clock

MAX_BATCH = 256  # operations per commit
STREAM_PAGE = 5_000  # audit records per read when streaming the trail
T = TypeVar("T")


def _connect(path: Path, **kwargs: Any) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=5, **kwargs)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class _Writer:
    """The one writer of a database file in this process (shared by every store on that file)."""

    _open: dict[str, "_Writer"] = {}
    _open_lock = threading.Lock()

    @classmethod
    def acquire(cls, path: Path) -> "_Writer":
        key = str(Path(path).resolve())
        with cls._open_lock:
            writer = cls._open.get(key)
            if writer is None:
                writer = cls._open[key] = cls(path, key)
            writer._users += 1
            return writer

    def __init__(self, path: Path, key: str) -> None:
        self._key, self._users = key, 0
        self._db = _connect(path, check_same_thread=False)  # used by the writer thread only
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=f"sqlite-writer {Path(path).name}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        with self._open_lock:
            self._users -= 1
            if self._users > 0:
                return
            del self._open[self._key]
        self._queue.put(None)  # after every queued write
        self._thread.join()

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `operation` (it may read and write, and raise to undo what it wrote) in the next commit."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((operation, loop, future))
        return await future

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                self._commit(batch)
            except BaseException as error:  # never leave a caller waiting on a writer that died
                self._hand_back([(None, error)] * len(batch), batch)
        self._db.close()

    def _commit(self, batch: list) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for operation, _, _ in batch:
                    self._db.execute("SAVEPOINT operation")
                    try:
                        outcomes.append((operation(self._db), None))
                    except Exception as error:  # this operation's own failure: undo it alone
                        self._db.execute("ROLLBACK TO operation")
                        outcomes.append((None, error))
                    self._db.execute("RELEASE operation")
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except BaseException as error:  # nothing of this batch was committed: every caller fails
            outcomes = [(None, error)] * len(batch)
        self._hand_back(outcomes, batch)

    @staticmethod
    def _hand_back(outcomes: list, batch: list) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for (value, error), (_, loop, future) in zip(outcomes, batch):
            by_loop.setdefault(loop, []).append((future, value, error))
        for loop, settled in by_loop.items():  # one wake-up of each loop per batch, not one per operation
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                pass


def _settle(settled: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for future, value, error in settled:
        if future.done():  # the caller was cancelled; what it asked for is committed (or not) all the same
            continue
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)


class SqliteStorage(Storage):
    """Key/value state with ETag optimistic concurrency, safe across processes sharing the file."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._db = _connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, etag TEXT NOT NULL)")
        self._writer = _Writer.acquire(path)

    async def read(self, keys: list[str]) -> dict[str, Any]:
        found = {}
        for key in keys:
            row = self._db.execute("SELECT value, etag FROM state WHERE key = ?", (key,)).fetchone()
            if row:
                found[key] = {**json.loads(row[0]), "e_tag": row[1]}
        return found

    async def write(self, changes: dict[str, Any]) -> None:
        rows = []
        for key, item in changes.items():
            value = dict(item if isinstance(item, dict) else vars(item))
            expected = value.pop("e_tag", None)
            rows.append((key, expected, json.dumps(value)))

        def write(db: sqlite3.Connection) -> None:
            for key, expected, value in rows:
                if expected not in (None, "*"):
                    row = db.execute("SELECT etag FROM state WHERE key = ?", (key,)).fetchone()
                    if row is None or row[0] != expected:
                        raise ConcurrencyConflict("etag mismatch for state key")
                db.execute(
                    "INSERT INTO state (key, value, etag) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, etag = excluded.etag",
                    (key, value, uuid.uuid4().hex),
                )

        await self._writer.run(write)

    async def delete(self, keys: list[str]) -> None:
        def delete(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM state WHERE key = ?", [(k,) for k in keys])

        await self._writer.run(delete)

    async def scan(self, prefix: str) -> dict[str, Any]:
        # A range on the primary key; in a worker thread on its own connection, so the loop keeps serving.
        def scan() -> dict[str, Any]:
            with closing(_connect(self._path)) as db:
                rows = db.execute("SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key",
                                  (prefix, prefix + "\U0010ffff")).fetchall()
            return {key: json.loads(value) for key, value in rows}

        return await asyncio.to_thread(scan)

    def close(self) -> None:
        self._writer.release()
        self._db.close()


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
        # `audit <upn>` reads one target's newest records through this index (built once, on first open).
        self._db.execute("CREATE INDEX IF NOT EXISTS audit_by_target ON audit (target, seq)")
        self._writer = _Writer.acquire(self._path)

    async def append(self, event: str, actor: str, target: str, details: Mapping[str, str]) -> AuditRecord:
        at = self._clock.now().isoformat()
        details = dict(details)
        stored = json.dumps(details, sort_keys=True)

        def append(db: sqlite3.Connection) -> tuple[int, str, str]:
            last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            digest = chain_hash(prev, seq, at, event, actor, target, details)
            db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (seq, at, event, actor, target, stored, prev, digest))
            return seq, prev, digest

        try:
            seq, prev, digest = await self._writer.run(append)
        except sqlite3.Error as error:
            raise AuditWriteError(f"audit write failed: {type(error).__name__}") from error
        return AuditRecord(seq, datetime.fromisoformat(at), event, actor, target, details, prev, digest)

    async def records(self, since: datetime | None = None) -> list[AuditRecord]:
        return [record async for record in self.stream(since)]

    async def stream(self, since: datetime | None = None, page: int = STREAM_PAGE) -> AsyncIterator[AuditRecord]:
        """Pages of `page` records by seq (keyset: `seq > last`), each read in a worker thread on a connection
        of the stream's own: constant memory, and the loop keeps serving while the disk works."""
        # `at` is stored as UTC ISO-8601, which sorts as text: the filter runs in SQLite, not over every row.
        after = (since or datetime.min.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
        db = await asyncio.to_thread(_connect, self._path, check_same_thread=False)
        try:
            last = 0
            while True:
                rows = await asyncio.to_thread(lambda: db.execute(
                    "SELECT * FROM audit WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?", (last, after, page)
                ).fetchall())
                for row in rows:
                    yield _audit_record(row)
                if len(rows) < page:
                    return
                last = rows[-1][0]
        finally:
            db.close()

    async def records_for(self, target: str, since: datetime, limit: int) -> list[AuditRecord]:
        after = since.astimezone(timezone.utc).isoformat()

        def read() -> list:
            with closing(_connect(self._path)) as db:
                return db.execute("SELECT * FROM audit WHERE target = ? AND at >= ? ORDER BY seq DESC LIMIT ?",
                                  (target, after, limit)).fetchall()

        return [_audit_record(row) for row in reversed(await asyncio.to_thread(read))]

    async def verify(self) -> int | None:
        check = ChainCheck()
        async for record in self.stream():
            if not check.feed(record):
                break
        return check.broken

    async def head(self) -> int:
        return self._db.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()[0]  # the primary key

    def close(self) -> None:
        self._writer.release()
        self._db.close()


def _audit_record(r: tuple) -> AuditRecord:
    return AuditRecord(r[0], datetime.fromisoformat(r[1]), r[2], r[3], r[4], json.loads(r[5]), r[6], r[7])


class SqliteCoordination:
    """Claims (dedupe, locks, leases) and fixed-window counters in SQLite, safe across local processes."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self._db = _connect(path)
        self._clock = clock
        self._db.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT, expires REAL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER, expires REAL)")
        self._writer = _Writer.acquire(path)

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        now = self._clock.now().timestamp()

        def claim(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
            if row and row[1] > now:
                return False
            db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (key, owner, now + ttl_s))
            return True

        return await self._writer.run(claim)

    async def release(self, key: str, owner: str) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

        await self._writer.run(release)

    async def count(self, key: str, window_s: float) -> int:
        now = self._clock.now().timestamp()
        bucket = f"{key}@{int(now // window_s)}"

        def count(db: sqlite3.Connection) -> int:
            db.execute("DELETE FROM counters WHERE expires < ?", (now,))
            db.execute("INSERT INTO counters VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE SET value = value + 1",
                       (bucket, (now // window_s + 1) * window_s))
            return db.execute("SELECT value FROM counters WHERE key = ?", (bucket,)).fetchone()[0]

        return await self._writer.run(count)

    def close(self) -> None:
        self._writer.release()
        self._db.close()
