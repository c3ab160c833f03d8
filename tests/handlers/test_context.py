"""handlers.context.write_together: independent writes at once; every one finishes; the first failure wins."""

from __future__ import annotations

import asyncio

import pytest

from bot.handlers.context import write_together


async def test_every_write_finishes_and_the_first_failure_in_argument_order_is_raised():
    done: list[str] = []

    async def write(name: str, delay: float, error: Exception | None = None) -> None:
        await asyncio.sleep(delay)
        done.append(name)
        if error:
            raise error

    with pytest.raises(KeyError):
        await write_together(write("audit", 0.02, KeyError("audit")), write("state", 0.0, ValueError("state")),
                             write("lock", 0.01))
    assert done == ["state", "lock", "audit"]


async def test_writes_run_at_the_same_time():
    running, peak = 0, 0

    async def write() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await write_together(write(), write(), write())
    assert peak == 3
