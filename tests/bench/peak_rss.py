"""`python -m tests.bench.peak_rss MODULE ARGS…`: runs MODULE as `python -m MODULE ARGS…` and, at exit, prints its
peak resident set (VmHWM: this process image's own high-water mark, unlike ru_maxrss, which counts the parent it
was forked from) to standard error as `peak_rss_kb=N`."""

import atexit
import runpy
import sys


def _report() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                print(f"peak_rss_kb={line.split()[1]}", file=sys.stderr, flush=True)


atexit.register(_report)
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
