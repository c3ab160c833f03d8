"""The dependency direction of DESIGN.md section 3, enforced."""

import ast
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
SDKS = ("aiohttp", "botbuilder", "botframework", "azure", "msrest", "cryptography")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_importing_the_core_loads_no_sdk():
    code = ("import sys, bot.core.commands, bot.core.totp, bot.core.verification, bot.core.window, bot.core.ports, "
            "bot.core.views, bot.core.policy, bot.core.seed_rows, bot.core.seed_input, bot.core.lifecycle, "
            "bot.core.proofs, bot.core.limits, bot.handlers; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def resolved_imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute: relative imports are resolved against its package."""
    package = path.relative_to(BOT.parent).with_suffix("").parts[:-1]  # bot/handlers/x.py -> ("bot", "handlers")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - (node.level - 1)]) if node.level else []
            names.add(".".join(base + ([node.module] if node.module else [])))
    return names


def outside(path: Path, *packages: str) -> set[str]:
    """The imports of `path` that are neither the standard library, pyotp, nor one of `packages`."""
    return {name for name in resolved_imports(path)
            if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "pyotp"
            and not any(name == p or name.startswith(f"{p}.") for p in packages)}


def test_relative_imports_are_resolved():
    assert {"bot.core.errors", "bot.core.totp", "bot.handlers.context", "bot.handlers.expiry"} <= \
        resolved_imports(BOT / "handlers" / "release.py")
    assert "bot.handlers" in resolved_imports(BOT / "handlers" / "enroll.py")  # `from . import provision`


def test_core_and_handlers_import_only_stdlib_and_pyotp():
    core, handlers = sorted((BOT / "core").rglob("*.py")), sorted((BOT / "handlers").rglob("*.py"))
    assert core and handlers
    assert {path.name: outside(path, "bot.core") for path in core if outside(path, "bot.core")} == {}
    assert {path.name: outside(path, "bot.core", "bot.handlers") for path in handlers
            if outside(path, "bot.core", "bot.handlers")} == {}


def test_botbuilder_stays_in_the_teams_adapter_and_the_edge():
    allowed = {BOT / "web.py", BOT / "adapters" / "sqlite.py", BOT / "adapters" / "azure_storage.py"}  # Storage subclasses
    for path in BOT.rglob("*.py"):
        if path in allowed or (BOT / "adapters" / "teams") in path.parents:
            continue
        for name in imported_modules(path):
            assert not name.startswith(("botbuilder", "botframework")), f"{path.relative_to(BOT)} imports {name}"
