"""Benchmark of the store's bulk data: import 200,000 rows, load them back, export them.

Prints, for SQLite (a file in a temporary folder) and, when a server is given, for
PostgreSQL, the wall time of

- reading and validating a 200,000-row CSV upload (no database writes),
- importing it (read, validate, store in one transaction),
- loading every shown observation back as a DataFrame (``Store.observations``),
- the same load as of an earlier instant,
- ``qi export`` of every row to CSV and to Excel (``Store.export``).

Usage::

    python benchmarks/bench_store.py [--rows 200000] [--postgres URL]

``--postgres`` (or ``QI_TEST_POSTGRES_URL``) is a server URL where a database may be
created; it is dropped afterwards. Goals (issue 22): import under 3 s; export under
2 s to CSV and under 10 s to Excel.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import figure, machine

from qi.store import Store

GROUPS = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]


def make_upload(rows: int, folder: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """A long-layout upload of about ``rows`` rows, with its teams and measures tables."""
    months = pd.period_range("2021-01", "2026-06", freq="M").strftime("%Y-%m")
    n_measures = 8
    n_teams = max(1, int(np.ceil(rows / (len(months) * len(GROUPS) * n_measures))))
    teams = pd.DataFrame(
        {
            "collaborative": "Bench",
            "ics": [f"ICS {i % 5}" for i in range(n_teams)],
            "trust": [f"Trust {i % 25}" for i in range(n_teams)],
            "team": [f"Team {i:04d}" for i in range(n_teams)],
        }
    )
    measures = pd.DataFrame(
        {
            "id": [f"m{i}" for i in range(n_measures)],
            "name": [f"Measure {i}" for i in range(n_measures)],
            "definition": "",
            "numerator_definition": "",
            "denominator_definition": "",
            "unit": "",
            "multiplier": "1",
            "chart": ["p", "u"] * (n_measures // 2),
            "improvement": "decrease",
            "target": "",
            "groups": ";".join(GROUPS),
        }
    )
    grid = pd.MultiIndex.from_product(
        [teams["team"], measures["id"], months, GROUPS],
        names=["team", "measure", "period", "group"],
    ).to_frame(index=False)
    grid = grid.iloc[:rows]
    rng = np.random.default_rng(1)
    grid["denominator"] = rng.integers(50, 500, len(grid))
    grid["numerator"] = rng.binomial(grid["denominator"], 0.1)
    path = folder / "bench.csv"
    grid[["team", "measure", "period", "group", "numerator", "denominator"]].to_csv(
        path, index=False
    )
    return path, teams, measures


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(url: str, label: str, path: Path, teams, measures) -> None:
    with Store.open(url) as store:
        store.register_teams(teams)
        store.load_measures(measures)
        t_validate, (clean, problems) = timed(lambda: store.validate(path))
        assert not problems, problems[:3]
        t_import, result = timed(lambda: store.import_file(path, user="bench"))
        assert result.ok, result.problems[:3]
        instant = dt.datetime.now(dt.UTC)
        t_load, data = timed(store.observations)
        t_asof, earlier = timed(lambda: store.observations(as_of=instant))
        assert len(data) == len(clean) == len(earlier)
        out = path.with_suffix(".out.csv")
        t_csv, n_csv = timed(lambda: store.export(out))
        t_xlsx, n_xlsx = timed(lambda: store.export(out.with_suffix(".xlsx")))
        assert n_csv == n_xlsx == len(data)
    figure(f"{label}: validate {len(data):,} rows", t_validate)
    figure(f"{label}: import {len(data):,} rows", t_import, 3.0)
    figure(f"{label}: load them", t_load)
    figure(f"{label}: load them as of an instant", t_asof)
    figure(f"{label}: qi export to CSV", t_csv, 2.0)
    figure(f"{label}: qi export to Excel", t_xlsx, 10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--postgres", default=os.environ.get("QI_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path, teams, measures = make_upload(args.rows, folder)
        size = path.stat().st_size / 2**20
        print(f"bench_store: {machine()}; {args.rows:,} rows, {size:.1f} MB CSV")
        run(f"sqlite:///{folder / 'bench.db'}", "SQLite", path, teams, measures)
        if args.postgres:
            _postgres(args.postgres, path, teams, measures)
        else:
            print("PostgreSQL skipped: pass --postgres URL or set QI_TEST_POSTGRES_URL")


def _postgres(admin_url: str, path, teams, measures) -> None:
    from _common import temp_postgres

    with temp_postgres(admin_url) as url:
        run(url, "PostgreSQL", path, teams, measures)


if __name__ == "__main__":
    main()
