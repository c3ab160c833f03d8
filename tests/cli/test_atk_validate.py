"""The app package as the Microsoft 365 Agents Toolkit CLI checks it (`atk validate`, offline: the manifest schema and
the toolkit's validation rules, the same ones the Teams admin center applies at upload).

The package is built by the one builder (`otpbot package`, also run by m365agents.yml) from the committed example
environment env/.env.dev; atk then validates the manifest extracted from that zip, next to its icons.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.cli.package import build_app_package, parse_env_file, values_from_env

REPO = Path(__file__).resolve().parents[2]
ATK = REPO / "node_modules" / ".bin" / "atk"

pytestmark = pytest.mark.e2e  # runs a Node tool: inside `make test`'s loopback-only namespace


def atk_validate(manifest: Path) -> subprocess.CompletedProcess:
    if not ATK.exists():
        pytest.fail(f"{ATK} missing: run `npm ci`", pytrace=False)
    env = {**os.environ, "TEAMSFX_TELEMETRY": "false", "NO_COLOR": "1"}
    return subprocess.run([str(ATK), "validate", "--manifest-file", str(manifest), "--telemetry", "false",
                           "--interactive", "false"], cwd=manifest.parent, env=env, capture_output=True, text=True,
                          timeout=120)


def built_package(tmp_path: Path) -> Path:
    example = parse_env_file((REPO / "env" / ".env.dev").read_text(encoding="utf-8"))
    zip_path = build_app_package(values_from_env(example), tmp_path / "appPackage.dev.zip")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        archive.extractall(folder)
    return folder / "manifest.json"


def test_the_built_package_passes_atk_validate(tmp_path):
    result = atk_validate(built_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All passed" in result.stdout
    assert "completed checking your app package against validation rules. All passed." in result.stdout


def test_atk_validate_rejects_what_the_admin_center_would(tmp_path):
    manifest = built_package(tmp_path)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["accentColor"] = "blue"
    data["bots"][0]["botId"] = "not-a-guid"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    result = atk_validate(manifest)
    assert result.returncode == 1
    assert "2 failed." in result.stdout
    assert '/accentColor must match pattern "^#[0-9a-fA-F]{6}$"' in result.stdout
    assert "/bots/0/botId must match pattern" in result.stdout
