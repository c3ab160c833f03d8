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


def test_core_and_handlers_import_only_stdlib_and_pyotp():
    for path in list((BOT / "core").glob("*.py")) + list((BOT / "handlers").glob("*.py")):
        for name in imported_modules(path):
            assert name.split(".")[0] not in SDKS, f"{path.name} imports {name}"


def test_botbuilder_stays_in_the_teams_adapter_and_the_edge():
    allowed = {BOT / "web.py", BOT / "adapters" / "sqlite.py", BOT / "adapters" / "azure_storage.py"}  # Storage subclasses
    for path in BOT.rglob("*.py"):
        if path in allowed or (BOT / "adapters" / "teams") in path.parents:
            continue
        for name in imported_modules(path):
            assert not name.startswith(("botbuilder", "botframework")), f"{path.relative_to(BOT)} imports {name}"
