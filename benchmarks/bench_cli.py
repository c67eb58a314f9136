"""Benchmark of the command line: how long ``qi`` takes before it answers.

Prints the median wall time (fresh process each time, as a person types it) of

- ``qi --help``,
- ``qi uploads`` on a small store (the sample collaborative, made once beforehand),
- ``qi whoami`` on the same store,
- ``python -c "import qi"`` (a notebook's first line),

and which heavy libraries ``qi --help`` and ``import qi`` load (scipy, plotly,
SQLAlchemy, pandas, argon2, streamlit).

Usage::

    python benchmarks/bench_cli.py [--repeats 5]

Goal (issue 22): ``qi --help`` and ``qi uploads`` each under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import figure, machine, qi_command

HEAVY = ("scipy", "plotly", "sqlalchemy", "pandas", "argon2", "streamlit", "alembic")


def wall(cmd: list[str], env: dict[str, str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def loaded(code: str, env: dict[str, str]) -> list[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return [m for m in HEAVY if m in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    qi = qi_command()
    print(f"bench_cli: {machine()}; {args.repeats} runs each, median")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'sample.db'}"
        env = dict(os.environ, QI_SESSION_FILE=str(Path(tmp) / "sessions"))
        env.pop("QI_DATABASE_URL", None)
        subprocess.run([*qi, "--db", url, "sample"], env=env, check=True, capture_output=True)
        figure("qi --help", wall([*qi, "--help"], env, args.repeats), 0.5)
        figure("qi uploads (sample store, 288 uploads)",
               wall([*qi, "--db", url, "uploads"], env, args.repeats), 0.5)  # fmt: skip
        figure("qi whoami (sample store)", wall([*qi, "--db", url, "whoami"], env, args.repeats))
        notebook = wall([sys.executable, "-c", "import qi"], env, args.repeats)
        figure("python -c 'import qi'", notebook)
        for what, code in (
            ("qi --help", "import qi.cli\nqi.cli._parser()"),
            ("import qi", "import qi"),
        ):
            print(f"heavy libraries loaded by {what}: {', '.join(loaded(code, env)) or 'none'}")


if __name__ == "__main__":
    main()
