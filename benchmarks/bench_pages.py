"""Pages after the first load: how long a page takes to draw on the server.

On a store with the sample collaborative (copied into a new SQLite store, as the
dashboard does), each page is opened by Streamlit's ``AppTest`` in one process (one
server): first in a fresh session on a cold server (the page's work done for the first
time), then in ``--repeats`` more fresh sessions (a person opening it after someone
else has: the work is shared by store version and scope), and once more with one
control changed (a rerun, as a reader chooses a group or a team). Prints the median
of the warm opens and the rerun against the goal of one second.

What it measures is the server's part: running the page's script and sending its
elements. The browser's part (drawing the charts) is not in it; the browser tests
look at the pages themselves. Nor is ``AppTest``'s own look for installed custom
components on each new session (a server does it once, when it starts): done once,
before any clock, since 5 December (it was 0.11-0.13 s of every figure before).

Usage::

    python benchmarks/bench_pages.py [--repeats 5]

Goal (issue 22): every page under 1 s after the first load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, app_session, figure, machine

APP = str(ROOT / "dashboard" / "streamlit_app.py")
GOAL = 1.0

#: (label, page script, query parameters, a rerun: (widget kind, label, value))
PAGES = [
    ("Board, team level", "app_pages/board.py", {}, ("selectbox", "Group", "Black")),
    ("Board, trust level", "app_pages/board.py", {"level": "trust"}, None),
    ("Board, ICS level", "app_pages/board.py", {"level": "ics"}, None),
    ("Board, collaborative", "app_pages/board.py", {"level": "collaborative"}, None),
    ("Team charts", "app_pages/team.py", {}, ("selectbox", "Unit", "Cedar Ward")),
    ("Equality", "app_pages/equality.py", {}, None),
    ("Workshop", "app_pages/workshop.py", {}, None),
    ("Learning", "app_pages/learning.py", {}, None),
    ("Accountability", "app_pages/accountability.py", {}, None),
    ("Data completeness", "app_pages/completeness.py", {}, None),
    ("Change log", "app_pages/changelog.py", {}, None),
    ("Board pack (the form)", "app_pages/pack.py", {}, None),
]


def _open(page: str, params: dict):
    at = app_session(APP)  # components looked for once, as a server does
    at.query_params.update(params)
    at.run()
    if page != "app_pages/board.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _timed_open(page: str, params: dict) -> tuple[float, object]:
    t0 = time.perf_counter()
    at = _open(page, params)
    return time.perf_counter() - t0, at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["QI_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'sample.db'}"
        print(f"bench_pages: {machine()}; sample collaborative, SQLite; "
              f"median of {args.repeats} fresh sessions after the first")  # fmt: skip
        # the app's libraries and the store (with the sample) once, before any clock:
        # a running server has them
        _open("app_pages/board.py", {"level": "collaborative"})
        for label, page, params, rerun in PAGES:
            first, _ = _timed_open(page, params)
            warm = [_timed_open(page, params) for _ in range(args.repeats)]
            figure(f"{label}: first open", first)
            figure(f"{label}: later opens", statistics.median(t for t, _ in warm), GOAL)
            if rerun is not None:
                kind, name, value = rerun
                at = warm[-1][1]
                widget = next(w for w in getattr(at, kind) if w.label == name)
                t0 = time.perf_counter()
                widget.set_value(value).run()
                assert not at.exception, at.exception
                figure(f"{label}: rerun ({name} → {value})", time.perf_counter() - t0, GOAL)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
