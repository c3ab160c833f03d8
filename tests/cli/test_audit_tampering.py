"""The "audit trail can be shortened unseen" replays of issue 13, against the real SQLite trail and the local
checkpoint file: someone who can write audit.sqlite (and nothing else) deletes the newest records, deletes
everything, or deletes a record and recomputes every hash after it. The chain holds each time; the checkpoint
catches it, `otpbot audit verify` exits 1 with the sentence below, and the bot's checkpointer refuses to cover
the shortened trail (and tells the alerts channel)."""

import asyncio
import sqlite3

import pytest

from bot.__main__ import main
from bot.adapters.audit_checkpoints import LocalCheckpoints
from bot.adapters.sqlite import SqliteAuditLog
from bot.core.audit_chain import GENESIS, chain_hash
from bot.core.audit_checkpoint import CheckpointTampered
from bot.handlers.checkpoint import TAMPERED, checkpoint
from tests.support.fakes import FakeClock

INTACT_5 = "audit chain intact: 5 records\n"


class _S:  # the part of Services the checkpointer uses
    def __init__(self, audit, checkpoints, clock):
        import logging

        from tests.support.fakes import FakeNotifier, MemoryCoordination, MemoryState

        self.audit, self.checkpoints, self.clock, self.log = audit, checkpoints, clock, logging.getLogger("t")
        self.alerts_conversation, self.notifier = "19:alerts", FakeNotifier()
        self.coordination, self.state = MemoryCoordination(clock), MemoryState()


@pytest.fixture
async def trail(tmp_path, monkeypatch):
    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path))
    clock = FakeClock()
    audit = SqliteAuditLog(tmp_path / "audit.sqlite", clock)
    for i in range(5):
        await audit.append("code.released", "ada", "alice@contoso.example", {"vid": f"v{i}"})
    store = LocalCheckpoints(tmp_path / "audit-checkpoint.json", tmp_path / "audit-checkpoint.key")
    s = _S(audit, store, clock)
    assert (await checkpoint(s)).seq == 5
    yield s, tmp_path
    audit.close()


async def verify() -> int:
    return await asyncio.to_thread(main, ["audit", "--local", "verify"])


def db(tmp_path):
    return sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)


async def test_an_intact_trail_is_covered_and_newer_records_are_counted(trail, capsys):
    s, _ = trail
    await s.audit.append("code.released", "ada", "bob@contoso.example", {})
    assert await verify() == 0
    assert capsys.readouterr().out == ("audit chain intact: 6 records\naudit checkpoint: the checkpoint of 2026-11-28 "
                                       "09:00 UTC covers records 1–5 of 6; the 1 newer records are not covered yet\n")


async def test_a_truncated_tail_is_caught(trail, capsys):
    s, tmp_path = trail
    db(tmp_path).execute("DELETE FROM audit WHERE seq > 3")
    assert await verify() == 1
    assert capsys.readouterr().out == (
        "audit chain intact: 3 records\naudit trail tampered: the trail ends at record 3, but the checkpoint of "
        "2026-11-28 09:00 UTC covers records 1–5: records were deleted\n")
    # the bot keeps appending to the shortened chain, but never covers it with a new checkpoint
    await s.audit.append("code.released", "ada", "alice@contoso.example", {})
    with pytest.raises(CheckpointTampered):
        await checkpoint(s)
    assert [m.text for _, m in s.notifier.to_conversations] == [TAMPERED]


async def test_a_deleted_trail_is_caught(trail, capsys):
    _, tmp_path = trail
    db(tmp_path).execute("DELETE FROM audit")
    assert await verify() == 1
    assert capsys.readouterr().out == (
        "audit chain intact: 0 records\naudit trail tampered: the trail is empty, but the checkpoint of 2026-11-28 "
        "09:00 UTC covers records 1–5: records were deleted\n")


async def test_delete_and_rehash_is_caught(trail, capsys):
    _, tmp_path = trail
    conn = db(tmp_path)
    conn.execute("DELETE FROM audit WHERE seq = 2")
    rows = conn.execute("SELECT seq, at, event, actor, target, details FROM audit ORDER BY seq").fetchall()
    conn.execute("DELETE FROM audit")
    prev = GENESIS
    import json

    for new_seq, (_, at, event, actor, target, details) in enumerate(rows, start=1):
        digest = chain_hash(prev, new_seq, at, event, actor, target, json.loads(details))
        conn.execute("INSERT INTO audit (seq, at, event, actor, target, details, prev_hash, hash) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?)", (new_seq, at, event, actor, target, details, prev, digest))
        prev = digest
    conn.execute("INSERT INTO audit (seq, at, event, actor, target, details, prev_hash, hash) VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?)", (5, rows[-1][1], "code.released", "ada", "x", "{}", prev,
                                             chain_hash(prev, 5, rows[-1][1], "code.released", "ada", "x", {})))
    assert await verify() == 1
    assert capsys.readouterr().out == (
        "audit chain intact: 5 records\naudit trail tampered: record 5 does not match the checkpoint of 2026-11-28 "
        "09:00 UTC: the trail was rewritten (records deleted or changed and the hashes recomputed)\n")


async def test_a_forged_checkpoint_file_is_caught(trail, capsys):
    _, tmp_path = trail
    path = tmp_path / "audit-checkpoint.json"
    path.write_text(path.read_text().replace('"seq": 5', '"seq": 3'))
    assert await verify() == 1
    assert capsys.readouterr().out == (
        "audit checkpoint missing: the audit checkpoint file audit-checkpoint.json was "
        "changed by someone without its key\n")
