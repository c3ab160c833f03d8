"""infra/hooks/grant-graph-permissions.sh (azd postprovision) against a stand-in `az` that answers like Entra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOOK = REPO / "infra" / "hooks" / "grant-graph-permissions.sh"
ROLES = {"User.Read.All": "df021288-bdef-4463-88db-98f22de89214", "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
         "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96"}
FAKE_AZ = f'''#!{sys.executable}
import json, os, re, sys
args = sys.argv[1:]
with open(os.environ["AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
roles = {json.dumps(ROLES)}
if args[:3] == ["ad", "sp", "show"]:
    query = args[args.index("--query") + 1]
    found = re.search(r"value=='([^']+)'", query)
    print(roles.get(found.group(1), "") if found else "graph-sp-object-id")
elif args[:1] == ["rest"] and args[args.index("--method") + 1] == "GET":
    print("\\n".join(os.environ.get("AZ_HAVE", "").split()))
'''


def run_hook(tmp_path: Path, have: list[str], **env) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "az").write_text(FAKE_AZ)
    (bin_dir / "az").chmod(0o755)
    log = tmp_path / "az.log"
    log.unlink(missing_ok=True)
    environ = {"PATH": f"{bin_dir}:/usr/bin:/bin", "AZ_LOG": str(log), "AZ_HAVE": " ".join(have), **env}
    result = subprocess.run(["sh", str(HOOK)], env=environ, capture_output=True, text=True, timeout=30)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def posted(calls: list[list[str]]) -> list[dict]:
    return [json.loads(c[c.index("--body") + 1]) for c in calls if c[:3] == ["rest", "--method", "POST"]]


def test_grants_the_missing_graph_permissions_once(tmp_path):
    result, calls = run_hook(tmp_path, have=[ROLES["User.Read.All"]], BOT_IDENTITY_PRINCIPAL_ID="mi-object-id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Graph User.Read.All: already granted", "Graph GroupMember.Read.All: granted"]
    assert posted(calls) == [{"principalId": "mi-object-id", "resourceId": "graph-sp-object-id",
                              "appRoleId": ROLES["GroupMember.Read.All"]}]
    assert all("https://graph.microsoft.com/v1.0/servicePrincipals/mi-object-id/appRoleAssignments" in c
               for c in calls if c[0] == "rest")


def test_mail_send_only_with_a_mail_sender(tmp_path):
    result, calls = run_hook(tmp_path, have=list(ROLES.values())[:2], BOT_IDENTITY_PRINCIPAL_ID="mi",
                             OTPBOT_MAIL_SENDER="helpdesk-notify@contoso.example")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "Graph Mail.Send: granted"
    assert [b["appRoleId"] for b in posted(calls)] == [ROLES["Mail.Send"]]


def test_refuses_to_run_without_the_identity(tmp_path):
    result, calls = run_hook(tmp_path, have=[])
    assert result.returncode != 0 and "BOT_IDENTITY_PRINCIPAL_ID is not set" in result.stderr and calls == []
