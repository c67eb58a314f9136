"""Benchmark of ``qi.spc`` against the bare numpy baseline, on the shared workloads.

Prints, for W1 (1,000 series × 60 months) and W2 (10,000 × 60), the median wall
time of

- ``qi.spc(df, chart="p", by="series", x="date", y="y", n="n")``,
- the same with ``chart="i"`` (an I chart of y/n),
- the same with ``rules="mdc"`` (when that rule set is registered),

and of the numpy baseline in ``shared/bench/baseline.py`` (which does no runs
analysis and builds no result frames), measured in the same process, with their
ratio; then the peak memory of a W2 call measured in a fresh child process.

Usage::

    python benchmarks/bench_spc.py [--repeats 5] [--shared ../shared]

Goal (issue 3): at most 5× the baseline on W2, peak memory for W2 under 1 GiB.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _shared(path: str | None) -> Path:
    p = Path(path or os.environ.get("QI_SHARED_DIR", ROOT.parent / "shared"))
    if not (p / "bench" / "workloads.py").exists():
        sys.exit(f"bench_spc: no workloads at {p / 'bench'}; pass --shared PATH")
    return p


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _calls(df):
    import qi

    calls = {
        "p": lambda: qi.spc(df, chart="p", by="series", x="date", y="y", n="n"),
        "i": lambda: qi.spc(df, chart="i", by="series", x="date", y="y", n="n"),
    }
    if "mdc" in qi.RULE_SETS:
        calls["i, mdc"] = lambda: qi.spc(
            df,
            chart="i",
            by="series",
            x="date",
            y="y",
            n="n",
            rules="mdc",
            improvement="increase",
        )
    return calls


def _memory_child(shared: Path, workload: str, case: str) -> None:
    """Run one call in this (fresh) process and print its memory figures."""
    sys.path.insert(0, str(shared / "bench"))
    from workloads import load

    df = load(workload)
    fn = _calls(df)[case]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{peak / 2**20:.0f} {rss_before / 1024:.0f} {rss_after / 1024:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shared", default=None)
    ap.add_argument("--memory-child", nargs=2, metavar=("WORKLOAD", "CASE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    shared = _shared(args.shared)
    if args.memory_child:
        _memory_child(shared, *args.memory_child)
        return
    sys.path.insert(0, str(shared / "bench"))
    import baseline
    from workloads import WORKLOADS, fingerprint, load

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cores {os.cpu_count()}")
    print(f"{'workload':<9}{'call':<9}{'qi.spc':>10}{'baseline':>11}{'ratio':>8}")
    for name in WORKLOADS:
        df = load(name)
        base = {
            "p": _median_time(lambda df=df: baseline.p_chart(df), args.repeats),
            "i": _median_time(lambda df=df: baseline.i_chart(df), args.repeats),
        }
        for case, fn in _calls(df).items():
            fn()  # warm up (imports, caches)
            t = _median_time(fn, args.repeats)
            b = base[case.split(",")[0]]
            print(f"{name:<9}{case:<9}{t * 1e3:>8.0f}ms{b * 1e3:>9.0f}ms{t / b:>7.1f}x")
        print(f"{'':<9}(data {fingerprint(df)}, {len(df):,} rows)")

    print("\npeak memory of one W2 call, each in a fresh process:")
    import qi

    cases = ["p", "i"] + (["i, mdc"] if "mdc" in qi.RULE_SETS else [])
    for case in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--shared", str(shared), "--memory-child", "W2", case],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        traced, rss0, rss1 = (float(v) for v in out)
        print(
            f"  W2 {case:<7} traced allocations {traced:.0f} MiB; process max RSS "
            f"{rss1:.0f} MiB ({rss0:.0f} MiB before the call, data loaded)"
        )


if __name__ == "__main__":
    main()
