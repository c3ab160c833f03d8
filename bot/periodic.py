"""A small in-process periodic task, stopped cleanly with the app."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("otpbot.periodic")


class Periodic:
    def __init__(self, name: str, interval_s: float, job) -> None:
        self._name, self._interval, self._job = name, interval_s, job
        self._task = asyncio.get_running_loop().create_task(self._run(), name=name)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._job()
            except Exception as error:  # a failed run is retried on the next tick
                log.error("%s failed: %s", self._name, type(error).__name__)

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
