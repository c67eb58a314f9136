"""Benchmark of the first start: from an empty store to the first page with the sample.

For SQLite (a new file) and, given a server, PostgreSQL (a new database), prints

- ``qi sample`` on the empty store (a fresh process, wall time);
- the dashboard's first start: in a fresh process, the app run by Streamlit's
  ``AppTest`` on an empty store — opening it, loading the sample (the dashboard does
  that for an empty store), reading it and drawing the Board page — with the time
  spent importing the app's libraries stated apart (a running server has them
  loaded before the first visitor arrives) and the whole process's wall time.

Usage::

    python benchmarks/bench_first_start.py [--postgres URL]

``--postgres`` (or ``QI_TEST_POSTGRES_URL``) is a server where databases may be
created. Goal (issue 22): the first page under 3 s from an empty store.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, figure, machine, postgres_admin_url, qi_command, temp_postgres

APP = ROOT / "dashboard" / "streamlit_app.py"


def child(url: str) -> None:
    """In a fresh process: import, then run the app once on the empty store at ``url``."""
    t0 = time.perf_counter()
    os.environ["QI_DATABASE_URL"] = url
    from streamlit.testing.v1 import AppTest

    import qi.screens
    import qi.store  # noqa: F401 - what the app imports first

    t1 = time.perf_counter()
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    t2 = time.perf_counter()
    assert not at.exception, at.exception
    rows = len(at.dataframe[0].value) if at.dataframe else 0
    print(json.dumps({"imports": t1 - t0, "first_page": t2 - t1, "rows": rows}))


def measure(url: str, label: str) -> None:
    env = dict(os.environ)
    env.pop("QI_DATABASE_URL", None)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", url], env=env, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    total = time.perf_counter() - t0
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["rows"] > 0, "the Board page showed no rows"
    figure(f"{label}: first page from an empty store (after imports)", got["first_page"], 3.0)
    figure(f"{label}:   the app's imports", got["imports"])
    figure(f"{label}:   whole process (Python start to page drawn)", total)


def qi_sample(url: str, label: str) -> None:
    env = dict(os.environ)
    env.pop("QI_DATABASE_URL", None)
    t0 = time.perf_counter()
    out = subprocess.run([*qi_command(), "--db", url, "sample"], env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    figure(f"{label}: qi sample on an empty store (fresh process)", time.perf_counter() - t0)
    print(f"    {out.stdout.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"bench_first_start: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        qi_sample(f"sqlite:///{Path(tmp) / 'cli.db'}", "SQLite")
        measure(f"sqlite:///{Path(tmp) / 'app.db'}", "SQLite")
    admin = postgres_admin_url(args.postgres)
    if not admin:
        print("PostgreSQL skipped: pass --postgres URL or set QI_TEST_POSTGRES_URL")
        return
    with temp_postgres(admin) as url:
        qi_sample(url, "PostgreSQL")
    with temp_postgres(admin) as url:
        measure(url, "PostgreSQL")


if __name__ == "__main__":
    main()
