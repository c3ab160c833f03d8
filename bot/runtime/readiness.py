"""/readyz: dependency status from a cache refreshed at most once a minute.

Probing on every request would let a load balancer (or anyone) turn health checks into Key Vault
and Storage traffic; one probe a minute per instance is enough to steer traffic away.
"""

from __future__ import annotations

import asyncio
import time

from ..core.errors import OtpBotError, SeedNotFound

REFRESH_S = 60
PROBE_TIMEOUT_S = 3
PROBE_OBJECT_ID = "00000000-0000-0000-0000-000000000000"  # never a real user: a 404 proves access


class Readiness:
    def __init__(self, services, refresh_s: float = REFRESH_S, monotonic=time.monotonic) -> None:
        self._services = services
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._checked_at = float("-inf")
        self._report: dict = {}
        self._lock = asyncio.Lock()

    async def report(self) -> dict:
        async with self._lock:
            if self._monotonic() - self._checked_at >= self._refresh_s:
                self._report = await self._probe()
                self._checked_at = self._monotonic()
        return self._report

    async def _probe(self) -> dict:
        s = self._services
        checks = {
            "secrets": _check(self._secret_store(s)),
            "state": _check(s.state.read(["readiness/probe"])),
            "audit": _check(s.audit.head()),
        }
        results = dict(zip(checks, await asyncio.gather(*checks.values())))
        ready = all(v == "ok" for v in results.values()) and not s.draining
        return {"status": "ready" if ready else "not ready", "draining": s.draining, "checks": results}

    @staticmethod
    async def _secret_store(s) -> None:
        try:
            await s.secrets.get_seed(PROBE_OBJECT_ID)
        except SeedNotFound:
            return


async def _check(awaitable) -> str:
    try:
        await asyncio.wait_for(awaitable, PROBE_TIMEOUT_S)
        return "ok"
    except (OtpBotError, asyncio.TimeoutError, OSError) as error:
        return f"failing ({type(error).__name__})"
