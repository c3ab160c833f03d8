"""BlobStorage, BlobCoordination and TableAuditLog against a real Azurite (OAuth over TLS, stub token)."""

import asyncio
import hashlib
import socket
import time
from datetime import timedelta

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import UpdateMode

from bot.adapters.azure_audit import TableAuditLog, row_key
from bot.adapters.azure_storage import REFUSED, UNAVAILABLE, BlobCoordination, BlobStorage, container_client
from bot.adapters.sqlite import SqliteAuditLog
from bot.core.audit_chain import GENESIS, chain_hash
from bot.core.errors import AuditWriteError, ConcurrencyConflict, DependencyUnavailable
from tests.support.azurite import ACCOUNT, DEV_KEY, azurite  # noqa: F401  (fixture)
from tests.support.fakes import FakeClock

ODD = "msteams:19:helpdesk@thread.tacv2;messageid=17/agent@contoso.example/ü ?#%"


@pytest.fixture
async def container(azurite):
    return await azurite.new_container()


@pytest.fixture
async def table(azurite):
    return await azurite.new_table()


@pytest.fixture
async def closing():
    opened = []
    yield opened.append
    for thing in opened:
        await thing.close()


async def test_state_round_trip_etags_and_delete(azurite, container, closing):
    credential = azurite.credential()
    storage = BlobStorage(azurite.container(container, credential))
    closing(storage)
    await storage.write({ODD: {"a": 1, "nested": {"b": [1, 2]}}, "plain": {"x": "y"}})
    found = await storage.read([ODD, "missing", "plain"])
    assert list(found) == [ODD, "plain"]
    first = found[ODD]
    assert {k: v for k, v in first.items() if k != "e_tag"} == {"a": 1, "nested": {"b": [1, 2]}}
    assert first["e_tag"].startswith('"0x')

    await storage.write({ODD: {"a": 2, "e_tag": first["e_tag"]}})
    with pytest.raises(ConcurrencyConflict):
        await storage.write({ODD: {"a": 3, "e_tag": first["e_tag"]}})  # stale etag
    with pytest.raises(ConcurrencyConflict):
        await storage.write({"never-written": {"a": 1, "e_tag": first["e_tag"]}})
    await storage.write({ODD: {"a": 4, "e_tag": "*"}})

    other = BlobStorage(azurite.container(container))  # a second client, as a second instance would have
    closing(other)
    again = (await other.read([ODD]))[ODD]
    assert again["a"] == 4 and again["e_tag"] != first["e_tag"]
    await other.delete([ODD, "missing"])
    assert await storage.read([ODD]) == {}
    assert await storage.read(["never-written"]) == {}
    assert credential.requests and credential.requests[0][0] == ("https://storage.azure.com/.default",)


async def test_blob_names_are_digests_with_the_key_in_metadata(azurite, container, closing):
    client = azurite.container(container)
    closing(client)
    await BlobStorage(client).write({ODD: {"a": 1}})
    blobs = [(b.name, b.metadata) async for b in client.list_blobs(include=["metadata"])]
    assert blobs == [(f"state/{hashlib.sha256(ODD.encode()).hexdigest()}",
                      {"key": "msteams%3A19%3Ahelpdesk%40thread.tacv2%3Bmessageid%3D17%2Fagent%40contoso.example"
                              "%2F%C3%BC%20%3F%23%25"})]


async def test_a_token_for_the_wrong_audience_is_refused_with_a_sentence(azurite, container, closing):
    if not azurite.oauth:
        pytest.skip("the Azurite in use takes account keys, not tokens")
    storage = BlobStorage(azurite.container(container, azurite.credential("https://vault.azure.net")))
    closing(storage)
    with pytest.raises(DependencyUnavailable) as error:
        await storage.read(["k"])
    assert error.value.message == REFUSED


async def test_a_hung_store_fails_within_the_deadline(closing):
    hung = socket.create_server(("127.0.0.1", 0))  # accepts connections (backlog), never answers
    try:
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/{ACCOUNT}"
        client = container_client(url, "c", AzureNamedKeyCredential(ACCOUNT, DEV_KEY), deadline=0.5)
        storage = BlobStorage(client, deadline=0.5)
        closing(storage)
        started = time.monotonic()
        with pytest.raises(DependencyUnavailable) as error:
            await storage.read(["k"])
        assert error.value.message == UNAVAILABLE
        assert time.monotonic() - started < 1.5
    finally:
        hung.close()


async def test_claims_are_create_only_expire_and_release_by_owner(azurite, container, closing):
    clock = FakeClock()
    a, b = BlobCoordination(azurite.container(container), clock), BlobCoordination(azurite.container(container), clock)
    closing(a), closing(b)
    assert await a.claim(ODD, "turn-a", 30) is True
    assert await b.claim(ODD, "turn-b", 30) is False
    assert await a.claim(ODD, "turn-a", 30) is False  # create-only, even for the same owner
    await b.release(ODD, "turn-b")  # not the owner: nothing happens
    assert await b.claim(ODD, "turn-b", 30) is False
    clock.advance(seconds=29)
    assert await b.claim(ODD, "turn-b", 30) is False
    clock.advance(seconds=2)
    assert await b.claim(ODD, "turn-b", 30) is True  # expired: taken over
    await a.release(ODD, "turn-a")  # the old owner no longer holds it
    assert await a.claim(ODD, "turn-a", 30) is False
    await b.release(ODD, "turn-b")
    assert await a.claim(ODD, "turn-a", 30) is True
    await a.release("never-claimed", "turn-a")


async def test_concurrent_claims_and_takeovers_have_one_winner(azurite, container, closing):
    clock = FakeClock()
    instances = [BlobCoordination(azurite.container(container), clock) for _ in range(2)]
    for c in instances:
        closing(c)
    results = await asyncio.gather(*(instances[i % 2].claim("lock", f"o{i}", 30) for i in range(12)))
    assert results.count(True) == 1
    clock.advance(seconds=31)
    results = await asyncio.gather(*(instances[i % 2].claim("lock", f"p{i}", 30) for i in range(12)))
    assert results.count(True) == 1


async def test_counters_use_fixed_windows(azurite, container, closing):
    clock = FakeClock()  # 09:00:00, a window boundary for 60 s and 3600 s
    client = azurite.container(container)
    closing(client)
    coordination = BlobCoordination(client, clock)
    assert [await coordination.count("rate/agent/a", 60) for _ in range(3)] == [1, 2, 3]
    assert await coordination.count("rate/agent/b", 60) == 1
    assert await coordination.count("rate/agent/a", 3600) == 1  # another window size is another counter
    clock.advance(seconds=59)
    assert await coordination.count("rate/agent/a", 60) == 4
    clock.advance(seconds=1)
    assert await coordination.count("rate/agent/a", 60) == 1
    names = {b.name async for b in client.list_blobs(name_starts_with="count/")}
    window = int(clock.now().timestamp() // 60)
    digest = lambda bucket: "count/" + hashlib.sha256(bucket.encode()).hexdigest()  # noqa: E731
    assert digest(f"rate/agent/a@{window}") in names
    assert digest(f"rate/agent/a@{window - 1}") not in names  # the previous window's counter was dropped
    assert digest(f"rate/agent/b@{window - 1}") in names


async def test_concurrent_increments_from_two_instances_sum_exactly(azurite, container, closing):
    clock = FakeClock()
    instances = [BlobCoordination(azurite.container(container), clock) for _ in range(2)]
    for c in instances:
        closing(c)
    results = await asyncio.gather(*(instances[i % 2].count("rate/global", 3600) for i in range(30)))
    assert sorted(results) == list(range(1, 31))
    assert await instances[0].count("rate/global", 3600) == 31


async def test_audit_chain_hashes_like_sqlite_and_names_the_tampered_record(azurite, table, closing, tmp_path):
    clock = FakeClock()
    audit = TableAuditLog(azurite.table(table), clock)
    closing(audit)
    sqlite = SqliteAuditLog(tmp_path / "audit.sqlite", clock)
    rows = [("verification.started", "ada", "alice@contoso.example", {"vid": "v1"}),
            ("code.released", "ada", "alice@contoso.example", {"vid": "v1", "window": "now"}),
            ("code.released", "ben", "bob@contoso.example", {"vid": "v2"})]
    written = []
    for row in rows:
        written.append(await audit.append(*row))
        assert (await sqlite.append(*row)).hash == written[-1].hash
        clock.advance(seconds=1.5)
    sqlite.close()
    assert (written[0].seq, written[0].prev_hash) == (1, GENESIS)
    assert written[1].prev_hash == written[0].hash
    assert written[1].hash == chain_hash(written[0].hash, 2, "2026-11-28T09:00:01.500000+00:00", *rows[1])
    assert await audit.records() == written
    assert await audit.records(since=written[1].at) == written[1:]
    assert await audit.records(since=written[1].at + timedelta(microseconds=1)) == written[2:]
    assert await audit.verify() is None

    async with azurite.table(table) as raw:  # the tamperer: another client with write access
        await raw.update_entity({"PartitionKey": "audit", "RowKey": row_key(2), "Actor": "mallory"},
                                mode=UpdateMode.MERGE)
        assert await audit.verify() == 2
        await raw.update_entity({"PartitionKey": "audit", "RowKey": row_key(2), "Actor": "ada"}, mode=UpdateMode.MERGE)
        assert await audit.verify() is None
        await raw.delete_entity("audit", row_key(2))
        assert await audit.verify() == 3


async def test_concurrent_appends_from_two_instances_keep_one_gapless_chain(azurite, table, closing):
    clock = FakeClock()
    a, b = TableAuditLog(azurite.table(table), clock), TableAuditLog(azurite.table(table), clock)
    closing(a), closing(b)
    await a.append("first", "ada", "", {})  # both instances have a head cached that goes stale below
    await b.append("second", "ben", "", {})
    calls = [log.append("code.released", name, "", {"n": str(n)})
             for n in range(25) for log, name in ((a, "a"), (b, "b"))]
    await asyncio.gather(*calls)
    records = await a.records()
    assert [r.seq for r in records] == list(range(1, 53))
    fresh = TableAuditLog(azurite.table(table), clock)  # no cached head: read from the table
    closing(fresh)
    assert await fresh.head() == 52
    assert sorted((r.actor, r.details["n"]) for r in records[2:]) == sorted(
        (name, str(n)) for n in range(25) for name in "ab")
    assert await b.verify() is None


async def test_audit_fails_closed_when_the_table_is_missing(azurite, closing):
    audit = TableAuditLog(azurite.table("tnosuchtable"), FakeClock())
    closing(audit)
    with pytest.raises(AuditWriteError):
        await audit.append("code.released", "ada", "alice@contoso.example", {})
    with pytest.raises(DependencyUnavailable):
        await audit.records()
    with pytest.raises(DependencyUnavailable):
        await audit.head()


async def test_listed_keys_are_scanned_page_by_page_with_their_values(azurite, container, closing, monkeypatch):
    import bot.adapters.azure_storage as azure_storage

    monkeypatch.setattr(azure_storage, "SCAN_PAGE", 2)  # three pages for five keys: continuation tokens followed
    storage = BlobStorage(azurite.container(container, azurite.credential()))
    closing(storage)
    entries = {f"open/{i:02d}-{ODD}": {"upn": f"u{i}@contoso.example", "status": "burned", "n": i} for i in range(5)}
    await storage.write({**entries, "token/x": {"not": "listed"}})
    assert await storage.scan("open/") == entries
    found = await storage.read(["open/03-" + ODD])
    assert {k: v for k, v in found["open/03-" + ODD].items() if k != "e_tag"} == entries["open/03-" + ODD]
    await storage.delete(["open/03-" + ODD])
    assert sorted(await storage.scan("open/")) == sorted(k for k in entries if not k.startswith("open/03"))
    with pytest.raises(ValueError):
        await storage.scan("token/")  # not a listed prefix: its blobs are named by digest


async def test_audit_streams_in_seq_windows_and_reads_one_target_through_its_copies(azurite, table, closing,
                                                                                    monkeypatch):
    import bot.adapters.azure_audit as azure_audit

    monkeypatch.setattr(azure_audit, "SEQ_WINDOW", 3)  # 8 records: windows 1-3, 4-6, 7-8
    clock = FakeClock()
    audit = TableAuditLog(azurite.table(table), clock)
    closing(audit)
    for i in range(8):
        clock.advance(hours=1)
        await audit.append("code.released", "ada", ("alice" if i % 3 == 0 else "bob#EXT#") + "@contoso.example",
                           {"n": str(i)})
    assert [r.seq for r in await audit.records()] == [1, 2, 3, 4, 5, 6, 7, 8]
    since = clock.now() - timedelta(hours=4, minutes=30)
    assert [r.seq for r in [r async for r in audit.stream(since)]] == [4, 5, 6, 7, 8]
    assert await audit.verify() is None
    alice = await audit.records_for("alice@contoso.example", clock.now() - timedelta(days=1), 50)
    assert [(r.seq, r.details["n"]) for r in alice] == [(1, "0"), (4, "3"), (7, "6")]
    assert alice == [r for r in await audit.records() if r.target == "alice@contoso.example"]  # hashes included
    assert [r.seq for r in await audit.records_for("bob#EXT#@contoso.example", since, 2)] == [6, 8]  # newest two
    assert await audit.records_for("nobody@contoso.example", since, 50) == []
    assert await audit.head() == 8
