"""A national collaborative on one machine: 200 teams × 20 measures × 6 groups × 60 months.

Makes the collaborative (``--teams`` teams in trusts of five and systems of four
trusts, 20 measures of p, u and i charts, six ethnic groups, 60 monthly upload files,
one per month with every team's rows), loads it into SQLite and, given a server,
PostgreSQL, and prints for each size given (``--teams 100,200``: the figures per row
at two sizes show whether a step grows faster than the rows):

- **setup**: the 60 files through :meth:`qi.store.Store.import_files` (the same
  validation, one transaction);
- **import rate** through the ordinary upload path (:meth:`~qi.store.Store.import_file`):
  the first month into a store holding only the catalogue, and the last month into
  the store holding the other 59;
- in a fresh process: **load everything** (``qi.load``; time and peak memory),
  **load half the months**, **``qi.spc`` of every series with the Making Data Count
  rules** (team × measure × group, the ``All`` group included: the board's series),
  the **board's first run** (:class:`qi.snapshot.Snapshot` read from the store, then
  :func:`qi.screens.board` at team and at trust level), the page's **first selection**
  (:meth:`~qi.screens.board.BoardView.select` of group All: its rows, download and
  sentences; printed apart, added in issue 22 so the page's whole first run is seen)
  and a **rerun** of the board at team level on the same snapshot.

Usage::

    python benchmarks/bench_national.py [--teams 100,200] [--postgres URL] [--keep DIR]

``--keep DIR`` writes the generated files and the SQLite store there (the generator
for other uses); ``--postgres`` (or ``QI_TEST_POSTGRES_URL``) is a server where
databases may be created. Goals (issue 22): load of everything under 3 s, ``qi.spc``
of every series with MDC rules under 2 s, the board's first run under 3 s, reruns
under 1 s (the dashboard's cache), no step worse than linear in rows.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import figure, machine, postgres_admin_url, temp_postgres

GROUPS = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]
MONTHS = pd.period_range("2021-01", periods=60, freq="M")
#: (chart, improvement, multiplier, typical rate, denominator range) of the 20 measures
KINDS = [
    ("p", "increase", 100.0, 0.7, (20, 200)),
    ("p", "decrease", 100.0, 0.2, (20, 200)),
    ("u", "decrease", 1000.0, 0.01, (300, 3000)),
    ("i", "decrease", 1.0, 14.0, (5, 60)),
]


def make_collaborative(n_teams: int, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[Path]]:
    """The teams and measures tables and one upload file per month (every team's rows)."""
    teams = pd.DataFrame(
        {
            "collaborative": "National Equality Collaborative",
            "ics": [f"System {i // 20:02d}" for i in range(n_teams)],
            "trust": [f"Trust {i // 5:03d}" for i in range(n_teams)],
            "team": [f"Team {i:04d}" for i in range(n_teams)],
        }
    )
    kinds = [KINDS[i % len(KINDS)] for i in range(20)]
    measures = pd.DataFrame(
        {
            "id": [f"m{i:02d}" for i in range(20)],
            "name": [f"Measure {i}" for i in range(20)],
            "definition": "",
            "numerator_definition": "",
            "denominator_definition": "",
            "unit": "",
            "multiplier": [str(k[2]) for k in kinds],
            "chart": [k[0] for k in kinds],
            "improvement": [k[1] for k in kinds],
            "target": ["" if i % 3 else "50" for i in range(20)],
            "groups": ";".join(GROUPS),
        }
    )
    rng = np.random.default_rng(22)
    grid = pd.MultiIndex.from_product(
        [teams["team"], measures["id"], GROUPS], names=["team", "measure", "group"]
    ).to_frame(index=False)
    kind = np.tile(np.repeat(np.arange(20) % len(KINDS), len(GROUPS)), n_teams)
    low = np.array([KINDS[k][4][0] for k in kind])
    high = np.array([KINDS[k][4][1] for k in kind])
    rate = np.array([KINDS[k][3] for k in kind])
    chart = np.array([KINDS[k][0] for k in kind])
    files = []
    folder.mkdir(parents=True, exist_ok=True)
    for month in MONTHS:
        den = rng.integers(low, high)
        num = np.where(
            chart == "p",
            rng.binomial(den, np.minimum(rate, 0.95)),
            np.where(chart == "u", rng.poisson(den * rate), np.round(den * rate * 1.1)),
        )
        upload = grid.assign(period=str(month), numerator=num, denominator=den)
        path = folder / f"national_{month}.csv"
        upload[["team", "measure", "period", "group", "numerator", "denominator"]].to_csv(
            path, index=False
        )
        files.append(path)
    return teams, measures, files


def setup(url: str, teams, measures, files: list[Path], label: str) -> int:
    """Load the collaborative into ``url``; print the setup and import-rate figures."""
    from types import SimpleNamespace

    from qi.store import Store

    def upload(path: Path) -> SimpleNamespace:
        month = pd.Period(path.stem.split("_")[1], freq="M")
        arrived = (month + 1).to_timestamp() + pd.Timedelta(days=9, hours=10)
        return SimpleNamespace(source=path, name=path.name, user="bench", note="",
                               uploaded_at=arrived.isoformat())  # fmt: skip

    def bulk(store: Store, files: list[Path]) -> list:
        try:
            from qi.store.bulk import UploadFile
        except ImportError:  # a store without the bulk path: one by one
            each = [upload(p) for p in files]
            return [store.import_file(u.source, name=u.name, uploaded_at=u.uploaded_at)
                    for u in each]  # fmt: skip
        return store.import_files([UploadFile(**vars(upload(p))) for p in files])

    with Store.open(url) as first:  # the first month into a store holding the catalogue
        first.register_teams(teams)
        first.load_measures(measures)
        f = upload(files[0])
        t0 = time.perf_counter()
        result = first.import_file(f.source, name=f.name, uploaded_at=f.uploaded_at)
        t_first = time.perf_counter() - t0
        assert result.ok, result.problems[:3]
    rows = 0
    with Store.open(url) as store:
        t0 = time.perf_counter()
        results = bulk(store, files[1:-1])
        t_bulk = time.perf_counter() - t0
        rows = result.rows + sum(r.rows for r in results)
        last = upload(files[-1])
        t0 = time.perf_counter()
        final = store.import_file(last.source, name=last.name, uploaded_at=last.uploaded_at)
        t_last = time.perf_counter() - t0
        assert final.ok, final.problems[:3]
        rows += final.rows
    per_file = result.rows
    figure(f"{label}: setup, {len(files) - 2} files in bulk (rows/s)",
           (rows - 2 * per_file) / t_bulk, unit="rows/s")  # fmt: skip
    figure(f"{label}: import_file, first month into an empty store (rows/s)",
           per_file / t_first, unit="rows/s")  # fmt: skip
    figure(f"{label}: import_file, last month into the full store (rows/s)",
           per_file / t_last, unit="rows/s")  # fmt: skip
    figure(f"{label}:   the last month's upload ({per_file:,} rows), wall", t_last)
    return rows


def child(url: str) -> None:
    """In a fresh process: the reads and computations, printed as JSON."""
    import qi
    from qi import screens
    from qi.measures import chart_rows
    from qi.series import series_frame
    from qi.snapshot import Snapshot
    from qi.store import Store

    out: dict[str, float] = {}
    # the peak resident size survives exec on Linux (this child would start with its
    # parent's, the generator's): reset it, then read the peak from /proc
    Path("/proc/self/clear_refs").write_text("5")
    rss0 = _peak_kib()
    with Store.open(url) as store:
        t0 = time.perf_counter()
        data = qi.load(store=store)
        out["load_all"] = time.perf_counter() - t0
        out["rows"] = len(data)
        out["load_rss_mib"] = (_peak_kib() - rss0) / 1024
        out["frame_mib"] = data.memory_usage(deep=True).sum() / 2**20
        half = str(MONTHS[len(MONTHS) // 2])
        t0 = time.perf_counter()
        later = qi.load(store=store, periods=(half, None))
        out["load_half"] = time.perf_counter() - t0
        out["rows_half"] = len(later)
        del later
        measures = store.measures()
        series = series_frame(data, measures)
        t0 = time.perf_counter()
        charted = chart_rows(series, by=["unit", "measure", "group"], rules="mdc")
        out["spc_mdc"] = time.perf_counter() - t0
        out["series"] = int(sum(len(r.summary) for r in charted.results))
        del data, series, charted
        t0 = time.perf_counter()
        snap = Snapshot.from_store(store)
        out["snapshot"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        board = screens.board(snap, level="team")
        out["board_team"] = time.perf_counter() - t0
        out["board_rows"] = len(board.rows)
        t0 = time.perf_counter()
        board.select()  # what the page then shows: group All, its rows, file and sentences
        out["board_select"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        screens.board(snap, level="trust")
        out["board_trust"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        screens.board(snap, level="team")
        out["board_rerun"] = time.perf_counter() - t0
    print(json.dumps(out))


def _peak_kib() -> int:
    """This process's peak resident size so far (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(url: str, label: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url], check=True, capture_output=True, text=True
    ).stdout
    got = json.loads(out.strip().splitlines()[-1])
    rows = got["rows"]
    figure(f"{label}: load everything ({rows:,.0f} rows)", got["load_all"], 3.0)
    figure(f"{label}:   memory of the load (the frame: {got['frame_mib']:.0f} MiB)",
           got["load_rss_mib"], unit="MiB")  # fmt: skip
    figure(f"{label}: load half the months ({got['rows_half']:,.0f} rows)", got["load_half"],
           got["load_all"])  # fmt: skip
    figure(f"{label}: qi.spc of {got['series']:,.0f} series, MDC rules", got["spc_mdc"], 2.0)
    first = got["snapshot"] + got["board_team"]
    figure(f"{label}: board first run (snapshot {got['snapshot']:.2f} s + board)", first, 3.0)
    figure(f"{label}:   the page's first selection (All: rows, file, sentences)",
           got["board_select"])  # fmt: skip
    figure(f"{label}:   board at trust level on the same snapshot", got["board_trust"], 3.0)
    figure(f"{label}:   board rerun (no cache: the dashboard caches it)", got["board_rerun"])
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", default="100,200", help="sizes, in teams (comma-separated)")
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--keep", default=None, help="a folder to keep the files and store in")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"bench_national: {machine()}")
    admin = None if args.sqlite_only else postgres_admin_url(args.postgres)
    if admin is None:
        print("PostgreSQL skipped: pass --postgres URL or set QI_TEST_POSTGRES_URL")
    per_row: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep or tmp)
        for n_teams in (int(t) for t in args.teams.split(",")):
            folder = base / f"national_{n_teams}"
            t0 = time.perf_counter()
            teams, measures, files = make_collaborative(n_teams, folder / "uploads")
            n = n_teams * 20 * len(GROUPS) * len(MONTHS)
            print(f"-- {n_teams} teams: {n:,} rows in {len(files)} files, made in "
                  f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
            url = f"sqlite:///{folder / 'national.db'}"
            if Path(folder / "national.db").exists():
                Path(folder / "national.db").unlink()
            setup(url, teams, measures, files, f"SQLite {n_teams}")
            per_row[("SQLite", n)] = measure(url, f"SQLite {n_teams}")
            if admin:
                with temp_postgres(admin) as pg:
                    setup(pg, teams, measures, files, f"PostgreSQL {n_teams}")
                    per_row[("PostgreSQL", n)] = measure(pg, f"PostgreSQL {n_teams}")
    _linearity(per_row)


def _linearity(per_row: dict[tuple[str, int], dict[str, float]]) -> None:
    """Each step's time per row at the larger size over the smaller (1.0: linear)."""
    steps = ["load_all", "load_half", "spc_mdc", "snapshot", "board_team", "board_trust"]
    for backend in sorted({b for b, _ in per_row}):
        sizes = sorted(n for b, n in per_row if b == backend)
        if len(sizes) < 2:
            continue
        small, large = per_row[(backend, sizes[0])], per_row[(backend, sizes[-1])]
        growth = {s: (large[s] / sizes[-1]) / (small[s] / sizes[0]) for s in steps}
        print(f"{backend}: time per row at {sizes[-1]:,} rows over {sizes[0]:,} rows "
              "(1.0 = linear; above 1.5 = worse than linear):")  # fmt: skip
        print("   " + ", ".join(f"{s} {g:.2f}" for s, g in growth.items()))


if __name__ == "__main__":
    main()
