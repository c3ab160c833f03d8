"""Summarise a py-spy `--format raw` profile (folded stacks): the frames with the most samples.

    python -m tests.bench.folded PROFILE.folded [--top 25] [--own] [--loop] [--functions]

By default a frame counts once for every sample with it anywhere on the stack (inclusive time); `--own` counts
only samples whose innermost frame it is (self time). `--loop` keeps the event loop's thread alone (py-spy
also samples the SQLite writer and idle executor threads); `--functions` merges the lines of a function.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]  # this checkout's paths print as bot/..., tests/...
_SITE = re.compile(r"\(.*?(?:site-packages|lib/python3\.\d+)/")


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def short(frame: str, lines: bool = True) -> str:
    frame = _SITE.sub("(", frame).replace(f"({_REPO}/", "(")
    return frame if lines else re.sub(r":\d+\)$", ")", frame)


def top(stacks: list[tuple[list[str], int]], own: bool, n: int, lines: bool = True) -> list[tuple[str, int, float]]:
    total = sum(c for _, c in stacks) or 1
    counts: Counter[str] = Counter()
    for frames, count in stacks:
        names = [short(frames[-1], lines)] if own else {short(f, lines) for f in frames}
        for name in names:
            counts[name] += count
    return [(name, c, 100 * c / total) for name, c in counts.most_common(n)]


# Where a sample's time goes: the innermost frame that matches an area decides (areas are tried in order).
# A rule is "path fragment" or "path fragment:function prefix".
AREAS = [
    ("idle: the loop waiting in epoll", ("selectors.py:EpollSelector.select",)),
    ("JWT validation (PyJWT + RSA)", ("jwt/", "jwt_validation.py")),
    ("Key Vault read (azure-core pipeline)", ("azure/core/", "azure/keyvault/", "bot/adapters/keyvault.py")),
    ("inbound Activity (msrest or fast path)", ("msrest/serialization.py:Deserializer", "wire.py:_ActivityReader",
                                                "wire.py:activity_from", "wire.py:_json_copy", "isodate/")),
    ("outbound reply: serialise + msrest pipeline", ("msrest/", "botframework/connector/", "wire.py:ActivitySerializer",
                                                     "requests/structures.py",
                                                     "bot/adapters/teams/connector_wire.py")),
    ("thread-pool hops (requests; azure-core's netrc/proxy look-ups)", ("requests/sessions.py", "requests/adapters.py",
                                                                         "urllib3/", "concurrent/futures/")),
    ("the turn (botbuilder's TurnContext and deepcopy before; turn.py after)", ("botbuilder/", "copy.py",
                                                                                "bot/adapters/teams/turn.py")),
    ("SQLite on the loop (commits before; reads, futures after)", ("bot/adapters/sqlite.py",)),
    ("handlers, cards, core", ("bot/handlers/", "bot/core/", "bot/adapters/teams/", "bot/adapters/local_directory")),
    ("aiohttp client", ("aiohttp/client", "aiohttp/connector")),
    ("aiohttp server + HTTP parsing", ("aiohttp/",)),
    ("asyncio, sockets, TLS", ("asyncio/", "selectors.py", "ssl.py")),
]
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?)(?::\d+)?\)$")


def _matches(frame: str, rule: str) -> bool:
    parsed = _FRAME.match(frame)
    if not parsed:
        return False
    path_part, _, function_part = rule.partition(":")
    return path_part in parsed["path"] and parsed["function"].startswith(function_part)


def areas(stacks: list[tuple[list[str], int]]) -> list[tuple[str, int, float]]:
    total = sum(c for _, c in stacks) or 1
    counts: Counter[str] = Counter()
    for frames, count in stacks:
        for frame in reversed(frames):
            area = next((a for a, rules in AREAS if any(_matches(frame, r) for r in rules)), None)
            if area:
                counts[area] += count
                break
        else:
            counts["other (stdlib, json, logging...)"] += count
    return [(name, c, 100 * c / total) for name, c in counts.most_common()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--own", action="store_true")
    parser.add_argument("--loop", action="store_true", help="only the event loop thread's samples")
    parser.add_argument("--functions", action="store_true", help="merge the lines of a function")
    parser.add_argument("--areas", action="store_true", help="samples by area (JWT, Key Vault, msrest...)")
    args = parser.parse_args()
    stacks = load(args.profile)
    if args.loop:
        stacks = [(frames, count) for frames, count in stacks if any("run_app (" in f for f in frames)]
    if args.areas:
        print(f"{sum(c for _, c in stacks)} samples, by area")
        for name, count, pct in areas(stacks):
            print(f"{pct:6.1f}%  {count:6d}  {name}")
        return
    print(f"{sum(c for _, c in stacks)} samples ({'self' if args.own else 'inclusive'})")
    for name, count, pct in top(stacks, args.own, args.top, not args.functions):
        print(f"{pct:6.1f}%  {count:6d}  {name}")


if __name__ == "__main__":
    main()
