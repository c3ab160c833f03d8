"""The Teams app manifest, its icons and the app package (bot/cli/package.py).

The official v1.30 schema comes from ../shared (skipped with a reason when that folder is absent);
icons are read with zlib/struct only, so the tests need no Pillow.
"""

from __future__ import annotations

import copy
import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft7Validator

from bot.cli import package as packaging
from bot.cli.package import PackagingError, build_app_package, parse_env_file, render_manifest, values_from_env

REPO = Path(__file__).resolve().parents[2]
MANIFEST_DIR = REPO / "appPackage"
OFFICIAL_SCHEMA = REPO.parent / "shared" / "schemas" / "teams" / "v1.30" / "MicrosoftTeams.schema.json"
from bot.core.commands import COMMANDS as CORE_COMMANDS

COMMANDS = {c.name for c in CORE_COMMANDS}  # the manifest lists exactly what the bot understands

SAMPLE = {
    "BOT_ID": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
    "TEAMS_APP_ID": "6b0b6a3e-1c1e-4f5e-8d2a-7f1f2b3c4d5e",
    "APP_HOSTNAME": "app-abc123.azurewebsites.net",
    "APP_VERSION": "1.2.3",
    "DEVELOPER_NAME": "Contoso IT",
    "DEVELOPER_WEBSITE_URL": "https://it.contoso.com/helpdesk",
    "DEVELOPER_PRIVACY_URL": "https://it.contoso.com/privacy",
    "DEVELOPER_TERMS_URL": "https://it.contoso.com/terms",
}


def official_schema() -> dict:
    if not OFFICIAL_SCHEMA.is_file():
        pytest.skip(f"official Teams v1.30 schema not found at {OFFICIAL_SCHEMA} (../shared is absent)")
    return json.loads(OFFICIAL_SCHEMA.read_text(encoding="utf-8"))


def template() -> dict:
    return json.loads((MANIFEST_DIR / "manifest.json").read_text(encoding="utf-8"))


def rendered() -> dict:
    return render_manifest(template(), SAMPLE)


# ------------------------------------------------------------------------------ schema validation

def test_rendered_manifest_is_valid_under_official_v130_schema_with_draft7():
    errors = [e.message for e in Draft7Validator(official_schema()).iter_errors(rendered())]
    assert errors == []


def test_wrong_manifest_version_fails_under_draft7_but_draft4_would_let_it_pass():
    schema = official_schema()
    manifest = rendered()
    manifest["manifestVersion"] = "1.24"
    draft7 = [e.validator for e in Draft7Validator(schema).iter_errors(manifest)]
    assert draft7 == ["const"]
    # The trap this guards against: the schema's declared draft ignores `const`.
    assert list(Draft4Validator(schema).iter_errors(manifest)) == []
    with pytest.raises(PackagingError, match="manifestVersion"):
        packaging.validate_manifest(manifest, OFFICIAL_SCHEMA)


def test_vendored_schema_is_the_official_v130_schema():
    official_schema()
    assert packaging.VENDORED_SCHEMA.read_bytes() == OFFICIAL_SCHEMA.read_bytes()


def test_vendored_schema_validates_when_shared_is_absent(tmp_path):
    # Production has no ../shared: the shipped copy must be enough on its own.
    manifest = rendered()
    assert packaging.schema_errors(manifest, packaging.VENDORED_SCHEMA) == []
    manifest["bots"][0]["botId"] = "not-a-guid"
    errors = packaging.schema_errors(manifest, packaging.VENDORED_SCHEMA)
    assert len(errors) == 1 and errors[0].startswith("bots/0/botId:")


def test_manifest_declares_v130_everywhere():
    manifest = template()
    assert manifest["manifestVersion"] == "1.30"
    assert manifest["$schema"] == (
        "https://developer.microsoft.com/en-us/json-schemas/teams/v1.30/MicrosoftTeams.schema.json"
    )


# ------------------------------------------------------------------------------------ bot section

def test_bot_scopes_files_and_placeholders():
    manifest = template()
    (bot,) = manifest["bots"]
    assert bot["botId"] == "${{BOT_ID}}"
    assert bot["scopes"] == ["team", "personal"]
    assert bot["supportsFiles"] is False
    assert bot["isNotificationOnly"] is False
    assert manifest["id"] == "${{TEAMS_APP_ID}}"
    assert manifest["validDomains"] == ["${{APP_HOSTNAME}}"]
    assert "webApplicationInfo" not in manifest  # no SSO / RSC: identity comes from the activity


def test_command_lists_cover_exactly_the_bot_commands_in_each_scope():
    (bot,) = template()["bots"]
    scopes = [tuple(cl["scopes"]) for cl in bot["commandLists"]]
    assert scopes == [("team",), ("personal",)]
    for command_list in bot["commandLists"]:
        titles = [c["title"] for c in command_list["commands"]]
        assert len(titles) == len(set(titles))
        assert set(titles) == COMMANDS
        for command in command_list["commands"]:
            description = command["description"]
            assert description.strip() and "\n" not in description and len(description) <= 100


# ------------------------------------------------------------------------------------------ icons

def read_png(path: Path) -> tuple[int, int, int, list[list[tuple[int, ...]]]]:
    """(width, height, colour type, rows of pixel tuples) for 8-bit non-interlaced PNGs."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour, _comp, _filter, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous, offset = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[offset], bytearray(raw[offset + 1:offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 0xFF
            else:
                assert kind == 0, f"unknown PNG filter {kind}"
        rows.append([tuple(line[x:x + channels]) for x in range(0, stride, channels)])
        previous = line
    assert offset == len(raw)
    return width, height, colour, rows


def test_color_icon_is_192_square():
    width, height, colour, rows = read_png(MANIFEST_DIR / "color.png")
    assert (width, height) == (192, 192)
    assert len(rows) == 192 and all(len(row) == 192 for row in rows)


def test_outline_icon_is_32_square_white_on_transparent():
    width, height, colour, rows = read_png(MANIFEST_DIR / "outline.png")
    assert (width, height) == (32, 32)
    assert colour == 6, "outline.png must be RGBA (it needs an alpha channel)"
    pixels = [p for row in rows for p in row]
    for corner in (rows[0][0], rows[0][-1], rows[-1][0], rows[-1][-1]):
        assert corner[3] == 0, "the background must be transparent"
    assert {p[:3] for p in pixels if p[3] > 0} == {(255, 255, 255)}, "visible pixels must be white"
    transparent = sum(1 for p in pixels if p[3] == 0)
    opaque = sum(1 for p in pixels if p[3] == 255)
    assert transparent >= 200 and opaque >= 100  # a glyph on a mostly clear background


# ------------------------------------------------------------------------------------- rendering

def test_unresolved_placeholders_raise_and_list_every_name():
    values = {k: v for k, v in SAMPLE.items() if k not in ("BOT_ID", "DEVELOPER_NAME")}
    values["APP_HOSTNAME"] = "   "  # blank counts as missing
    with pytest.raises(PackagingError) as caught:
        render_manifest(template(), values)
    message = str(caught.value)
    for name in ("${{APP_HOSTNAME}}", "${{BOT_ID}}", "${{DEVELOPER_NAME}}"):
        assert name in message
    assert "${{TEAMS_APP_ID}}" not in message


def test_values_are_substituted_inside_strings_only():
    values = dict(SAMPLE, DEVELOPER_NAME='Contoso "IT", Inc')
    manifest = render_manifest(template(), values)
    assert manifest["developer"]["name"] == 'Contoso "IT", Inc'
    assert manifest["bots"][0]["botId"] == SAMPLE["BOT_ID"]
    assert manifest["validDomains"] == [SAMPLE["APP_HOSTNAME"]]
    assert packaging.placeholders_in(manifest) == set()


def test_a_value_that_is_itself_a_placeholder_is_refused():
    with pytest.raises(PackagingError, match=r"\$\{\{OTHER\}\}"):
        render_manifest(template(), dict(SAMPLE, DEVELOPER_NAME="${{OTHER}}"))


def test_hostname_with_scheme_is_refused(tmp_path):
    with pytest.raises(PackagingError, match="bare host name"):
        build_app_package(dict(SAMPLE, APP_HOSTNAME="https://x.azurewebsites.net/"), tmp_path / "app.zip")
    assert not (tmp_path / "app.zip").exists()


def test_non_guid_bot_id_fails_validation(tmp_path):
    with pytest.raises(PackagingError, match="bots/0/botId"):
        build_app_package(dict(SAMPLE, BOT_ID="my-bot"), tmp_path / "app.zip")


# --------------------------------------------------------------------------------------- the zip

def test_package_zip_has_manifest_and_icons_at_the_root(tmp_path):
    out = build_app_package(SAMPLE, tmp_path / "sub" / "app.zip")
    assert out == tmp_path / "sub" / "app.zip"
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("color.png") == (MANIFEST_DIR / "color.png").read_bytes()
        assert archive.read("outline.png") == (MANIFEST_DIR / "outline.png").read_bytes()
    assert manifest == rendered()
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert not list(tmp_path.glob("sub/*.partial"))


def test_package_is_byte_for_byte_reproducible(tmp_path):
    first = build_app_package(SAMPLE, tmp_path / "a.zip").read_bytes()
    second = build_app_package(SAMPLE, tmp_path / "b.zip").read_bytes()
    assert first == second


def test_wrong_icon_size_is_refused(tmp_path):
    icons = tmp_path / "icons"
    icons.mkdir()
    (icons / "color.png").write_bytes((MANIFEST_DIR / "outline.png").read_bytes())  # 32x32
    (icons / "outline.png").write_bytes((MANIFEST_DIR / "outline.png").read_bytes())
    with pytest.raises(PackagingError, match=r"color.png must be 192x192 pixels, not 32x32"):
        build_app_package(SAMPLE, tmp_path / "app.zip", icon_dir=icons)


# ---------------------------------------------------------------------------- values and the CLI

AZD_VALUES = (
    'AZURE_ENV_NAME="otp-prod"\n'
    'BOT_ID="3f2504e0-4f89-41d3-9a0c-0305e82c3301"\n'
    'APP_HOSTNAME="app-abc123.azurewebsites.net"\n'
    'TEAMS_APP_ID="6b0b6a3e-1c1e-4f5e-8d2a-7f1f2b3c4d5e"\n'
    'DEVELOPER_NAME="Contoso \\"IT\\""\n'
    "\n# comment\n"
)


def test_parse_env_file_reads_azd_get_values_output():
    parsed = parse_env_file(AZD_VALUES + "export SINGLE='a b'\nPLAIN=x=y\n")
    assert parsed["BOT_ID"] == "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    assert parsed["DEVELOPER_NAME"] == 'Contoso "IT"'
    assert parsed["SINGLE"] == "a b"
    assert parsed["PLAIN"] == "x=y"
    with pytest.raises(PackagingError, match="line 1"):
        parse_env_file("not a pair\n")


def test_values_from_env_merges_file_and_environment(tmp_path):
    env_file = tmp_path / "values.env"
    env_file.write_text(AZD_VALUES, encoding="utf-8")
    values = values_from_env({"DEVELOPER_NAME": "Override", "UNRELATED": "x"}, env_file)
    assert values == {
        "APP_HOSTNAME": "app-abc123.azurewebsites.net",
        "APP_VERSION": "1.0.0",
        "BOT_ID": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "DEVELOPER_NAME": "Override",
        "TEAMS_APP_ID": "6b0b6a3e-1c1e-4f5e-8d2a-7f1f2b3c4d5e",
    }


def test_bot_id_falls_back_to_microsoft_app_id():
    values = values_from_env({"MicrosoftAppId": SAMPLE["BOT_ID"]})
    assert values["BOT_ID"] == SAMPLE["BOT_ID"]
    assert values_from_env({"MicrosoftAppId": "x", "BOT_ID": "y"})["BOT_ID"] == "y"


def test_missing_env_file_is_a_clear_error(tmp_path):
    with pytest.raises(PackagingError, match="Cannot read env file"):
        values_from_env({}, tmp_path / "nope.env")


def test_main_builds_the_package_from_an_env_file(tmp_path, capsys):
    env_file = tmp_path / "values.env"
    env_file.write_text(AZD_VALUES, encoding="utf-8")
    environ = {k: v for k, v in SAMPLE.items() if k.startswith("DEVELOPER_")}
    out = tmp_path / "pkg.zip"
    assert packaging.main(["--env-file", str(env_file), "--out", str(out)], environ=environ) == 0
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("manifest.json"))["bots"][0]["botId"] == SAMPLE["BOT_ID"]
    assert str(out) in capsys.readouterr().out


def test_main_reports_unresolved_placeholders_and_exits_2(tmp_path, capsys):
    out = tmp_path / "pkg.zip"
    assert packaging.main(["--out", str(out)], environ={"BOT_ID": SAMPLE["BOT_ID"]}) == 2
    err = capsys.readouterr().err
    assert "${{APP_HOSTNAME}}" in err and "${{TEAMS_APP_ID}}" in err
    assert not out.exists()


def test_main_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exited:
        packaging.main(["--help"])
    assert exited.value.code == 0
    assert "--env-file" in capsys.readouterr().out


def test_packaging_imports_no_bot_or_azure_sdk():
    import subprocess
    import sys

    code = (
        "import sys, bot.cli.package; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('botbuilder', 'botframework', 'azure', 'aiohttp')); "
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_render_leaves_its_input_untouched():
    original = template()
    kept = copy.deepcopy(original)
    result = render_manifest(original, SAMPLE)
    assert original == kept
    assert result["id"] == SAMPLE["TEAMS_APP_ID"] and original["id"] == "${{TEAMS_APP_ID}}"
