"""Benchmark: the work of an upload is proportional to the upload, not to the store.

Builds stores of a growing number of months (team × measure × group × month rows,
stored a year per upload) and times, at each size,

- the next month for every team (40 teams × 8 measures × 6 groups = 1,920 rows, the
  monthly upload of a collaborative's data team), three times,
- its preview: the stored values a one-row correction would replace (``Store.replacements``),
- storing that one-row correction,
- loading everything shown (``Store.observations``) and as of an earlier instant.

It prints each figure and, for the uploads, the ratio of the largest store's time to the
smallest's (goal: about 1, i.e. flat as the store grows; issue 22 found a late upload
taking 0.7 s → 4.8 s as a store grew, because its "already shown" query read every
stored month).

Usage::

    python benchmarks/bench_corrections.py [--months 6,24,66] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from qi.store import Store

GROUPS = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]
MEASURES = 8
MONTHS = pd.period_range("2019-01", "2024-12", freq="M").strftime("%Y-%m")  # 72


def catalogue(n_teams: int) -> tuple[pd.DataFrame, pd.DataFrame]:
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
            "id": [f"m{i}" for i in range(MEASURES)], "name": [f"M{i}" for i in range(MEASURES)],
            "definition": "", "numerator_definition": "", "denominator_definition": "",
            "unit": "", "multiplier": "1", "chart": ["p", "u"] * (MEASURES // 2),
            "improvement": "decrease", "target": "", "groups": ";".join(GROUPS),
        }
    )  # fmt: skip
    return teams, measures


def rows_csv(teams, months, rng) -> bytes:
    grid = pd.MultiIndex.from_product(
        [teams, [f"m{i}" for i in range(MEASURES)], months, GROUPS],
        names=["team", "measure", "period", "group"],
    ).to_frame(index=False)
    grid["denominator"] = rng.integers(50, 500, len(grid))
    grid["numerator"] = rng.binomial(grid["denominator"], 0.1)
    out = io.StringIO()
    grid[["team", "measure", "period", "group", "numerator", "denominator"]].to_csv(
        out, index=False
    )
    return out.getvalue().encode()


def timed(fn, repeat: int = 3):
    """Median wall time of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


TEAMS = 40


def run(url: str, months: int, rng) -> dict[str, float]:
    """A store of ``TEAMS`` teams × 8 measures × 6 groups × ``months`` months, then the
    next three months one by one (each upload the same size: every team's month)."""
    teams, measures = catalogue(TEAMS)
    with Store.open(url) as store:
        store.register_teams(teams)
        store.load_measures(measures)
        names = list(teams["team"])
        for start in range(0, months, 12):  # stored a year at a time
            body = rows_csv(names, MONTHS[start : min(start + 12, months)], rng)
            result = store.import_file(body, f"year{start}.csv")
            assert result.ok, result.problems[:3]
        stored = store.counts()["observation"]
        n = [0]

        def new_month():  # every team's next month
            month = MONTHS[months + n[0]]
            n[0] += 1
            return store.import_file(rows_csv(names, [month], rng), f"month{n[0]}.csv")

        t_late, result = timed(new_month, repeat=3)
        assert result.ok, result.problems[:3]
        last = MONTHS[months + n[0] - 1]
        fix = (
            f"team,measure,period,group,numerator,denominator\n{names[0]},m0,{last},Black,1,99\n"
        ).encode()
        clean, _ = store.validate(fix, "fix.csv")
        t_preview = float("nan")
        if hasattr(store, "replacements"):  # (so that the script also times older code)
            t_preview, preview = timed(lambda: store.replacements(clean))
            assert len(preview) == 1
        k = [0]

        def correction():
            k[0] += 1
            body = fix.replace(b",1,99", f",1,{99 + k[0]}".encode())
            return store.import_file(body, f"fix{k[0]}.csv")

        t_fix, fixed = timed(correction)
        assert fixed.ok
        instant = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        t_load, data = timed(store.observations, repeat=1)
        t_asof, _ = timed(lambda: store.observations(as_of=instant), repeat=1)
    return {
        "stored": stored, "months": months, "new month": t_late, "preview": t_preview,
        "correction": t_fix, "load": t_load, "load as-of": t_asof, "shown": len(data),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", default="6,24,66", help="months stored before the new ones")
    parser.add_argument("--postgres", default=os.environ.get("QI_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.months.split(",")]
    backends = [("SQLite", None)] + ([("PostgreSQL", args.postgres)] if args.postgres else [])
    for label, admin in backends:
        print(f"bench_corrections ({label}): {TEAMS} teams' new month ({TEAMS * 48:,} rows), "
              "a one-row correction and its preview, as the stored months grow")  # fmt: skip
        figures = []
        for size in sizes:
            rng = np.random.default_rng(size)  # size: months stored
            with tempfile.TemporaryDirectory() as tmp:
                if admin is None:
                    figures.append(run(f"sqlite:///{Path(tmp) / 'b.db'}", size, rng))
                else:
                    figures.append(_postgres(admin, size, rng))
            f = figures[-1]
            print(
                f"  store {f['stored']:>9,} rows ({f['months']:>2} months)  "
                f"new month {f['new month']:6.3f} s  "
                f"preview {f['preview']:6.3f} s  correction {f['correction']:6.3f} s  "
                f"load {f['load']:6.2f} s ({f['shown']:,} rows)  as-of {f['load as-of']:6.2f} s"
            )
        for what in ("new month", "preview", "correction"):
            ratio = figures[-1][what] / max(figures[0][what], 1e-9)
            print(f"  {what}: largest store / smallest = {ratio:.2f} (goal: about 1)")
    if not args.postgres:
        print("PostgreSQL skipped: pass --postgres URL or set QI_TEST_POSTGRES_URL")


def _postgres(admin_url: str, size: int, rng) -> dict[str, float]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"qi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return run(url, size, rng)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
