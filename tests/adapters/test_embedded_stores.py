import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from bot.adapters.local_directory import LocalDirectory
from bot.adapters.local_store import LocalSecretStore
from bot.adapters.sqlite import SqliteAuditLog, SqliteStorage
from bot.core.errors import ConcurrencyConflict, DependencyUnavailable, SeedNotFound
from bot.core.models import Algorithm, Person, Seed, TokenStatus, TotpParams
from bot.cli.demo import DIRECTORY_CSV
from tests.support.fakes import FakeClock

SEED = Seed("00000000-0000-4000-8000-0000000000c1", "alice@contoso.example", "JBSWY3DPEHPK3PXP",
            TotpParams(60, 8, Algorithm.SHA512), TokenStatus.SHIPPED, "SN-1", True,
            datetime(2027, 1, 1, tzinfo=timezone.utc))


async def test_local_store_round_trip_is_encrypted_with_a_0600_key(tmp_path):
    store = LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key")
    await store.put_seed(SEED)
    assert await LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key").get_seed(SEED.object_id) == SEED
    assert stat.S_IMODE(os.stat(tmp_path / "seeds.key").st_mode) == 0o600
    await store.close()
    assert stat.S_IMODE(os.stat(tmp_path / "seeds.sqlite").st_mode) == 0o600
    blob = (tmp_path / "seeds.sqlite").read_bytes()
    assert b"JBSWY3DP" not in blob and b"alice" not in blob
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["seeds.key", "seeds.sqlite"]  # and its -wal, -shm
    assert {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()} == {0o600}


async def test_local_store_writes_one_row_per_seed_and_a_row_cannot_be_moved_to_another_user(tmp_path):
    import sqlite3

    store = LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key")
    bob = Seed("00000000-0000-4000-8000-0000000000c2", "bob@contoso.example", "GEZDGNBVGY3TQOJQ")
    await store.put_seed(SEED)
    await store.put_seed(bob)
    await store.disable(bob.object_id)
    db = sqlite3.connect(tmp_path / "seeds.sqlite")
    alice_row = db.execute("SELECT sealed FROM seeds WHERE object_id = ?", (SEED.object_id,)).fetchone()[0]
    assert db.execute("SELECT count(*) FROM seeds").fetchone() == (2,)
    assert [s.enabled for s in await store.list_seeds()] == [True, False]
    db.execute("UPDATE seeds SET sealed = ? WHERE object_id = ?", (alice_row, bob.object_id))
    db.commit()
    with pytest.raises(DependencyUnavailable):  # Alice's sealed row under Bob's id does not open
        await store.get_seed(bob.object_id)
    await store.delete_and_purge(SEED.object_id)
    with pytest.raises(SeedNotFound):
        await store.delete_and_purge(SEED.object_id)
    await store.close()


async def test_the_former_single_file_store_is_migrated_and_removed(tmp_path):
    import json

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = os.urandom(32)
    (tmp_path / "seeds.key").write_bytes(key)
    record = {"upn": SEED.upn, "secret": SEED.secret, "period": 60, "digits": 8, "algorithm": "SHA512",
              "status": "shipped", "serial": "SN-1", "enabled": True, "expires_at": "2027-01-01T00:00:00+00:00"}
    nonce = os.urandom(12)
    (tmp_path / "seeds.enc").write_bytes(nonce + AESGCM(key).encrypt(
        nonce, json.dumps({SEED.object_id: record}).encode(), b"otpbot-local-seeds-v1"))
    store = LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key")
    assert await store.get_seed(SEED.object_id) == SEED
    assert not (tmp_path / "seeds.enc").exists()
    await store.close()


async def test_local_store_not_found_and_wrong_key(tmp_path):
    store = LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key")
    with pytest.raises(SeedNotFound):
        await store.get_seed(SEED.object_id)
    await store.put_seed(SEED)
    (tmp_path / "other.key").write_bytes(os.urandom(32))
    with pytest.raises(DependencyUnavailable) as error:
        await LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "other.key").get_seed(SEED.object_id)
    assert error.value.message == "The local seed store cannot be decrypted with its key file."


def test_seed_repr_hides_the_secret():
    assert "JBSWY3DP" not in repr(SEED)


async def test_sqlite_state_etags(tmp_path):
    storage = SqliteStorage(tmp_path / "state.sqlite")
    await storage.write({"k": {"a": 1}})
    first = (await storage.read(["k", "missing"]))
    assert list(first) == ["k"] and first["k"]["a"] == 1
    await storage.write({"k": {"a": 2, "e_tag": first["k"]["e_tag"]}})
    with pytest.raises(ConcurrencyConflict):
        await storage.write({"k": {"a": 3, "e_tag": first["k"]["e_tag"]}})  # stale etag
    await storage.write({"k": {"a": 4, "e_tag": "*"}})
    assert (await SqliteStorage(tmp_path / "state.sqlite").read(["k"]))["k"]["a"] == 4  # survives a restart
    await storage.delete(["k"])
    assert await storage.read(["k"]) == {}


async def test_audit_chain_verifies_and_names_the_first_tampered_record(tmp_path):
    audit = SqliteAuditLog(tmp_path / "audit.sqlite", FakeClock())
    assert await audit.head() == 0
    first = await audit.append("verification.started", "ada", "alice@contoso.example", {"vid": "v1"})
    second = await audit.append("code.released", "ada", "alice@contoso.example", {"vid": "v1"})
    await audit.append("code.released", "ben", "bob@contoso.example", {"vid": "v2"})
    assert (first.seq, first.prev_hash) == (1, "0" * 64)
    assert second.prev_hash == first.hash
    assert (await audit.verify(), await audit.head()) == (None, 3)
    audit._db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    assert await audit.verify() == 2
    audit._db.execute("UPDATE audit SET actor = 'ada' WHERE seq = 2")
    audit._db.execute("DELETE FROM audit WHERE seq = 2")
    assert await audit.verify() == 3


async def test_local_directory_exact_matches_only(tmp_path):
    path = tmp_path / "directory.csv"
    path.write_text(DIRECTORY_CSV)
    directory = LocalDirectory(path)
    assert await directory.find_by_upn("alice@contoso.example") == Person(
        "alice@contoso.example", "00000000-0000-4000-8000-0000000000c1", "Alice User", "+44 7700 900958",
        "mia@contoso.example", mobile="+44 7700 900958")
    assert await directory.find_by_upn("alice@contoso") is None
    carol = await directory.find_by_upn("carol@contoso.example")  # a landline only: called back, never texted
    assert (carol.phone_of_record, carol.mobile) == ("+44 20 7946 0959", None)
    bad = tmp_path / "bad.csv"
    bad.write_text("upn,object_id\n")
    with pytest.raises(ValueError):
        LocalDirectory(bad)


async def test_audit_records_since_is_filtered_at_the_boundary(tmp_path):
    clock = FakeClock()
    audit = SqliteAuditLog(tmp_path / "audit.sqlite", clock)
    await audit.append("a", "ada", "x", {})
    clock.advance(seconds=0.5)
    middle = clock.now()
    await audit.append("b", "ada", "x", {})
    clock.advance(seconds=1)
    await audit.append("c", "ada", "x", {})
    assert [r.event for r in await audit.records(middle)] == ["b", "c"]
    assert [r.event for r in await audit.records(middle + timedelta(microseconds=1))] == ["c"]
    assert [r.event for r in await audit.records()] == ["a", "b", "c"]


async def test_sqlite_audit_streams_by_pages_and_reads_one_target_through_its_index(tmp_path):
    from datetime import timedelta

    from bot.adapters.sqlite import SqliteAuditLog
    from tests.support.fakes import FakeClock

    clock = FakeClock()
    audit = SqliteAuditLog(tmp_path / "audit.sqlite", clock)
    for i in range(7):
        clock.advance(hours=1)
        await audit.append("code.released", "ada", "alice@x.example" if i % 2 else "bob@x.example", {"n": str(i)})
    assert [r.seq async for r in audit.stream(page=2)] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.seq async for r in audit.stream(clock.now() - timedelta(hours=2), page=2)] == [5, 6, 7]
    assert [r.seq for r in await audit.records_for("alice@x.example", clock.now() - timedelta(days=1), 2)] == [4, 6]
    assert [r.seq for r in await audit.records_for("bob@x.example", clock.now() - timedelta(hours=3), 50)] == [5, 7]
    plan = audit._db.execute("EXPLAIN QUERY PLAN SELECT * FROM audit WHERE target = ? AND at >= ? ORDER BY seq "
                             "DESC LIMIT 50", ("bob@x.example", "")).fetchall()
    assert "USING INDEX audit_by_target" in plan[0][3]
    audit._db.execute("UPDATE audit SET details = '{}' WHERE seq = 3")
    assert await audit.verify() == 3
    audit.close()
