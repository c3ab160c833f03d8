"""README and docs/: the README opens with its title, and every link points at a file of this repository that
exists (or at an anchor, or a web page), never at a path outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_starts_with_its_title_then_the_two_commands():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# Helpdesk OTP bot for Microsoft Teams"
    block = lines[lines.index("```bash") + 1:]
    assert [line.split()[:2] for line in block[:2]] == [["make", "run"], ["make", "test"]]


def test_doc_links_stay_inside_the_repository_and_resolve():
    problems = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            if target.startswith(("#", "https://", "http://", "mailto:")):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            if REPO not in path.parents and path != REPO:
                problems.append(f"{doc.name}: {target} is outside the repository")
            elif not path.exists():
                problems.append(f"{doc.name}: {target} does not exist")
        for mention in re.findall(r"\.\./shared\b|/work/", text):
            problems.append(f"{doc.name}: mentions {mention}, a path outside the repository")
    assert problems == []
