"""What the benchmark scripts share: timing, the goal line, a throwaway PostgreSQL database.

Every figure is printed as ``name  value  goal  ratio`` so that a run reads as a table:
the ratio is the figure divided by its goal (at most 1.00 meets it).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "QI_TEST_POSTGRES_URL"


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, in seconds."""
    return statistics.median(timed(fn)[0] for _ in range(repeats))


_COMPONENTS = None


def app_session(app: str, timeout: float = 600):
    """A new dashboard session (Streamlit's ``AppTest`` of ``app``) as a running server
    opens one: a server looks for installed custom components once, when it starts;
    ``AppTest`` looks again for each new instance (0.11-0.13 s of this machine's CPU,
    reading every installed package's metadata), which no reader of a server waits
    for. The look is done once per process here and shared by every session."""
    global _COMPONENTS
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(app, default_timeout=timeout)
    if not hasattr(at, "_bidi_component_manager"):  # another Streamlit: its own way
        return at
    if _COMPONENTS is None:
        from streamlit.components.v2.component_manager import BidiComponentManager

        _COMPONENTS = BidiComponentManager()
        _COMPONENTS.discover_and_register_components(start_file_watching=False)
    at._bidi_component_manager = _COMPONENTS
    return at


def figure(name: str, value: float, goal: float | None = None, unit: str = "s") -> None:
    """Print one figure beside its goal and the ratio (value / goal)."""
    shown = f"{value:9.3f} {unit}" if unit == "s" else f"{value:9.1f} {unit}"
    if goal is None:
        print(f"{name:<58}{shown}")
        return
    mark = "ok" if value <= goal else "OVER"
    goal_text = f"{goal:g} {unit}"
    print(f"{name:<58}{shown}   goal < {goal_text:<9} ratio {value / goal:5.2f}  {mark}")


def qi_command() -> list[str]:
    """The ``qi`` command of the Python running this script (its console script)."""
    script = Path(sys.executable).with_name("qi")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qi.cli"]


def sample_store(folder: Path) -> str:
    """The URL of a new SQLite store in ``folder`` holding the sample collaborative
    (``qi sample`` in a process of its own, whatever ``QI_DATABASE_URL`` says)."""
    import subprocess

    url = f"sqlite:///{folder / 'sample.db'}"
    env = {k: v for k, v in os.environ.items() if k != "QI_DATABASE_URL"}
    subprocess.run([*qi_command(), "--db", url, "sample"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return url


def board_viewers(url: str, n: int, prefix: str = "board"):
    """Session tokens of ``n`` people (``board01``, ``board02``, ...), each a board viewer
    over the whole collaborative, and the store signed in as the facilitator who made
    their accounts now in the store at ``url`` (made first, when it has no accounts)."""
    from qi.store import Store

    store = Store.open(url)
    collaborative = store.teams()["collaborative"].iloc[0]
    if not store.has_accounts():
        store.add_user("bench-facilitator", password="bench facilitator pass",
                       role="facilitator", scope="collaborative", name=collaborative,
                       user="bench")  # fmt: skip
    facilitator = store.sign_in("bench-facilitator", "bench facilitator pass")
    tokens = []
    for i in range(1, n + 1):
        name = f"{prefix}{i:02d}"
        facilitator.add_user(name, password="bench viewer pass", role="board_viewer",
                             scope="collaborative", name=collaborative)  # fmt: skip
        tokens.append(store.sign_in(name, "bench viewer pass").token)
    return tokens, facilitator


def postgres_admin_url(given: str | None = None) -> str | None:
    return given or os.environ.get(PG_ENV)


@contextmanager
def temp_postgres(admin_url: str) -> Iterator[str]:
    """The URL of a new database on ``admin_url``'s server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"qi_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def machine() -> str:
    import numpy
    import pandas

    return (
        f"python {sys.version.split()[0]}, numpy {numpy.__version__}, pandas "
        f"{pandas.__version__}, {os.cpu_count()} cores"
    )


def copy_file(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
