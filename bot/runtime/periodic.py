"""A small in-process periodic task, stopped cleanly with the app."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("otpbot.periodic")


class Periodic:
    def __init__(self, name: str, interval_s: float, job, first_after_s: float | None = None) -> None:
        self._name, self._interval, self._job = name, interval_s, job
        self._first_after = interval_s if first_after_s is None else first_after_s
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def _run(self) -> None:
        await asyncio.sleep(self._first_after)
        while True:
            try:
                await self._job()
            except Exception as error:  # a failed run is retried on the next tick
                log.error("%s failed: %s", self._name, type(error).__name__)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
