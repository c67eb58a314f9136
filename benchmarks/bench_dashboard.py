"""Benchmark of what the dashboard computes per page view.

Prints the time for

- the board page to build its matrix (``qi.series.series_frame`` + ``qi.board.matrix``:
  MDC variation, assurance and sparklines) for about 3,000 series of 36 months;
- the team page to build its figure (one team × measure, seven groups, small
  multiples with PDSA bands): ``qi.spc`` + ``qi.figures.spc_figure``.

Usage::

    python benchmarks/bench_dashboard.py [--repeats 5]

Goals (issue 8): under 1 s for the board matrix, under 0.3 s for the team figures.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import qi
from qi import board
from qi.figures import spc_figure
from qi.series import series_frame

GROUPS = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]


def synthetic(n_teams: int = 86, months: int = 36, seed: int = 7):
    """Observations shaped like the store's: teams × 5 measures × 6 groups × months."""
    rng = np.random.default_rng(seed)
    measures = pd.DataFrame(
        {
            "id": ["restraint", "detained", "assessed", "coproduced", "wait"],
            "name": ["Restraint", "Detained", "Assessed in 28 days", "Co-produced", "Wait"],
            "chart": ["u", "p", "p", "p", "i"],
            "multiplier": [1000.0, 100.0, 100.0, 100.0, 1.0],
            "improvement": ["decrease", "decrease", "increase", "increase", "decrease"],
            "target": [np.nan, np.nan, 90.0, 80.0, 14.0],
        }
    )
    periods = pd.date_range("2023-11-01", periods=months, freq="MS")
    grid = pd.MultiIndex.from_product(
        [[f"Team {i:03d}" for i in range(n_teams)], measures["id"], periods, GROUPS],
        names=["team", "measure", "period", "group"],
    ).to_frame(index=False)
    grid["denominator"] = rng.integers(20, 400, len(grid)).astype(float)
    rate = grid["measure"].map({"restraint": 0.01, "detained": 0.4, "assessed": 0.7,
                                "coproduced": 0.6, "wait": 20.0})  # fmt: skip
    counts = rng.binomial(grid["denominator"].astype(int), np.minimum(rate, 0.95))
    grid["numerator"] = np.where(grid["measure"] == "wait", grid["denominator"] * 20, counts)
    grid["broad_group"] = grid["group"]
    team_no = grid["team"].str[-3:].astype(int)
    grid["trust"] = "Trust " + (team_no // 4).astype(str)
    grid["ics"] = "ICS " + (team_no // 20).astype(str)
    grid["collaborative"] = "Bench"
    return grid, measures


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    obs, measures = synthetic()

    def board_matrix():
        return board.matrix(series_frame(obs, measures))

    t_board, table = timed(board_matrix, args.repeats)
    print(f"board matrix: {len(table):,} series × 36 months in {t_board:.3f} s (goal < 1 s)")

    one = obs[(obs["team"] == "Team 007")]
    cycles = pd.DataFrame(
        {
            "change_idea": ["De-escalation training", "Peer support"],
            "cycle": [1, 1],
            "stage": ["do", "do"],
            "start": pd.to_datetime(["2025-04-01", "2025-10-01"]),
            "end": pd.to_datetime(["2025-09-30", None]),
        }
    )

    def team_figure():
        series = series_frame(one, measures)
        data = series[series["measure"] == "restraint"]
        result = qi.spc(data, x="period", y="numerator", n="denominator", by="group", chart="u",
                        multiply=1000, rules="mdc", improvement="decrease")  # fmt: skip
        return spc_figure(result.points, group="group", cycles=cycles, improvement="decrease",
                          rules=result.rules)  # fmt: skip

    t_team, fig = timed(team_figure, args.repeats)
    print(f"team figures: 7 groups, {len(fig.data)} traces in {t_team:.3f} s (goal < 0.3 s)")


if __name__ == "__main__":
    main()
