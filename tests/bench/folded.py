"""Summarise a py-spy `--format raw` profile (folded stacks): the frames with the most samples.

    python -m tests.bench.folded PROFILE.folded [--top 25] [--own]
`--loop` keeps only the event loop's thread (py-spy also samples idle executor threads). `--own` counts only samples whose innermost frame is the function (self time); the default counts every
sample with the function anywhere on the stack (inclusive time), once per sample.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_SITE = re.compile(r"\(.*?(?:site-packages|lib/python3\.\d+)/")


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    frame = _SITE.sub("(", frame)
    return re.sub(r"\(/work/main/", "(", frame)


def top(stacks: list[tuple[list[str], int]], own: bool, n: int) -> list[tuple[str, int, float]]:
    total = sum(c for _, c in stacks) or 1
    counts: Counter[str] = Counter()
    for frames, count in stacks:
        names = [short(frames[-1])] if own else {short(f) for f in frames}
        for name in names:
            counts[name] += count
    return [(name, c, 100 * c / total) for name, c in counts.most_common(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--own", action="store_true")
    parser.add_argument("--loop", action="store_true", help="only the event loop thread's samples")
    args = parser.parse_args()
    stacks = load(args.profile)
    if args.loop:
        stacks = [(frames, count) for frames, count in stacks if any("run_app (" in f for f in frames)]
    print(f"{sum(c for _, c in stacks)} samples ({'self' if args.own else 'inclusive'})")
    for name, count, pct in top(stacks, args.own, args.top):
        print(f"{pct:6.1f}%  {count:6d}  {name}")


if __name__ == "__main__":
    main()
