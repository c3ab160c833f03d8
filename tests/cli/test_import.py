"""`otpbot import`: --replace, the lifecycle record, the summary table, the real CLI on the app's own stores;
and `otpbot export` does not exist."""

import asyncio
import io

import pytest

from bot.__main__ import _parser, main
from bot.adapters.local_directory import LocalDirectory
from bot.core.models import Seed
from bot.cli.demo import DIRECTORY_CSV
from bot.handlers.seed_import import DELETE_THE_FILE, import_file, summary
from tests.support.fakes import FakeClock, FakeSecretStore, MemoryAuditLog, MemoryState

ALICE_OID = "00000000-0000-4000-8000-0000000000c1"
FIRST = "username,secret,serial\nalice@contoso.example,2sk2 tsmk jp7k dbck,SN-1\n"
CHANGED = "username,secret,serial\nalice@contoso.example,JBSWY3DPEHPK3PXP,SN-2\n"


async def run(tmp_path, store, text, **kw):
    (tmp_path / "dir.csv").write_text(DIRECTORY_CSV)
    (tmp_path / "seeds.csv").write_text(text)
    clock, state = FakeClock(), MemoryState()
    audit = MemoryAuditLog(clock)
    report = await import_file(tmp_path / "seeds.csv", store, LocalDirectory(tmp_path / "dir.csv"), audit,
                               state=state, out=io.StringIO(), pace=1000, now=clock.now, **kw)
    return report, audit, state


async def test_replace_overwrites_a_different_seed_and_restarts_its_lifecycle(tmp_path):
    store = FakeSecretStore()
    await run(tmp_path, store, FIRST)
    report, audit, state = await run(tmp_path, store, CHANGED, replace=True)
    assert summary(report, False).splitlines() == [
        "Row  User                   Result", "  2  alice@contoso.example  replaced", "",
        "Rows: 1; imported 0, replaced 1, unchanged 0, flagged 0, problems 0.", DELETE_THE_FILE]
    assert (store.seeds[ALICE_OID].secret, store.seeds[ALICE_OID].serial) == ("JBSWY3DPEHPK3PXP", "SN-2")
    assert [(r.event, r.details) for r in audit.entries] == [
        ("seed.imported", {"serial": "SN-2", "period": "30", "replaced": "true"})]
    record = (await state.read([f"token/{ALICE_OID}"]))[f"token/{ALICE_OID}"]
    assert {k: v for k, v in record.items() if k != "e_tag"} == {
        "upn": "alice@contoso.example", "status": "burned", "burned_at": "2026-11-28T09:00:00+00:00",
        "serial": "SN-2", "source": "import"}


async def test_replace_dry_run_writes_nothing(tmp_path):
    store = FakeSecretStore()
    await run(tmp_path, store, FIRST)
    report, audit, state = await run(tmp_path, store, CHANGED, replace=True, dry_run=True)
    assert summary(report, True).splitlines()[1] == "  2  alice@contoso.example  would replace"
    assert store.seeds[ALICE_OID].secret == "2SK2TSMKJP7KDBCK" and audit.entries == [] and state.items == {}


async def test_a_disabled_stored_seed_is_flagged_not_compared(tmp_path):
    store = FakeSecretStore(Seed(ALICE_OID, "alice@contoso.example", "", enabled=False))
    report, _, _ = await run(tmp_path, store, FIRST)
    assert summary(report, False).splitlines()[1] == (
        "  2  alice@contoso.example  flagged: the stored seed is disabled, so it cannot be compared; not replaced "
        "(rerun with --replace to overwrite it)")


async def test_a_seed_in_the_username_column_is_hidden_in_the_table(tmp_path):
    text = "username,secret\n2sk2 tsmk jp7k dbck,alice@contoso.example\n"  # the columns swapped
    report, _, _ = await run(tmp_path, FakeSecretStore(), text)
    assert summary(report, False).splitlines()[:2] == [
        "Row  User      Result",
        "  2  (hidden)  problem: the username column holds what looks like a seed; check the file's columns (it is "
        "not shown)"]


def test_the_cli_is_idempotent_and_replaces_only_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path))
    (tmp_path / "directory.csv").write_text(DIRECTORY_CSV)
    sheet = tmp_path / "seeds.csv"
    sheet.write_text(FIRST)
    assert main(["import", "--local", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "  2  alice@contoso.example  imported" and out.endswith(DELETE_THE_FILE + "\n")
    assert main(["import", "--local", str(sheet)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "  2  alice@contoso.example  unchanged: the same seed is already stored")
    sheet.write_text(CHANGED)
    assert main(["import", "--local", str(sheet)]) == 1
    assert "flagged: a different seed is already stored" in capsys.readouterr().out
    assert main(["import", "--local", "--replace", str(sheet)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  2  alice@contoso.example  replaced"

    from bot.adapters.local_store import LocalSecretStore

    stored = asyncio.run(LocalSecretStore(tmp_path / "seeds.sqlite", tmp_path / "seeds.key").get_seed(ALICE_OID))
    assert (stored.secret, stored.serial) == ("JBSWY3DPEHPK3PXP", "SN-2")


def test_there_is_no_export_command(capsys):
    subcommands = next(a for a in _parser()._actions if a.dest == "command").choices
    assert "export" not in subcommands and sorted(subcommands) == [
        "audit", "demo", "import", "package", "serve", "sweep"]
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--local"])
    assert exit_.value.code == 2
    assert "invalid choice: 'export'" in capsys.readouterr().err
