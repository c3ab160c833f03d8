"""The load generator: N concurrent workers, each with its own conversation, agent and target users, posting
Teams-shaped activities with the Bot Connector's bearer token. Every loop is bounded by count and time."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable

import aiohttp
import pyotp

from tests.bench.world import AGENTS, CHANNEL, World, agent
from tests.support.teams import card_action, message

MAX_TURNS = 200_000  # per workload, besides its duration
TURN_TIMEOUT = aiohttp.ClientTimeout(total=30)


class TurnFailed(Exception):
    pass


@dataclass
class Result:
    name: str
    concurrency: int
    turns: int
    seconds: float
    latencies: list[float]
    errors: int = 0
    releases: int = 0  # inside the measured window
    first_error: str = ""
    releases_all: int = 0  # warm-up and stragglers included: what the Key Vault reads are divided by
    server_cpu_s: float = float("nan")  # CPU time the server process used in the measured window
    loop_cpu_s: float = float("nan")  # of which its event loop thread
    bench_cpu_s: float = float("nan")  # CPU time of this (load generator) process in the window

    @property
    def cpu_ms_per_turn(self) -> float:
        return self.server_cpu_s / self.turns * 1000 if self.turns else float("nan")

    @property
    def loop_ms_per_turn(self) -> float:
        return self.loop_cpu_s / self.turns * 1000 if self.turns else float("nan")

    @property
    def rate(self) -> float:
        return self.turns / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


@dataclass
class Recorder:
    measuring: bool = False
    latencies: list[float] = field(default_factory=list)
    releases: int = 0
    releases_all: int = 0
    errors: int = 0
    errors_all: int = 0  # warm-up included
    first_error: str = ""
    started: int = 0  # turns started, for the count bound

    def turn(self, latency: float) -> None:
        if self.measuring:
            self.latencies.append(latency)

    def fail(self, error: Exception) -> None:
        self.errors_all += 1
        self.errors += 1
        self.first_error = self.first_error or f"{type(error).__name__}: {error}"[:200]


class Driver:
    """Posts turns. `tokens`: a bearer token per request, in turn (default: the one token the Bot Connector
    would reuse)."""

    def __init__(self, world: World, session: aiohttp.ClientSession, endpoint: str,
                 tokens: list[str] | None = None) -> None:
        self.world, self.session, self.endpoint = world, session, endpoint
        self.headers = {"Authorization": world.token, "Content-Type": "application/json"}
        self._tokens = itertools.cycle(tokens) if tokens else None

    async def post(self, rec: Recorder, activity: dict) -> bytes:
        body = json.dumps(activity).encode()
        rec.started += 1
        t0 = time.perf_counter()
        headers = {**self.headers, "Authorization": next(self._tokens)} if self._tokens else self.headers
        async with self.session.post(self.endpoint, data=body, headers=headers, timeout=TURN_TIMEOUT) as r:
            data = await r.read()
        rec.turn(time.perf_counter() - t0)
        if not 200 <= r.status < 300:  # the stock CloudAdapter answers a message with 201
            raise TurnFailed(f"HTTP {r.status}: {data[:120]!r}")
        return data

    # --- one iteration of each workload -------------------------------------------------------------

    async def release(self, rec: Recorder, w: int, n: int, concurrency: int) -> None:
        """`code <upn>` -> verify card (read at the connector) -> invoke verify -> invoke reveal -> code."""
        user, conversation = agent(w), _thread(w)
        mine = self.world.targets[w::concurrency]
        t = mine[n % len(mine)]
        sent = message(f"code {t.upn}", user=user, conversation=conversation, service_url=self.world.connector.url)
        await self.post(rec, sent)
        reply = json.loads(self.world.connector.last.get(conversation, b"{}"))
        if reply.get("replyToId") != sent["id"]:
            raise TurnFailed("no verify card for this request")
        vid = reply["attachments"][0]["content"]["actions"][0]["data"]["vid"]
        verified = json.loads(await self.post(rec, card_action(
            "verify", {"vid": vid, "requester": user.oid, "ticket": "INC-1234", "calledBack": "true"},
            user=user, conversation=conversation, service_url=self.world.connector.url)))
        if not verified["value"]["body"][0]["text"].startswith("Callback recorded"):
            raise TurnFailed(f"verify: {verified['value']['body'][0]['text'][:100]}")
        revealed = json.loads(await self.post(rec, card_action(
            "reveal", {"vid": vid, "requester": user.oid}, user=user, conversation=conversation,
            service_url=self.world.connector.url)))
        texts = [b.get("text", "") for b in revealed["value"]["body"]]
        code = texts[1].replace(" ", "") if len(texts) > 1 else ""
        if not texts[0].startswith("Code for") or not _is_current_code(t.seed, code):
            raise TurnFailed(f"reveal: {texts[:1]}")
        rec.releases_all += 1
        if rec.measuring:
            rec.releases += 1

    async def say(self, text: str, rec: Recorder, w: int, n: int, concurrency: int) -> None:
        await self.post(rec, message(text, user=agent(w), conversation=_thread(w),
                                     service_url=self.world.connector.url))


def _thread(w: int) -> str:
    return f"{CHANNEL};messageid={1700000000000 + w}"


def _is_current_code(seed: str, code: str) -> bool:
    now = datetime.now(timezone.utc).timestamp()
    totp = pyotp.TOTP(seed)
    return code in {totp.at(now), totp.at(now - 30)}  # the step may have turned during the round trip


Iteration = Callable[[Recorder, int, int, int], Awaitable[None]]


async def run(name: str, iteration: Iteration, concurrency: int, warmup_s: float, duration_s: float,
              server_cpu: Callable[[], float] = lambda: float("nan"),
              loop_cpu: Callable[[], float] = lambda: float("nan")) -> Result:
    """Warm up, then measure for `duration_s`; turns still in flight when it ends are not counted."""
    if concurrency > AGENTS:
        raise ValueError(f"at most {AGENTS} workers (one agent each)")
    rec = Recorder()
    stop = asyncio.Event()

    async def worker(w: int) -> None:
        n = 0
        while not stop.is_set() and rec.started < MAX_TURNS:
            try:
                await iteration(rec, w, n, concurrency)
            except (TurnFailed, aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as error:
                rec.fail(error)
                await asyncio.sleep(0.01)
            n += 1

    tasks = [asyncio.create_task(worker(w)) for w in range(concurrency)]
    await asyncio.sleep(warmup_s)
    if rec.errors_all:
        print(f"  ({name} at {concurrency}: {rec.errors_all} failed turns during warm-up: {rec.first_error})")
    rec.measuring, rec.errors, rec.first_error = True, 0, ""
    t0, cpu0, loop0, own0 = time.perf_counter(), server_cpu(), loop_cpu(), time.process_time()
    await asyncio.sleep(duration_s)
    rec.measuring = False
    seconds = time.perf_counter() - t0
    server_cpu_s, loop_cpu_s, bench_cpu_s = server_cpu() - cpu0, loop_cpu() - loop0, time.process_time() - own0
    stop.set()
    await asyncio.wait(tasks, timeout=35)
    for task in tasks:
        task.cancel()
    return Result(name, concurrency, len(rec.latencies), seconds, rec.latencies, rec.errors, rec.releases,
                  rec.first_error, rec.releases_all, server_cpu_s, loop_cpu_s, bench_cpu_s)

