"""Benchmark of importing real-sized uploads (issue 17): time, lines printed, peak memory.

Scenarios, each run in a fresh process (so its peak memory is its own), on SQLite:

- ``valid``: ``qi import`` of a valid 200,000-row CSV (read, detect, validate, store);
- ``wide``: the same numbers as a wide file (months as columns, numerator and
  denominator rows told apart by a column, title lines above): detection and unpivot;
- ``reupload``: ``qi import`` of the same 200,000 rows again, every numerator changed,
  into the store holding the first upload: a correction of everything, so every stored
  value is replaced (row by row) and the replacements are recorded and listed;
- ``systematic``: ``qi import`` of a 200,000-row CSV whose team column holds each team's
  name behind a provider code (``RX1-Team 0001``) on every row: one systematic problem,
  refused; the lines it prints are counted.

Goals: each under 3 s; the refusal prints at most 50 lines. Prints the figures and
their ratio to the goal (below 1 meets it) and the peak resident memory of each.

Usage::

    python benchmarks/bench_import.py [--rows 200000]

The script drives only ``qi.cli.main``, so it measures an older checkout too (run it
with ``PYTHONPATH`` set to that checkout) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

GROUPS = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]
GOAL_SECONDS = 3.0
GOAL_LINES = 50


def make_files(rows: int, folder: Path) -> None:
    months = pd.period_range("2021-01", "2026-06", freq="M").strftime("%Y-%m")
    n_measures = 8
    n_teams = max(1, int(np.ceil(rows / (len(months) * len(GROUPS) * n_measures))))
    teams = pd.DataFrame({
        "collaborative": "Bench", "ics": [f"ICS {i % 5}" for i in range(n_teams)],
        "trust": [f"Trust {i % 25}" for i in range(n_teams)],
        "team": [f"Team {i:04d}" for i in range(n_teams)],
    })  # fmt: skip
    measures = pd.DataFrame({
        "id": [f"m{i}" for i in range(n_measures)],
        "name": [f"Measure {i}" for i in range(n_measures)],
        "definition": "", "numerator_definition": "", "denominator_definition": "", "unit": "",
        "multiplier": "1", "chart": ["p", "u"] * (n_measures // 2), "improvement": "decrease",
        "target": "", "groups": ";".join(GROUPS),
    })  # fmt: skip
    grid = pd.MultiIndex.from_product(
        [teams["team"], measures["id"], months, GROUPS],
        names=["team", "measure", "period", "group"],
    ).to_frame(index=False).iloc[:rows]  # fmt: skip
    rng = np.random.default_rng(1)
    grid["denominator"] = rng.integers(50, 500, len(grid))
    grid["numerator"] = rng.binomial(grid["denominator"], 0.1)
    columns = ["team", "measure", "period", "group", "numerator", "denominator"]
    teams.to_csv(folder / "teams.csv", index=False)
    measures.to_csv(folder / "measures.csv", index=False)
    grid[columns].to_csv(folder / "valid.csv", index=False)
    grid[columns].assign(numerator=grid["numerator"] + 1).to_csv(
        folder / "reupload.csv", index=False
    )
    bad = grid[columns].assign(team="RX1-" + grid["team"])
    bad.to_csv(folder / "systematic.csv", index=False)
    # wide: one row per team × measure × group × kind, months as columns
    long = grid.melt(id_vars=["team", "measure", "period", "group"],
                     value_vars=["numerator", "denominator"], var_name="Figure")  # fmt: skip
    wide = long.pivot_table(index=["team", "measure", "group", "Figure"], columns="period",
                            values="value", aggfunc="first").reset_index()  # fmt: skip
    wide.columns = [pd.Period(c).strftime("%b-%y") if c[:2] == "20" else c for c in wide.columns]
    wide = wide.rename(columns={"team": "Ward", "group": "Ethnicity"})
    text = "Monthly return\nProduced by the Information Team\n\n" + wide.to_csv(index=False)
    (folder / "wide.csv").write_text(text.replace(".0,", ",").replace(".0\n", "\n"))


def scenario(name: str, folder: Path) -> dict:
    """Run one scenario in this process: its figures."""
    from qi.cli import main

    url = f"sqlite:///{folder / (name + '.db')}"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["--db", url, "teams", str(folder / "teams.csv")]) == 0
        assert main(["--db", url, "measures", str(folder / "measures.csv")]) == 0
        if name == "reupload":  # the store already holds the first upload
            assert main(["--db", url, "import", str(folder / "valid.csv")]) == 0
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--db", url, "import", str(folder / f"{name}.csv")])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    return {"code": code, "seconds": seconds, "lines": len(out.getvalue().splitlines()),
            "first": out.getvalue().splitlines()[:1], "peak_mib": peak}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:  # the child process
        print(json.dumps(scenario(args.scenario, Path(args.folder))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_files(args.rows, folder)
        print(f"bench_import: {args.rows:,} rows; goals: under {GOAL_SECONDS:g} s, a refusal "
              f"in at most {GOAL_LINES} lines")  # fmt: skip
        for name in ("valid", "wide", "reupload", "systematic"):
            run = subprocess.run(
                [sys.executable, __file__, "--scenario", name, "--folder", str(folder)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if run.returncode != 0:
                print(f"{name:<11} failed: {run.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            outcome = "stored" if r["code"] == 0 else f"refused, {r['lines']:,} lines"
            if r["code"] == 0 and r["lines"] > 1:
                outcome += f"; {r['lines']:,} lines printed"
            lines = f"  lines/goal {r['lines'] / GOAL_LINES:5.2f}" if r["code"] else ""
            print(
                f"{name:<11} {r['seconds']:6.2f} s  time/goal {r['seconds'] / GOAL_SECONDS:5.2f}"
                f"{lines}  peak memory {r['peak_mib']:7.0f} MiB  ({outcome})"
            )
            if r["code"] and r["first"]:
                print(f"            first line: {r['first'][0][:160]}")


if __name__ == "__main__":
    main()
