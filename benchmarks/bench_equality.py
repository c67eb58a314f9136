"""Benchmark of ``qi.equality``: intervals for a million rows, a funnel of 500 units.

Prints the median wall time of

- ``qi.equality.proportions(x, n)`` and ``qi.equality.rates(x, n)`` on 1,000,000
  rows (goal: under 1 s each);
- ``qi.equality.funnel(...)`` over 500 units, Spiegelhalter proportion with
  overdispersion, SHMI ratio, and PHE proportion (goal: under 0.1 s each);
- ``qi.equality.gap(...)`` over 50 teams × 3 measures × 24 months × 5 groups
  (the mid-p limits need root finding; shown for scale, no goal).

Usage::

    python benchmarks/bench_equality.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm up (imports, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import qi

    rng = np.random.default_rng(20240601)
    n_rows = 1_000_000
    n = rng.integers(1, 5000, n_rows).astype(float)
    x = rng.binomial(n.astype(int), 0.1).astype(float)
    pt = rng.uniform(1e3, 1e6, n_rows)
    events = rng.poisson(pt * 2e-4).astype(float)  # about a third below 10 events

    units = 500
    den = rng.integers(50, 5000, units).astype(float)
    p = 1 / (1 + np.exp(-(np.log(0.2 / 0.8) + rng.normal(0, 0.3, units))))
    prop = pd.DataFrame({"unit": [f"U{i:03d}" for i in range(units)], "x": rng.binomial(
        den.astype(int), p).astype(float), "n": den})  # fmt: skip
    expected = np.round(rng.uniform(5, 800, units), 4)
    sr = pd.DataFrame({"unit": prop["unit"], "o": rng.poisson(expected * 1.05).astype(float),
                       "e": expected})  # fmt: skip

    months = pd.date_range("2023-01-01", periods=24, freq="MS")
    teams = [f"T{i:02d}" for i in range(50)]
    measures = ["detention", "restraint", "therapy"]
    groups = ["White", "Black", "Asian", "Mixed", "Other"]
    idx = pd.MultiIndex.from_product([teams, measures, months, groups],
                                     names=["team", "measure", "month", "eth"])  # fmt: skip
    panel = idx.to_frame(index=False)
    panel["pt"] = rng.uniform(1e3, 5e4, len(panel))
    panel["events"] = rng.poisson(panel["pt"] * 5e-4).astype(float)

    calls: list[tuple[str, float | None, Callable[[], object]]] = [
        ("proportions, 1,000,000 rows", 1.0, lambda: qi.equality.proportions(x, n)),
        ("rates, 1,000,000 rows", 1.0, lambda: qi.equality.rates(events, pt)),
        ("funnel PR + overdispersion, 500 units", 0.1,
         lambda: qi.equality.funnel(prop, group="unit", numerator="x", denominator="n",
                                    overdispersion=True)),
        ("funnel SR SHMI, 500 units", 0.1,
         lambda: qi.equality.funnel(sr, group="unit", numerator="o", denominator="e",
                                    statistic="ratio", overdispersion=True)),
        ("funnel PHE proportion, 500 units", 0.1,
         lambda: qi.equality.funnel(prop, group="unit", numerator="x", denominator="n",
                                    style="phe", multiplier=100)),
        (f"gap, {len(panel):,} rows ({len(panel) // 5 * 4:,} comparisons)", None,
         lambda: qi.equality.gap(panel, by=["team", "measure", "month"], group="eth",
                                 events="events", exposure="pt", reference="White")),
    ]  # fmt: skip
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, cores {os.cpu_count()}")
    print(f"{'call':<48}{'median':>10}{'goal':>10}")
    for name, goal, fn in calls:
        t = _median_time(fn, args.repeats)
        verdict = "" if goal is None else ("  ok" if t < goal else "  SLOW")
        goal_text = "" if goal is None else f"< {goal:g} s"
        print(f"{name:<48}{t * 1e3:>8.1f}ms{goal_text:>10}{verdict}")


if __name__ == "__main__":
    main()
