"""End-to-end tests run the Agents Playground, which tries DNS and the Azure metadata address at start.

They run only inside a loopback-only network namespace, so nothing leaves the machine:

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m pytest -m e2e tests/e2e'

Elsewhere they are skipped, or fail when OTPBOT_E2E_REQUIRE_NETNS=1 (so CI cannot pass by skipping them).
"""

from __future__ import annotations

import os
import socket

import pytest

NETNS_COMMAND = "unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m pytest -m e2e tests/e2e'"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: slow end-to-end tests (bot + Agents Playground in a loopback-only network namespace)")


def loopback_only_problem() -> str | None:
    """Why this process's network namespace is not loopback-only with lo up, or None if it is."""
    names = sorted(name for _, name in socket.if_nameindex())  # this netns (unlike /sys/class/net)
    if names != ["lo"]:
        return f"network interfaces {names} besides lo: not a loopback-only namespace"
    try:
        with socket.create_server(("127.0.0.1", 0)) as server:
            socket.create_connection(server.getsockname(), timeout=1).close()
    except OSError as exc:
        return f"loopback is down ({exc}); run `ip link set lo up` inside the namespace"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("e2e") is None:
        return
    problem = loopback_only_problem()
    if problem is None:
        return
    message = f"{problem}. Run: {NETNS_COMMAND}"
    if os.environ.get("OTPBOT_E2E_REQUIRE_NETNS") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
