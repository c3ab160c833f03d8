"""Where a turn's time goes inside the bot: a diagnostic for the bench's separate instrumented run.

`install()` (in the bot process, BENCH_WAITS=1) wraps the awaits a turn makes on something other than its
own CPU — SQLite writes (the writer thread's queue and the fsync'd commit), the reply POSTs to the connector,
Key Vault reads — and records, per turn, how long each kind kept the turn waiting (overlapping waits, as
the three gathered rate counters, count once). GET /_bench/waits returns the means since the last call
and starts over. The rest of a turn's time in the bot is the event loop: its own CPU, and queueing behind
the other turns' CPU.
"""

from __future__ import annotations

import contextvars
import time
from collections import defaultdict

from aiohttp import web

KINDS = ("sqlite", "connector", "keyvault")
_intervals: contextvars.ContextVar[dict | None] = contextvars.ContextVar("bench_wait_intervals", default=None)


class Totals:
    def __init__(self) -> None:
        self.turns, self.in_bot = 0, 0.0
        self.waited: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def report(self) -> dict:
        n = max(self.turns, 1)
        return {"turns": self.turns, "in_bot_ms": 1000 * self.in_bot / n,
                **{f"{k}_ms": 1000 * self.waited[k] / n for k in KINDS},
                **{f"{k}_calls": self.calls[k] / n for k in KINDS}}


TOTALS = Totals()


def _union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for start, stop in sorted(spans):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def _timed(kind: str, original):
    async def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            spans = _intervals.get()
            if spans is not None:
                spans[kind].append((started, time.perf_counter()))
    return wrapper


def _turn(original):
    async def wrapper(*args, **kwargs):
        spans: dict[str, list] = {k: [] for k in KINDS}
        token = _intervals.set(spans)
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            TOTALS.in_bot += time.perf_counter() - started
            TOTALS.turns += 1
            for kind, recorded in spans.items():
                TOTALS.waited[kind] += _union(recorded)
                TOTALS.calls[kind] += len(recorded)
            _intervals.reset(token)
    return wrapper


async def report(request: web.Request) -> web.Response:
    global TOTALS
    body, TOTALS = TOTALS.report(), Totals()
    return web.json_response(body)


def install(app: web.Application) -> None:
    from bot.adapters import sqlite
    from bot.adapters.keyvault import KeyVaultSecretStore
    from bot.adapters.teams import turn

    sqlite._Writer.run = _timed("sqlite", sqlite._Writer.run)
    turn.Turn.send_activity = _timed("connector", turn.Turn.send_activity)
    KeyVaultSecretStore.get_seed = _timed("keyvault", KeyVaultSecretStore.get_seed)
    turn.TurnRunner.run = _turn(turn.TurnRunner.run)
    app.router.add_get("/_bench/waits", report)
