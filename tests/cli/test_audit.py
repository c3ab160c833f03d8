import csv
import io
import json

from bot.__main__ import main
from bot.adapters.sqlite import SqliteAuditLog
from tests.support.fakes import FakeClock


async def fill(tmp_path):
    audit = SqliteAuditLog(tmp_path / "audit.sqlite", FakeClock())
    await audit.append("verification.started", "ada", "alice@contoso.example", {"vid": "v1"})
    await audit.append("code.released", "ada", "alice@contoso.example", {"vid": "v1", "ticket": "INC-1"})
    return audit


async def test_export_jsonl_and_csv(tmp_path, monkeypatch, capsys):
    await fill(tmp_path)
    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path))
    assert await _run(["audit", "--local", "export", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["seq"], r["event"], r["details"]) for r in rows] == [
        (1, "verification.started", {"vid": "v1"}), (2, "code.released", {"ticket": "INC-1", "vid": "v1"})]
    assert await _run(["audit", "--local", "export", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "seq,at,event,actor,target,details,prev_hash,hash"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["seq"], r["at"], r["event"], r["actor"], r["target"], json.loads(r["details"])) for r in rows] == [
        ("1", "2026-11-28T09:00:00+00:00", "verification.started", "ada", "alice@contoso.example", {"vid": "v1"}),
        ("2", "2026-11-28T09:00:00+00:00", "code.released", "ada", "alice@contoso.example",
         {"ticket": "INC-1", "vid": "v1"})]
    assert rows[1]["details"] == '{"ticket": "INC-1", "vid": "v1"}'
    assert (rows[0]["prev_hash"], rows[1]["prev_hash"]) == ("0" * 64, rows[0]["hash"])
    assert await _run(["audit", "--local", "export", "--format", "csv", "--since", "2026-11-28"]) == 0
    assert [r["seq"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == ["1", "2"]  # the day itself
    assert await _run(["audit", "--local", "export", "--format", "csv", "--since", "2026-11-29"]) == 0
    assert capsys.readouterr().out.splitlines() == ["seq,at,event,actor,target,details,prev_hash,hash"]


async def test_verify_names_the_first_broken_record(tmp_path, monkeypatch, capsys):
    audit = await fill(tmp_path)
    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path))
    assert await _run(["audit", "--local", "verify"]) == 0
    assert capsys.readouterr().out == (
        "audit chain intact: 2 records\naudit checkpoint: no checkpoint yet: none of the 2 records is covered, so a "
        "shortened or recomputed trail would not show\n")
    audit._db.execute("UPDATE audit SET details = '{\"vid\": \"v1\"}' WHERE seq = 2")
    assert await _run(["audit", "--local", "verify"]) == 1
    assert capsys.readouterr().out == ("audit chain broken at record 2: it or its predecessor was changed or "
                                       "removed\n")


async def _run(argv):
    import asyncio

    return await asyncio.to_thread(main, argv)


async def test_local_is_accepted_after_the_action_and_no_production_settings_are_needed(tmp_path, monkeypatch,
                                                                                        capsys):
    await fill(tmp_path)
    for name in ("MicrosoftAppId", "MicrosoftAppTenantId", "MicrosoftAppType", "OTPBOT_KEYVAULT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path))
    assert await _run(["audit", "export", "--local"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert await _run(["audit", "verify"]) == 0  # production mode: the data directory is all it needs
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "audit chain intact: 2 records\naudit checkpoint: no checkpoint yet: none of the 2 records is covered, so a "
        "shortened or recomputed trail would not show\n", "")


async def test_exit_2_names_why_the_trail_could_not_be_read(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path / "nowhere"))
    assert await _run(["audit", "verify", "--local"]) == 2
    assert capsys.readouterr().err == (
        f"could not read the audit trail: there is no audit trail in {tmp_path / 'nowhere'} (set OTPBOT_DATA_DIR "
        "to the bot's data directory, OTPBOT_TABLE_ACCOUNT_URL for Table Storage, or use --local for the local "
        "mode's).\n")
    assert not (tmp_path / "nowhere").exists()  # nothing created
    monkeypatch.setenv("OTPBOT_TABLE_ACCOUNT_URL", "https://127.0.0.1:9/devstoreaccount1")  # nothing listens there
    assert await _run(["audit", "export"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", (
        "could not read the audit trail: The audit trail (Azure Table Storage) did not answer in time. Try again "
        "in a minute; if it keeps failing, tell the bot admin.\n"))


async def test_verify_and_export_stream_with_progress_on_stderr(tmp_path, monkeypatch, capsys):
    import bot.cli.audit as audit_cli

    audit = SqliteAuditLog(tmp_path / "audit.sqlite", FakeClock())
    for i in range(5):
        await audit.append("code.released", "ada", "alice@contoso.example", {"n": str(i)})
    monkeypatch.setattr(audit_cli, "PROGRESS_EVERY", 2)
    monkeypatch.setenv("OTPBOT_DATA_DIR", str(tmp_path))
    assert await _run(["audit", "verify"]) == 0
    assert capsys.readouterr().err == "audit: checked 2 records …\naudit: checked 4 records …\n"
    assert await _run(["audit", "export"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["seq"] for line in captured.out.splitlines()] == [1, 2, 3, 4, 5]
    assert captured.err == ("audit: exported 2 records …\naudit: exported 4 records …\n"
                            "audit: exported 5 records\n")
    audit._db.execute("DELETE FROM audit WHERE seq = 4")
    assert await _run(["audit", "verify"]) == 1
    assert capsys.readouterr().out == ("audit chain broken at record 5: it or its predecessor was changed or "
                                       "removed\n")
