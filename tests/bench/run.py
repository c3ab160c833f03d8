"""`make bench`: one run, one table. See docs/performance.md for what each number means.

    .venv/bin/python -m tests.bench [--duration 8] [--warmup 1.5] [--concurrency 8,64] [--starts 5]
                                    [--only cold|bot] [--no-tmpfs] [--no-fresh-tokens] [--no-waits]
                                    [--profile DIR]

The bot, the stock botbuilder echo bot and the raw aiohttp probe each run alone, in their own process; the
load generator, the loopback Bot Connector, the OpenID server and the Key Vault emulator run in this one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import aiohttp

from tests.bench import load, procs
from tests.bench.report import Report
from tests.bench.world import APP_ID, World, build_world
from tests.support.teams import message

BOT, STOCK, PROBE = "tests.bench.bot_process", "tests.bench.stock_echo", "tests.bench.probe"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per workload")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds before each")
    parser.add_argument("--concurrency", default="8,64", help="comma-separated worker counts (max 64)")
    parser.add_argument("--starts", type=int, default=5, help="cold starts to take the median of")
    parser.add_argument("--only", choices=("cold", "bot", "all"), default="all",
                        help="cold: cold starts only; bot: no baselines")
    parser.add_argument("--no-tmpfs", dest="tmpfs_state", action="store_false",
                        help="skip the second bot run with its SQLite files on /dev/shm (where fsync costs nothing: "
                             "NOT durable, labelled so; it shows what the disk costs)")
    parser.add_argument("--no-fresh-tokens", dest="fresh_tokens", action="store_false",
                        help="skip the release run with a new token on every request (every signature verified)")
    parser.add_argument("--no-waits", dest="waits", action="store_false",
                        help="skip the separate instrumented run that shows where a release turn's time goes")
    parser.add_argument("--profile", type=Path, help="py-spy the bot during each of its workloads, into DIR "
                                                     "(summarise with python -m tests.bench.folded)")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    return asyncio.run(_main(args))


async def _main(args) -> int:
    began = time.perf_counter()
    world = await build_world()
    report = Report(machine=_machine(world.tmp), load_before=os.getloadavg())
    report.commit_ms = _commit_latency_ms(world.tmp / "commit-probe.sqlite")
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        await _cold_starts(world, session, report, args.starts)
        if args.only == "cold":
            args.tmpfs_state = False
        else:
            await _bot(world, session, report, args)
        if args.waits and args.only != "cold":
            await _waits(world, session, report, args)
        if args.tmpfs_state and Path("/dev/shm").is_dir():
            shm = Path(tempfile.mkdtemp(prefix="otpbot-bench-", dir="/dev/shm"))
            try:
                await _bot(world, session, report, args, "otpbot-tmpfs", shm)
            finally:
                shutil.rmtree(shm, ignore_errors=True)
        if args.only == "all":
            await _baseline(world, session, report, args, "stock", STOCK,
                            {"BENCH_APP_ID": APP_ID, "BENCH_METADATA_URL": world.openid.metadata_url})
            await _baseline(world, session, report, args, "probe", PROBE, {})
    finally:
        await session.close()
        await world.close()
    report.bad_auth = world.connector.bad_auth
    report.runtime_s = time.perf_counter() - began
    print(report.render())
    shutil.rmtree(world.tmp, ignore_errors=True)
    return 0


async def _cold_starts(world: World, session, report: Report, starts: int) -> None:
    """Process start to the first 200 from /healthz, for the production entry point (gunicorn with the aiohttp
    worker, bot.wsgi:app, as App Service runs it) and for the bench's own composition; interleaved."""
    times: dict[str, list[float]] = {"gunicorn": [], "bench": []}
    for i in range(1 + starts):  # the first round writes the bytecode cache; it is reported, not counted
        for entry in times:
            # One data dir per entry point: a restart finds its SQLite files in place, as a deployed bot does.
            env = procs.child_env(world.bot_env(world.tmp / f"cold-{entry}"), world.tmp / "pycache")
            env.pop("SSL_CERT_FILE")  # the machine's CA bundle, as in production: aiohttp loads it at import
            if "SSL_CERT_FILE" in os.environ:
                env["SSL_CERT_FILE"] = os.environ["SSL_CERT_FILE"]
            if entry == "gunicorn":
                child = procs.spawn_gunicorn(env, world.tmp)
            else:
                child = procs.spawn("bot-cold", BOT, env, world.tmp)
            try:
                times[entry].append(await procs.wait_healthy(child, session))
            finally:
                await procs.stop(child)
    report.first_start_s = times["gunicorn"][0]
    report.cold_starts, report.cold_starts_bench = times["gunicorn"][1:], times["bench"][1:]


async def _bot(world: World, session, report: Report, args, system: str = "otpbot",
               data_dir: Path | None = None) -> None:
    env = procs.child_env(world.bot_env(data_dir or world.tmp / "bot-data"), world.tmp / "pycache")
    child = procs.spawn(system, BOT, env, world.tmp)
    try:
        await procs.wait_healthy(child, session)
        driver = load.Driver(world, session, f"{child.url}/api/messages")
        if system == "otpbot":
            report.auth_checks[system] = await _forged_status(world, session, child)
        kv_start, releases = world.kv_counts(), 0
        for c in args.concurrency:
            result = await _measure(args, child, f"{system}-release-{c}", driver.release, c)
            report.add(system, "release", result)
            releases += result.releases_all
        if system == "otpbot" and args.fresh_tokens:  # what remembering verified tokens saves
            fresh = load.Driver(world, session, f"{child.url}/api/messages", world.sign_fresh_tokens())
            for c in args.concurrency:
                result = await _measure(args, child, f"{system}-release-fresh-token-{c}", fresh.release, c)
                report.add(system, "release-fresh-token", result)
                releases += result.releases_all
        kv_mid = world.kv_counts()
        for c in args.concurrency:
            report.add(system, "help", await _measure(args, child, f"{system}-help-{c}",
                                                       partial(driver.say, "help"), c))
        kv_end = world.kv_counts()
        if system == "otpbot":
            report.kv_secret_gets = kv_mid[0][("GET", "secret")] - kv_start[0][("GET", "secret")]
            report.kv_release_requests = sum((kv_mid[0] - kv_start[0]).values())
            report.kv_challenges = sum((kv_mid[1] - kv_start[1]).values())
            report.kv_releases = releases
            report.kv_help_requests = sum((kv_end[0] - kv_mid[0]).values()) + sum((kv_end[1] - kv_mid[1]).values())
            report.rss_mb = child.peak_rss_mb()
    finally:
        await procs.stop(child)


async def _waits(world: World, session, report: Report, args, concurrency: int = 8) -> None:
    """A separate run of the bot with tests/bench/waits.py installed: per release turn, how long it waited for
    SQLite, the connector and Key Vault (the wrappers cost a little CPU, so the main table does not use them)."""
    env = procs.child_env({**world.bot_env(world.tmp / "waits-data"), "BENCH_WAITS": "1"}, world.tmp / "pycache")
    child = procs.spawn("otpbot-waits", BOT, env, world.tmp)
    try:
        await procs.wait_healthy(child, session)
        driver = load.Driver(world, session, f"{child.url}/api/messages")
        await load.run("waits-warmup", driver.release, concurrency, 0, args.warmup)
        async with session.get(f"{child.url}/_bench/waits") as response:  # starts the count over
            await response.read()
        result = await load.run("waits", driver.release, concurrency, 0, args.duration)
        async with session.get(f"{child.url}/_bench/waits") as response:
            report.waits = {**await response.json(), "concurrency": concurrency,
                            "round_trip_ms": 1000 * statistics.fmean(result.latencies) if result.latencies else 0.0,
                            "rate": result.rate}
    finally:
        await procs.stop(child)


async def _baseline(world: World, session, report: Report, args, name: str, module: str, extra: dict) -> None:
    child = procs.spawn(name, module, procs.child_env(extra, world.tmp / "pycache"), world.tmp)
    try:
        await procs.wait_healthy(child, session)
        if name == "stock":
            report.auth_checks[name] = await _forged_status(world, session, child)
        driver = load.Driver(world, session, f"{child.url}/api/messages")
        for c in args.concurrency:
            report.add(name, "echo", await _measure(args, child, f"{name}-{c}", partial(driver.say, "hello"), c))
        report.rss_baselines[name] = child.peak_rss_mb()
    finally:
        await procs.stop(child)


async def _measure(args, child: procs.Child, name: str, iteration, concurrency: int) -> load.Result:
    with _profiler(args.profile if child.name.startswith("otpbot") else None, child, name,
                   args.warmup + args.duration):
        return await load.run(name, iteration, concurrency, args.warmup, args.duration, child.cpu_seconds,
                              child.loop_cpu_seconds)


async def _forged_status(world: World, session, child: procs.Child) -> int:
    """A token signed with the wrong key under the published kid must be refused: proof that auth is ON."""
    activity = message("help", service_url=world.connector.url)
    headers = {"Authorization": world.forged_token}
    async with session.post(f"{child.url}/api/messages", json=activity, headers=headers) as response:
        return response.status


class _profiler:
    """py-spy record of the bot for one workload (only with --profile; py-spy must be in the venv). Non-blocking
    sampling: the process is not paused, so the numbers of a profiled run stay close to an unprofiled one."""

    def __init__(self, out: Path | None, child: procs.Child, name: str, seconds: float) -> None:
        self.out, self.child, self.name, self.seconds = out, child, name, seconds
        self.proc: subprocess.Popen | None = None

    def __enter__(self):
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
            spy = Path(sys.executable).parent / "py-spy"
            self.proc = subprocess.Popen(
                [str(spy), "record", "--pid", str(self.child.proc.pid), "--format", "raw", "--rate", "250",
                 "--nonblocking", "--duration", str(int(self.seconds)),
                 "--output", str(self.out / f"{self.name}.folded")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _commit_latency_ms(path: Path, commits: int = 50) -> float:
    """Median time of one small SQLite commit with the bot's settings (WAL, synchronous=FULL) on this disk."""
    import sqlite3
    import statistics

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    times = []
    for i in range(commits):
        began = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * 200))
        db.execute("COMMIT")
        times.append(time.perf_counter() - began)
    db.close()
    return statistics.median(times) * 1000


def _machine(state_dir: Path) -> dict[str, str]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "aiohttp": aiohttp.__version__, "state_fs": _filesystem(state_dir)}


def _filesystem(path: Path) -> str:
    """`ext4 (/dev/vda)`: the mount that holds `path`, from /proc/mounts."""
    best = ("", "?", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind = line.split()[:3]
        if str(path.resolve()).startswith(mount.rstrip("/") + "/") and len(mount) > len(best[0]):
            best = (mount, kind, device)
    return f"{best[1]} ({best[2]}, {path.parent})"
