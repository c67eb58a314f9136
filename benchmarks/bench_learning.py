"""Benchmark of ``qi.learning``: what followed every change of a large collaborative.

Prints the median wall time of :func:`qi.learning.learning` (and the roll-up
:func:`qi.learning.by_change`) for the sample collaborative (7 changes) and for a
synthetic collaborative of ``--teams`` teams (default 200), each testing 3 changes of
a 12-change package on its own 60-month series (600 changes, one
``holding_gains`` call). Goal: under 2 s for the 600 changes (the Learning page is
drawn from it, cached per store version).

Usage::

    python benchmarks/bench_learning.py [--teams 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import figure, machine, median_time


def synthetic(teams: int, seed: int = 19) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(series, cycles, package): ``teams`` wards, 60 months, 3 changes each, a third of
    them with a real fall of a third from their start."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2021-01-01", periods=60, freq="MS")
    package = pd.DataFrame({
        "tag": [f"change-{i}" for i in range(12)], "change": [f"Change {i}" for i in range(12)],
        "primary_driver": [f"Driver {i // 4}" for i in range(12)],
        "secondary_driver": [f"Secondary {i // 2}" for i in range(12)],
    })  # fmt: skip
    series, cycles = [], []
    for t in range(teams):
        team = f"Ward {t:03d}"
        for k, measure in enumerate(("restraint", "seclusion", "rapid_tranq")):
            start = int(rng.integers(12, 54))
            rate = np.full(60, 20.0)
            if rng.random() < 1 / 3:
                rate[start:] *= 0.66
            n = np.full(60, 2500.0)
            series.append(pd.DataFrame({
                "unit": team, "level": "team", "measure": measure, "group": "All",
                "period": months, "numerator": rng.poisson(rate * n / 1000), "denominator": n,
                "chart": "u", "multiplier": 1000.0, "improvement": "decrease",
            }))  # fmt: skip
            tag = package["tag"].iloc[int(rng.integers(0, 12))]
            for c in range(int(rng.integers(1, 4))):
                cycles.append({"team": team, "measure": measure, "group": "",
                               "change_idea": f"Idea {k}", "cycle": c + 1,
                               "start": months[start] + pd.DateOffset(months=2 * c),
                               "tag": tag})  # fmt: skip
    return pd.concat(series, ignore_index=True), pd.DataFrame(cycles), package


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from qi.learning import by_change, learning, learning_of
    from qi.sample import load_sample
    from qi.snapshot import Snapshot
    from qi.store import Store

    print(f"bench_learning: {machine()}; median of {args.repeats}")
    with (
        tempfile.TemporaryDirectory() as folder,
        Store.open(f"sqlite:///{folder}/sample.db") as store,
    ):
        load_sample(store)
        snap = Snapshot.from_store(store)
    learning_of(snap)  # warm up
    figure("learning table of the sample (7 changes)",
           median_time(lambda: learning_of(snap), args.repeats), 0.5)  # fmt: skip
    series, cycles, package = synthetic(args.teams)
    table = learning(series, cycles, package)
    n = len(table)
    figure(f"learning table, {n} changes × 60 months",
           median_time(lambda: learning(series, cycles, package), args.repeats), 2.0)  # fmt: skip
    figure(f"roll-up per change of {n} rows",
           median_time(lambda: by_change(table, package), args.repeats), 0.2)  # fmt: skip
    print("outcomes:", table["outcome"].value_counts().to_dict())


if __name__ == "__main__":
    main()
