"""Benchmark of ``qi.spc`` against the bare numpy kernel, on the shared workloads.

Prints, for W1 (1,000 series × 60 months) and W2 (10,000 × 60), the median wall
time of

- ``qi.spc(df, chart="p", by="series", x="date", y="y", n="n")`` (Anhøj rules),
- the same with ``chart="i"`` (an I chart of y/n),
- the same I chart with ``rules="mdc"`` (Making Data Count),

beside the numpy kernel of ``shared/bench/baseline.py`` (which does no runs analysis
and builds no result frames), measured in the same process and interleaved (kernel,
qi.spc, kernel, qi.spc, …) so that both see the same machine, with their ratio; then
one short series (24 months, a p chart) through ``qi.spc``, per call; then the peak
memory of a W2 call, each in a fresh child process.

Usage::

    python benchmarks/bench_spc.py [--repeats 7] [--shared ../shared]

Goals (issue 22): on W2 at most 2× the kernel for p and i charts with the Anhøj
rules and at most 2.5× with the Making Data Count rules; peak memory for W2 under
400 MiB; one short series no slower than the other Python SPC packages (shewhart,
clinical-qikit, controlchartspy took 0.6–1.2 ms a call in issue 22's run; they are
not dependencies, so the goal is the slower end of that range).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from _common import figure, machine

ROOT = Path(__file__).resolve().parents[1]
#: goal of each case on W2, as a multiple of the kernel
GOALS = {"p": 2.0, "i": 2.0, "i, mdc": 2.5}


def _shared(path: str | None) -> Path:
    p = Path(path or os.environ.get("QI_SHARED_DIR", ROOT.parent / "shared"))
    if not (p / "bench" / "workloads.py").exists():
        sys.exit(f"bench_spc: no workloads at {p / 'bench'}; pass --shared PATH")
    return p


def _calls(df):
    import qi

    args = {"by": "series", "x": "date", "y": "y", "n": "n"}
    return {
        "p": lambda: qi.spc(df, chart="p", **args),
        "i": lambda: qi.spc(df, chart="i", **args),
        "i, mdc": lambda: qi.spc(df, chart="i", rules="mdc", improvement="increase", **args),
    }


def _interleaved(fn, kernel, repeats: int) -> tuple[float, float]:
    """Median times of ``fn`` and ``kernel``, run alternately ``repeats`` times each."""
    ours, base = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        kernel()
        t1 = time.perf_counter()
        fn()
        t2 = time.perf_counter()
        base.append(t1 - t0)
        ours.append(t2 - t1)
    return statistics.median(ours), statistics.median(base)


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


def _short_series() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = rng.integers(80, 121, 24)
    return pd.DataFrame(
        {"month": pd.date_range("2024-01-01", periods=24, freq="MS"),
         "y": rng.binomial(n, 0.2), "n": n}
    )  # fmt: skip


def _per_call(fn, calls: int = 200, repeats: int = 5) -> float:
    """Median over ``repeats`` of the mean time of one call, in seconds."""
    fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - t0) / calls)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
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

    import qi

    print(f"bench_spc: {machine()}; median of {args.repeats}, kernel and qi.spc interleaved")
    for name in WORKLOADS:
        df = load(name)
        kernels = {"p": lambda df=df: baseline.p_chart(df), "i": lambda df=df: baseline.i_chart(df)}
        print(f"{name} (data {fingerprint(df)}, {len(df):,} rows)")
        for case, fn in _calls(df).items():
            kernel = kernels[case.split(",")[0]]
            fn(), kernel()  # warm up (imports, caches)
            t, b = _interleaved(fn, kernel, args.repeats)
            label = f"  {name} {case:<7} qi.spc {t * 1e3:6.0f} ms, kernel {b * 1e3:5.0f} ms; ratio"
            figure(label, t / b, GOALS[case] if name == "W2" else None, unit="x")

    one = _short_series()
    ours = _per_call(lambda: qi.spc(one, x="month", y="y", n="n", chart="p"))
    figure("one series of 24 months (p chart): qi.spc per call", ours * 1e3, 1.2, unit="ms")
    ours_mdc = _per_call(lambda: qi.spc(one, x="month", y="y", n="n", chart="p", rules="mdc"))
    figure("  the same with rules='mdc'", ours_mdc * 1e3, 1.2, unit="ms")

    print("peak memory of one W2 call, each in a fresh process:")
    for case in GOALS:
        out = subprocess.run(
            [sys.executable, __file__, "--shared", str(shared), "--memory-child", "W2", case],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        traced, rss0, rss1 = (float(v) for v in out)
        figure(f"  W2 {case}: process max RSS (data loaded: {rss0:.0f} MiB)", rss1, 400, "MiB")
        print(f"    traced allocations of the call {traced:.0f} MiB")


if __name__ == "__main__":
    main()
