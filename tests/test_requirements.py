import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
FIX = "requirements.txt is not the lock of pyproject.toml's dependencies: run `make requirements`"


def _dependencies() -> list[Requirement]:
    return [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]


def _lock() -> tuple[dict[str, str], dict[str, list[str]], str]:
    """name -> pinned version, name -> its `# via` lines, and the whole text."""
    text = (ROOT / "requirements.txt").read_text()
    pins, via, current = {}, {}, None
    for line in text.splitlines():
        pin = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", line)
        if pin:
            current = pin.group(1).lower().replace("_", "-")
            pins[current], via[current] = pin.group(2), []
        elif current and line.strip().startswith("#"):
            via[current].append(line.strip("# ").strip())
    return pins, via, text


def _name(requirement: Requirement) -> str:
    return requirement.name.lower().replace("_", "-")


def test_requirements_txt_is_a_hashed_lock_of_pyproject():
    pins, via, text = _lock()
    direct = {name for name, lines in via.items() if any("otpbot (pyproject.toml)" in line for line in lines)}
    assert direct == {_name(r) for r in _dependencies()}, FIX
    for requirement in _dependencies():
        assert requirement.specifier.contains(pins[_name(requirement)], prereleases=True), \
            f"{requirement} but the lock pins {pins[_name(requirement)]}: {FIX}"
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text)[1:]  # [0] is the header
    assert len(blocks) == len(pins)
    unhashed = [b.split()[0] for b in blocks if "--hash=sha256:" not in b]
    assert unhashed == [], f"pins without hashes: {unhashed}: {FIX}"
    assert "pip-compile" in text and "--generate-hashes" in text  # made by `make requirements`
    assert "--find-links" not in text and "--index-url" not in text  # no machine's package sources


def test_botbuilder_is_pinned_to_4_17():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "botbuilder-core~=4.17.1" in deps and "botbuilder-integration-aiohttp~=4.17.1" in deps
    assert _lock()[0]["botbuilder-core"].startswith("4.17.")
