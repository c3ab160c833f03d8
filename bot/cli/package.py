"""Build the Teams app package: manifest.json (rendered from the template) + the two icons, zipped.

    values_from_env(environ, env_file)   placeholder values from the environment and azd's outputs
    render_manifest(template, values)    substitute ${{NAME}} placeholders; every one must resolve
    validate_manifest(manifest)          Draft 7 validation against the Teams v1.30 schema
    build_app_package(values, out_path)  all of the above, then a deterministic zip

No botbuilder or Azure imports here: `otpbot package` runs on an admin's machine after `azd up`.
The Teams schema declares draft-04 but uses `const` (manifestVersion) -- draft-04 ignores `const`,
so a wrong manifestVersion would pass silently; Draft7Validator enforces it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from bot.core.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIR = REPO_ROOT / "appPackage"
TEMPLATE_PATH = MANIFEST_DIR / "manifest.json"
MANIFEST_VERSION = "1.30"
# The shipped copy, byte-identical to the official schema (tests compare them when shared/ exists).
VENDORED_SCHEMA = MANIFEST_DIR / "schema" / f"v{MANIFEST_VERSION}" / "MicrosoftTeams.schema.json"
SHARED_SCHEMA = REPO_ROOT.parent / "shared" / "schemas" / "teams" / f"v{MANIFEST_VERSION}" / "MicrosoftTeams.schema.json"
ICONS = {"color.png": 192, "outline.png": 32}  # file name at the zip root -> side in pixels
DEFAULT_OUT = Path("dist") / "otpbot-teams-app.zip"
DEFAULT_APP_VERSION = "1.0.0"

PLACEHOLDER = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same inputs give the same bytes


class PackagingError(ConfigurationError):
    """The app package cannot be built; the message says what to fix."""


# ---------------------------------------------------------------------------------------- values

def parse_env_file(text: str) -> dict[str, str]:
    """Parse `azd env get-values` output (KEY="value" lines; also .env style KEY=value, 'value')."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise PackagingError(f"Env file line {number} is not KEY=value.")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = _unescape_double_quoted(value[1:-1])
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[key] = value
    return values


def _unescape_double_quoted(body: str) -> str:
    escapes = {"n": "\n", "r": "\r", "t": "\t"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), body)


def values_from_env(environ: Mapping[str, str], env_file: Path | str | None = None) -> dict[str, str]:
    """Placeholder values: the env file (azd outputs) first, the process environment overriding it.

    BOT_ID falls back to MicrosoftAppId (the bot's app id is the managed identity's client id);
    APP_VERSION defaults to 1.0.0 -- raise it for every package you upload again.
    Only names the template uses are returned; missing ones are reported by build_app_package.
    """
    merged: dict[str, str] = {}
    if env_file is not None:
        path = Path(env_file)
        try:
            merged.update(parse_env_file(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise PackagingError(f"Cannot read env file {path}: {exc.strerror or exc}.") from None
    merged.update({k: v for k, v in environ.items() if isinstance(v, str)})
    merged = {k: v.strip() for k, v in merged.items() if v.strip()}
    if "BOT_ID" not in merged and "MicrosoftAppId" in merged:
        merged["BOT_ID"] = merged["MicrosoftAppId"]
    merged.setdefault("APP_VERSION", DEFAULT_APP_VERSION)
    wanted = placeholders_in(json.loads(TEMPLATE_PATH.read_text(encoding="utf-8")))
    return {name: merged[name] for name in sorted(wanted) if name in merged}


# -------------------------------------------------------------------------------------- rendering

def placeholders_in(node: Any) -> set[str]:
    """Every ${{NAME}} in the string values (and keys) of a JSON document."""
    found: set[str] = set()
    for text in _strings(node):
        found.update(PLACEHOLDER.findall(text))
    return found


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def render_manifest(template: Any, values: Mapping[str, str]) -> Any:
    """Substitute placeholders inside JSON strings (so a value can never break the JSON structure).

    Raises PackagingError naming every placeholder left unresolved (missing or empty values).
    """
    missing = sorted(name for name in placeholders_in(template) if not str(values.get(name, "")).strip())
    if missing:
        listed = ", ".join("${{" + name + "}}" for name in missing)
        raise PackagingError(
            f"Unresolved manifest placeholders: {listed}. Set them in the environment or the env file "
            "(e.g. `azd env set DEVELOPER_NAME \"Contoso IT\"`; BOT_ID, APP_HOSTNAME and TEAMS_APP_ID "
            "come from `azd up`)."
        )

    def substitute(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]).strip(), text)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return substitute(node)
        if isinstance(node, dict):
            return {substitute(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    rendered = walk(template)
    left = placeholders_in(rendered)  # a value that itself contained ${{...}}
    if left:
        raise PackagingError("Unresolved manifest placeholders: " + ", ".join("${{" + n + "}}" for n in sorted(left)) + ".")
    return rendered


# ------------------------------------------------------------------------------------- validation

def default_schema_path() -> Path:
    """The official schema next to the repo (../shared) when present, else the vendored copy."""
    return SHARED_SCHEMA if SHARED_SCHEMA.is_file() else VENDORED_SCHEMA


def schema_errors(manifest: Any, schema_path: Path | None = None) -> list[str]:
    """Draft 7 validation messages ("path: message"), empty when the manifest is valid."""
    try:
        from jsonschema import Draft7Validator  # imported here: only packaging needs it
    except ImportError:
        raise PackagingError("Validating the manifest needs the `jsonschema` package (pip install jsonschema).") from None

    schema = json.loads(Path(schema_path or default_schema_path()).read_text(encoding="utf-8"))
    validator = Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]


def validate_manifest(manifest: Any, schema_path: Path | None = None) -> None:
    """Schema validation plus the checks the schema cannot express for this app."""
    problems = schema_errors(manifest, schema_path)
    if manifest.get("manifestVersion") != MANIFEST_VERSION:
        problems.append(f"manifestVersion: expected {MANIFEST_VERSION!r}")
    for domain in manifest.get("validDomains", []):
        if not _HOSTNAME.match(domain):
            problems.append(f"validDomains: {domain!r} must be a bare host name (no scheme, port or path)")
    bots = manifest.get("bots") or []
    if len(bots) != 1 or bots[0].get("supportsFiles") is not False:
        problems.append("bots: exactly one bot with supportsFiles false is expected")
    if problems:
        raise PackagingError("The rendered manifest is invalid:\n  " + "\n  ".join(problems))


def png_info(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise PackagingError("Not a PNG file.")
    width, height, _depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, colour_type


def _check_icon(name: str, data: bytes, side: int) -> None:
    width, height, colour_type = png_info(data)
    if (width, height) != (side, side):
        raise PackagingError(f"{name} must be {side}x{side} pixels, not {width}x{height}.")
    if name == "outline.png" and colour_type not in (4, 6):  # grey+alpha or RGBA
        raise PackagingError("outline.png needs an alpha channel (white on a transparent background).")


# -------------------------------------------------------------------------------------- packaging

def build_app_package(
    values: Mapping[str, str],
    out_path: Path,
    *,
    template_path: Path = TEMPLATE_PATH,
    icon_dir: Path = MANIFEST_DIR,
    schema_path: Path | None = None,
) -> Path:
    """Render, validate and zip. Returns out_path; on any error nothing is written."""
    template = json.loads(Path(template_path).read_text(encoding="utf-8"))
    manifest = render_manifest(template, values)
    validate_manifest(manifest, schema_path)
    icons = {}
    for name, side in ICONS.items():
        try:
            icons[name] = (Path(icon_dir) / name).read_bytes()
        except OSError as exc:
            raise PackagingError(f"Cannot read icon {name}: {exc.strerror or exc}.") from None
        _check_icon(name, icons[name], side)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [("manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())]
        entries += sorted(icons.items())
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    partial.write_bytes(buffer.getvalue())
    os.replace(partial, out_path)
    return out_path


# -------------------------------------------------------------------------------------------- CLI

def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="otpbot package",
        description=(
            "Build the Teams app package (manifest.json, color.png, outline.png) for upload in the "
            "Teams admin center. Placeholder values come from the environment and, with --env-file, "
            "from `azd env get-values` output; the environment wins. Needed: BOT_ID (or "
            "MicrosoftAppId), APP_HOSTNAME, TEAMS_APP_ID, DEVELOPER_NAME, DEVELOPER_WEBSITE_URL, "
            "DEVELOPER_PRIVACY_URL, DEVELOPER_TERMS_URL; APP_VERSION defaults to "
            f"{DEFAULT_APP_VERSION} (raise it for every re-upload)."
        ),
        epilog="Example: azd env get-values > .azure/values.env && otpbot package --env-file .azure/values.env",
    )
    parser.add_argument("--env-file", type=Path, help="KEY=\"value\" lines, e.g. the output of `azd env get-values`")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"zip to write (default: {DEFAULT_OUT})")
    parser.add_argument("--schema", type=Path, default=None, help="Teams v1.30 schema file (default: ../shared copy when present, else appPackage/schema/)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        values = values_from_env(os.environ if environ is None else environ, args.env_file)
        path = build_app_package(values, args.out, schema_path=args.schema)
    except PackagingError as exc:
        print(f"otpbot package: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {path} (manifest {values.get('APP_VERSION')}, bot {values.get('BOT_ID')}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
