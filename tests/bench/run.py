"""`make bench`: one run, one table. See docs/performance.md for what each number means.

    .venv/bin/python -m tests.bench [--duration 8] [--warmup 1.5] [--concurrency 8,64] [--starts 5]
                                    [--profile DIR]   # py-spy the bot during each of its workloads
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import tempfile
import sys
import time
from functools import partial
from pathlib import Path

import aiohttp

from tests.bench import load, procs
from tests.bench.report import Report
from tests.bench.world import World, build_world
from tests.teams import message

BOT, STOCK, PROBE = "tests.bench.bot_process", "tests.bench.stock_echo", "tests.bench.probe"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per workload")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds before each")
    parser.add_argument("--concurrency", default="8,64", help="comma-separated worker counts (max 64)")
    parser.add_argument("--starts", type=int, default=5, help="cold starts to take the median of")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of the bot's workloads here")
    parser.add_argument("--only", choices=("bot", "all"), default="all", help="skip the baselines")
    parser.add_argument("--tmpfs-state", action="store_true",
                        help="also run the bot with its SQLite files on /dev/shm (fsync costs nothing there: "
                             "NOT durable; the table labels these rows)")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    return asyncio.run(_main(args))


async def _main(args) -> int:
    began = time.perf_counter()
    report = Report(machine=_machine(), load_before=os.getloadavg())
    world = await build_world()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        await _cold_starts(world, session, report, args.starts)
        await _bot(world, session, report, args)
        if args.tmpfs_state:
            shm = Path(tempfile.mkdtemp(prefix="otpbot-bench-", dir="/dev/shm"))
            try:
                await _bot(world, session, report, args, "otpbot-tmpfs", shm)
            finally:
                shutil.rmtree(shm, ignore_errors=True)
        if args.only == "all":
            await _baseline(world, session, report, args, "stock", STOCK,
                            {"BENCH_APP_ID": "6b0c1f3e-8d2a-4c57-9e1b-3a7f5d2c9e40",
                             "BENCH_METADATA_URL": world.openid.metadata_url})
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
    times = []
    for i in range(1 + starts):  # the first start writes the bytecode cache; it is reported, not counted
        env = procs.child_env(world.bot_env(world.tmp / f"cold-{i}"), world.tmp / "pycache")
        child = procs.spawn("bot-cold", BOT, env, world.tmp)
        try:
            times.append(await procs.wait_healthy(child, session))
        finally:
            await procs.stop(child)
    report.first_start_s, report.cold_starts = times[0], times[1:]


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
            with _profiler(args.profile, child, f"{system}-release-{c}", args.warmup + args.duration):
                result = await load.run("release", driver.release, c, args.warmup, args.duration,
                                        child.cpu_seconds)
            report.add(system, "release", result)
            releases += result.releases_all
        kv_mid = world.kv_counts()
        for c in args.concurrency:
            with _profiler(args.profile, child, f"{system}-help-{c}", args.warmup + args.duration):
                report.add(system, "help", await load.run("help", partial(driver.say, "help"), c,
                                                           args.warmup, args.duration, child.cpu_seconds))
        kv_end = world.kv_counts()
        if system != "otpbot":
            return
        report.kv_secret_gets = kv_mid[("GET", "secret")] - kv_start[("GET", "secret")]
        report.kv_release_requests = sum((kv_mid - kv_start).values())
        report.kv_releases = releases
        report.kv_help_requests = sum((kv_end - kv_mid).values())
        report.rss_mb = child.peak_rss_mb()
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
            report.add(name, "echo", await load.run("echo", partial(driver.say, "hello"), c,
                                                     args.warmup, args.duration, child.cpu_seconds))
        report.rss_baselines[name] = child.peak_rss_mb()
    finally:
        await procs.stop(child)


async def _forged_status(world: World, session, child: procs.Child) -> int:
    """A token signed with the wrong key under the published kid must be refused: proof that auth is ON."""
    activity = message("help", service_url=world.connector.url)
    headers = {"Authorization": world.forged_token}
    async with session.post(f"{child.url}/api/messages", json=activity, headers=headers) as response:
        return response.status


class _profiler:
    """py-spy record of the bot for one workload (only with --profile; py-spy must be in the venv)."""

    def __init__(self, out: Path | None, child: procs.Child, name: str, seconds: float) -> None:
        self.out, self.child, self.name, self.seconds = out, child, name, seconds
        self.proc: subprocess.Popen | None = None

    def __enter__(self):
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
            spy = Path(sys.executable).parent / "py-spy"
            self.proc = subprocess.Popen(
                [str(spy), "record", "--pid", str(self.child.proc.pid), "--format", "raw", "--rate", "200",
                 "--duration", str(int(self.seconds)), "--output", str(self.out / f"{self.name}.folded")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _machine() -> dict[str, str]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "aiohttp": aiohttp.__version__}

