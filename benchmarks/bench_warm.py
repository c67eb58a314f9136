"""The Board's first run after an upload, with the warmer (``dashboard.warm``).

Board viewers of the whole collaborative open the Board (each a dashboard session of
Streamlit's ``AppTest``, all in this process as in one server):

- **the first reader of a new process**: nothing made yet, the store read and every
  series charted while the reader waits (what the warmer cannot help: it makes the
  Board again only for scopes that have read it);
- then a facilitator corrects one stored value (an upload of one row), so the store's
  version changes, and the process's warmer looks at it: **the warmer's work** (the
  snapshot, the board at team level and its first selection, made in the background
  while no one waits);
- **a reader arriving after that**: another board viewer, the same grants;
- **a reader arriving while it works**: after a second correction, a viewer opens the
  Board a moment after the warmer has started (waits for the rest of its work);
- with ``--versions N``, N more corrections, each made again by the warmer, and the
  process's resident memory after them (the cache keeps one version per scope).

Usage::

    python benchmarks/bench_warm.py [--db URL] [--versions N]

Without ``--db``, the sample collaborative is loaded into a new SQLite store. A SQLite
``--db`` is copied first (the script adds accounts and uploads); a PostgreSQL one is
written to, so give it a scratch database (``bench_national.py --keep DIR`` makes a
national store). Goal (issue 22): the Board's first run under 3 s.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, app_session, board_viewers, figure, machine, sample_store

APP = ROOT / "dashboard" / "streamlit_app.py"


def _correction(fac, step: int) -> None:
    """One stored value changed by an upload of one row (the store's version moves)."""
    row = fac.observations().iloc[-1]
    n = "" if row["denominator"] != row["denominator"] else row["denominator"]  # NaN: none
    body = (
        "team,measure,period,group,numerator,denominator\n"
        f"{row['team']},{row['measure']},{row['period']:%Y-%m},{row['group']},"
        f"{row['numerator'] + step},{n}\n"
    )
    result = fac.import_file(body.encode(), f"correction{step}.csv", user="bench-facilitator")
    assert result.upload_id, result.problems


def _open_board(token: str) -> float:
    from dashboard.session import TOKEN

    at = app_session(str(APP))
    at.session_state[TOKEN] = token
    t0 = time.perf_counter()
    at.run()
    took = time.perf_counter() - t0
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) > 0, "the Board showed no rows"
    return took


def _resident_mib() -> float:
    """This process's resident memory now (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="a store with data (default: the sample)")
    parser.add_argument("--versions", type=int, default=0,
                        help="more corrections, each made again; then the memory held")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db
        if url is None:
            url = sample_store(Path(tmp))
        elif url.startswith("sqlite:///"):
            copy = Path(tmp) / "store.db"
            shutil.copyfile(url.removeprefix("sqlite:///"), copy)
            url = f"sqlite:///{copy}"
        print(f"bench_warm: {machine()}; {url.split(':')[0]}")
        os.environ["QI_DATABASE_URL"] = url
        os.environ["QI_WARM_SECONDS"] = "3600"  # the warmer's looks are made here, timed
        tokens, fac = board_viewers(url, 3, prefix="warm-viewer")

        figure("the first reader of a new process (nothing made yet)", _open_board(tokens[0]))
        from dashboard import reads

        warmer = reads._warmer(url)
        _correction(fac, 1)
        t0 = time.perf_counter()
        made = warmer.step()
        figure(f"the warmer's work after an upload ({len(made)} scope)", time.perf_counter() - t0)
        figure("a reader arriving after it", _open_board(tokens[1]), 3.0)

        _correction(fac, 2)
        working = threading.Thread(target=warmer.step)
        working.start()
        time.sleep(0.2)
        figure("a reader arriving 0.2 s after it starts", _open_board(tokens[2]))
        working.join()
        for i in range(args.versions):
            _correction(fac, 3 + i)
            warmer.step()
        if args.versions:
            gc.collect()
            figure(
                f"resident memory after {args.versions} more versions", _resident_mib(), unit="MiB"
            )
        warmer.stop()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
