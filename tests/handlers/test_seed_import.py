import io

from bot.adapters.local_directory import LocalDirectory
from bot.cli.demo import DIRECTORY_CSV
from bot.core.errors import AuditWriteError
from bot.handlers.seed_import import AUDIT_DOWN, DELETE_THE_FILE, import_file, summary
from bot.core.models import Algorithm, TotpParams
from tests.support.fakes import FakeClock, FakeSecretStore, MemoryAuditLog

CSV = """username,secret,serial,period,digits,algorithm
alice@contoso.example,2sk2 tsmk jp7k dbck,SN-1,,,
bob@contoso.example,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,SN-2,60,8,sha256
carol@contoso.example,not base32!,SN-3,,,
nobody@contoso.example,JBSWY3DPEHPK3PXP,,,,
ben@contoso.example,JBSWY3DPEHPK3PXP,,45,,
"""


async def run(tmp_path, store, text=CSV, dry_run=False):
    (tmp_path / "dir.csv").write_text(DIRECTORY_CSV)
    (tmp_path / "seeds.csv").write_text(text)
    out = io.StringIO()
    audit = MemoryAuditLog(FakeClock())
    report = await import_file(tmp_path / "seeds.csv", store, LocalDirectory(tmp_path / "dir.csv"), audit,
                               dry_run=dry_run, out=out, pace=1000)
    return report, out.getvalue(), audit


async def test_good_rows_go_in_and_bad_rows_are_reported_by_number(tmp_path):
    store = FakeSecretStore()
    report, progress, audit = await run(tmp_path, store)
    assert sorted(s.upn for s in store.seeds.values()) == ["alice@contoso.example", "bob@contoso.example"]
    alice = store.seeds["00000000-0000-4000-8000-0000000000c1"]
    assert (alice.secret, alice.params, alice.serial) == ("2SK2TSMKJP7KDBCK", TotpParams(), "SN-1")
    assert store.seeds["00000000-0000-4000-8000-0000000000c2"].params == TotpParams(60, 8, Algorithm.SHA256)
    assert summary(report, dry_run=False) == "\n".join([
        "Row  User                    Result",
        "  2  alice@contoso.example   imported",
        "  3  bob@contoso.example     imported",
        "  4  carol@contoso.example   problem: The seed is not valid base32: use only the letters A–Z and the digits 2–7.",
        "  5  nobody@contoso.example  problem: nobody@contoso.example is not in the directory.",
        "  6  ben@contoso.example     problem: period must be 30 or 60 seconds, not 45",
        "",
        "Rows: 5; imported 2, replaced 0, unchanged 0, flagged 0, problems 3.",
        DELETE_THE_FILE,
    ])
    assert audit.events() == ["seed.imported", "seed.imported"]
    assert progress.endswith("[##############################] 3/3\n")
    for secret in ("2sk2", "2SK2", "GEZDGNBV", "JBSWY3DP"):
        assert secret not in progress + summary(report, False) + str(audit.entries)


async def test_dry_run_writes_nothing(tmp_path):
    store = FakeSecretStore()
    report, _, audit = await run(tmp_path, store, dry_run=True)
    assert store.seeds == {} and audit.events() == []
    assert summary(report, dry_run=True).splitlines()[1:3] == ["  2  alice@contoso.example   would import",
                                                              "  3  bob@contoso.example     would import"]
    assert summary(report, dry_run=True).splitlines()[-1] == (
        "Rows: 5; would import 2, would replace 0, unchanged 0, flagged 0, problems 3.")  # no "delete" line


async def test_rerun_is_idempotent_and_a_different_seed_is_flagged(tmp_path):
    store = FakeSecretStore()
    await run(tmp_path, store)
    report, _, _ = await run(tmp_path, store)
    assert (report.imported, report.skipped_same) == (0, 2)
    changed = "username,secret\nalice@contoso.example,JBSWY3DPEHPK3PXP\n"
    report, _, _ = await run(tmp_path, store, changed)
    assert summary(report, False).splitlines() == [
        "Row  User                   Result",
        "  2  alice@contoso.example  flagged: a different seed is already stored; not replaced "
        "(rerun with --replace to overwrite it)",
        "",
        "Rows: 1; imported 0, replaced 0, unchanged 0, flagged 1, problems 0."]
    assert store.seeds["00000000-0000-4000-8000-0000000000c1"].secret == "2SK2TSMKJP7KDBCK"


async def test_writes_are_paced_under_key_vaults_create_limit(tmp_path):
    """300 rows: no 10-second span may hold more than 300 creates (Key Vault's limit)."""
    directory_rows = ["upn,object_id,display_name,phone,manager_upn"]
    seed_rows = ["username,secret"]
    for i in range(300):
        directory_rows.append(f"u{i}@contoso.example,00000000-0000-4000-8000-{i:012d},U {i},+1 555 0100,")
        seed_rows.append(f"u{i}@contoso.example,JBSWY3DPEHPK3PXP")
    (tmp_path / "dir.csv").write_text("\n".join(directory_rows))
    (tmp_path / "seeds.csv").write_text("\n".join(seed_rows))
    now = [0.0]
    writes = []

    class TimedStore(FakeSecretStore):
        async def put_seed(self, seed):
            writes.append(now[0])
            now[0] += 0.001  # a fast vault
            await super().put_seed(seed)

    async def sleep(seconds):
        now[0] += seconds

    await import_file(tmp_path / "seeds.csv", TimedStore(), LocalDirectory(tmp_path / "dir.csv"),
                      MemoryAuditLog(FakeClock()), out=io.StringIO(), sleep=sleep, monotonic=lambda: now[0])
    assert len(writes) == 300
    busiest = max(sum(1 for t in writes if start <= t < start + 10) for start in writes)
    assert busiest <= 251  # 25 per second; Key Vault allows 300 per 10 s
    assert round(writes[-1] - writes[0], 2) == 11.96
    writes.clear()
    slept = []

    async def record_sleep(seconds):
        slept.append(seconds)

    await import_file(tmp_path / "seeds.csv", TimedStore(), LocalDirectory(tmp_path / "dir.csv"),
                      MemoryAuditLog(FakeClock()), out=io.StringIO(), sleep=record_sleep,
                      monotonic=lambda: now[0], pace=None)  # the local store: no vault to spare
    assert (len(writes), slept) == (300, [])


async def test_a_row_for_a_disabled_account_is_a_problem_and_stores_nothing(tmp_path):
    (tmp_path / "dir.csv").write_text(
        "upn,object_id,display_name,phone,manager_upn,enabled\n"
        "dan@contoso.example,00000000-0000-4000-8000-0000000000c9,Dan Leaver,+44 20 7946 0111,,false\n")
    (tmp_path / "seeds.csv").write_text("username,secret,serial,period,digits,algorithm\n"
                                        "dan@contoso.example,JBSWY3DPEHPK3PXP,SN-9,,,\n")
    store, audit = FakeSecretStore(), MemoryAuditLog(FakeClock())
    report = await import_file(tmp_path / "seeds.csv", store, LocalDirectory(tmp_path / "dir.csv"), audit,
                               dry_run=False, out=io.StringIO(), pace=1000)
    assert store.seeds == {}
    assert summary(report, dry_run=False).splitlines()[:2] == [
        "Row  User                 Result",
        "  2  dan@contoso.example  problem: The account dan@contoso.example is disabled in the directory."]


async def test_a_seed_is_stored_only_after_its_audit_record_and_the_import_stops_when_the_trail_is_down(tmp_path):
    store = FakeSecretStore()
    (tmp_path / "dir.csv").write_text(DIRECTORY_CSV)
    (tmp_path / "seeds.csv").write_text(CSV)
    audit = MemoryAuditLog(FakeClock())
    stored_when_audited = []
    real_append = audit.append

    async def append(event, actor, target, details):
        stored_when_audited.append((target, len(store.seeds)))
        if len(audit.entries) == 1:
            raise AuditWriteError("audit sink down")
        return await real_append(event, actor, target, details)

    audit.append = append
    report = await import_file(tmp_path / "seeds.csv", store, LocalDirectory(tmp_path / "dir.csv"), audit,
                               out=io.StringIO(), pace=1000)
    assert stored_when_audited == [("alice@contoso.example", 0), ("bob@contoso.example", 1)]
    assert sorted(s.upn for s in store.seeds.values()) == ["alice@contoso.example"]
    assert [(o.row, o.user, o.result, o.reason) for o in report.outcomes] == [
        (2, "alice@contoso.example", "imported", ""),
        (3, "bob@contoso.example", "problem", AUDIT_DOWN),
        (4, "carol@contoso.example", "problem",
         "The seed is not valid base32: use only the letters A–Z and the digits 2–7."),
        (5, "nobody@contoso.example", "problem", AUDIT_DOWN),
        (6, "ben@contoso.example", "problem", "period must be 30 or 60 seconds, not 45")]


async def test_unpaced_rows_run_together_but_a_users_rows_in_file_order_and_an_audit_outage_stops_them(tmp_path):
    import asyncio

    people = ["upn,object_id,display_name,phone,manager_upn"] + [
        f"u{i}@contoso.example,00000000-0000-4000-8000-{i:012d},U {i},+1 555 0100," for i in range(40)]
    (tmp_path / "dir.csv").write_text("\n".join(people))
    rows = ["username,secret"] + [f"u{i}@contoso.example,JBSWY3DPEHPK3PXP" for i in range(40)]
    rows.append("u7@contoso.example,GEZDGNBVGY3TQOJQ")  # the same user again, with another seed
    (tmp_path / "seeds.csv").write_text("\n".join(rows))
    in_flight, most = [0], [0]

    class SlowStore(FakeSecretStore):
        async def put_seed(self, seed):
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            await asyncio.sleep(0.01)
            in_flight[0] -= 1
            await super().put_seed(seed)

    store, audit = SlowStore(), MemoryAuditLog(FakeClock())
    report = await import_file(tmp_path / "seeds.csv", store, LocalDirectory(tmp_path / "dir.csv"), audit,
                               out=io.StringIO(), pace=None, replace=True)
    assert most[0] == 16  # UNPACED_IN_FLIGHT
    assert [o.result for o in report.outcomes][-1] == "replaced"  # after row 9 (the first u7), in file order
    assert store.seeds["00000000-0000-4000-8000-000000000007"].secret == "GEZDGNBVGY3TQOJQ"
    appended = []

    class FailingAudit(MemoryAuditLog):
        async def append(self, *args):
            if len(appended) == 20:
                raise AuditWriteError("down")
            appended.append(args)
            return await super().append(*args)

    store = FakeSecretStore()
    (tmp_path / "seeds.csv").write_text("\n".join(rows[:41]))
    report = await import_file(tmp_path / "seeds.csv", store, LocalDirectory(tmp_path / "dir.csv"),
                               FailingAudit(FakeClock()), out=io.StringIO(), pace=None)
    assert (report.imported, report.count("problem"), len(store.seeds)) == (20, 20, 20)  # never stored unaudited
    assert {o.reason for o in report.outcomes if o.result == "problem"} == {AUDIT_DOWN}
