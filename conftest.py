"""pytest's root conftest: the shared fixtures (`clock`, `harness`) live in tests/support/harness.py."""

pytest_plugins = ("tests.support.harness", "tests.support.card_schemas")
