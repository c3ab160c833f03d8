"""Child processes: the bot, the stock echo bot and the probe each run alone in their own process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
HEALTH_TIMEOUT_S = 60


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    port: int
    log: Path
    started_at: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> float:
        """VmHWM: the peak resident set size the kernel recorded for the process."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used (all its threads), from /proc/<pid>/stat."""
        return _cpu(Path(f"/proc/{self.proc.pid}/stat"))

    def loop_cpu_seconds(self) -> float:
        """The same for its main thread alone (the event loop's)."""
        return _cpu(Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/stat"))

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _cpu(stat: Path) -> float:
    fields = stat.read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict[str, str], pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTPBOT_", "Microsoft", "BENCH_"))
           or k in ("BENCH_GC_STATS",)}
    # Bytecode is cached (under the bench's temp dir) as on a deployed server, where pip or the first run
    # wrote it; this machine sets PYTHONDONTWRITEBYTECODE, so without this every start would compile bot/.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra)
    return env


def spawn(name: str, module: str, env: dict[str, str], log_dir: Path) -> Child:
    port = free_port()
    log = log_dir / f"{name}.log"
    env = {**env, "BENCH_PORT": str(port)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", module], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    return Child(name, proc, port, log, started)


def spawn_gunicorn(env: dict[str, str], log_dir: Path) -> Child:
    """The production entry point: `gunicorn --config gunicorn.conf.py bot.wsgi:app` (see bot/__main__.py)."""
    port = free_port()
    log = log_dir / "gunicorn.log"
    env = {**env, "OTPBOT_BIND": f"127.0.0.1:{port}"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "bot.wsgi:app"],
                            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT)
    return Child("gunicorn", proc, port, log, started)


async def wait_healthy(child: Child, session: aiohttp.ClientSession) -> float:
    """Seconds from spawn to the first 200 from /healthz (polled every 2 ms)."""
    deadline = child.started_at + HEALTH_TIMEOUT_S
    while time.perf_counter() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.log_tail()}")
        try:
            async with session.get(f"{child.url}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                if r.status == 200:
                    return time.perf_counter() - child.started_at
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.002)
    raise RuntimeError(f"{child.name} did not answer /healthz in {HEALTH_TIMEOUT_S} s:\n{child.log_tail()}")


async def stop(child: Child) -> None:
    if child.proc.poll() is None:
        child.proc.send_signal(signal.SIGTERM)
        for _ in range(100):  # 10 s
            if child.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            child.proc.kill()
            child.proc.wait(5)
