"""Shared fixtures: a fresh store on SQLite and, where a server is given, on PostgreSQL.

PostgreSQL tests need ``QI_TEST_POSTGRES_URL``, the URL of a server where databases
may be created (``.ci/run`` starts a throwaway one and sets it). Without it they are
skipped, except under CI (``CI=true``), where a missing server is an error.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from qi.store import Store

PG_ENV = "QI_TEST_POSTGRES_URL"

TEAMS = pd.DataFrame(
    {
        "collaborative": ["Test Collaborative"] * 3,
        "ics": ["North ICS", "North ICS", "South ICS"],
        "trust": ["Hill Trust", "Hill Trust", "Vale Trust"],
        "team": ["Willow Ward", "Oak Ward", "=HYPERLINK(\"x\") Team"],
    }
)
MEASURES = pd.DataFrame(
    {
        "id": ["restraint", "detained", "wait_days"],
        "name": ["Restraint per 1,000 bed days", "Detained under the MHA", "Days to contact"],
        "definition": ["", "", ""],
        "numerator_definition": ["incidents", "admissions detained", "total days"],
        "denominator_definition": ["occupied bed days", "admissions", "people seen"],
        "unit": ["per 1,000 OBD", "%", "days"],
        "multiplier": ["1000", "100", "1"],
        "chart": ["u", "p", "i"],
        "improvement": ["decrease", "decrease", "decrease"],
        "target": ["", "", "14"],
        "groups": ["Asian;Black;Mixed;White;Other;Not stated"] * 3,
    }
)
HEADER = "team,measure,period,group,numerator,denominator\n"


def postgres_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{PG_ENV} is not set: CI must run the store tests on PostgreSQL too")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    admin = postgres_admin_url()
    if not admin:
        pytest.skip(f"{PG_ENV} not set: no PostgreSQL server to test against")
    name = f"qi_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def empty_store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as store:
        yield store


@pytest.fixture
def store(empty_store: Store) -> Store:
    """A store with three teams and three measures registered, and no data."""
    empty_store.register_teams(TEAMS)
    empty_store.load_measures(MEASURES)
    return empty_store


def snapshot(store: Store) -> tuple[dict[str, int], pd.DataFrame, pd.DataFrame]:
    """Everything a rejected change must leave as it was."""
    return store.counts(), store.observations(), store.uploads()


def assert_unchanged(store: Store, before) -> None:
    counts, observations, uploads = before
    assert store.counts() == counts
    pd.testing.assert_frame_equal(store.observations(), observations)
    pd.testing.assert_frame_equal(store.uploads(), uploads)


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> Path:
    """An SQLite store with the bundled sample loaded through the import path (once)."""
    from qi.sample import load_sample

    path = tmp_path_factory.mktemp("sample") / "sample.db"
    with Store.open(f"sqlite:///{path}") as store:
        load_sample(store)
    return path


@pytest.fixture
def sample_copy(sample_db: Path, tmp_path: Path) -> str:
    """The URL of this test's own copy of the sample store."""
    copy = tmp_path / "sample.db"
    shutil.copy(sample_db, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """label -> the ``data`` of every download button drawn (a callable is called when the
    button is pressed; AppTest cannot press one)."""
    import streamlit
    from streamlit.delta_generator import DeltaGenerator

    seen: dict = {}
    original = DeltaGenerator.download_button

    def record(self, label, data, *args, **kwargs):
        seen[label] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", record)
    monkeypatch.setattr(
        streamlit, "download_button", lambda *a, **k: record(streamlit._main, *a, **k)
    )
    return seen


def pressed(downloads: dict, label: str) -> bytes:
    data = downloads[label]
    return data() if callable(data) else data


def counting_snapshots(monkeypatch) -> list[str]:
    """Count the snapshots read from now on (``Snapshot.from_store`` wrapped for the
    test): the list returned grows by the user name of each person read for."""
    from qi.snapshot import Snapshot

    reads_made: list[str] = []
    read = Snapshot.from_store.__func__

    def counted(cls, store, **kwargs):
        reads_made.append(store.whoami().username)
        return read(cls, store, **kwargs)

    monkeypatch.setattr(Snapshot, "from_store", classmethod(counted))
    return reads_made


@pytest.fixture(scope="session", autouse=True)
def _close_the_chart_browser():
    """Close qi.images' browser before pytest's warning filters are put back.

    choreographer's watchdog wraps the browser's life in ``warnings.catch_warnings()``
    on its own thread, so closing it restores the filters that were in force when it
    started (a test's ``error``); left to atexit, that turned an ordinary
    ResourceWarning at interpreter exit into a traceback.
    """
    yield
    from qi import images

    images.shutdown()


@pytest.fixture(autouse=True)
def _no_board_warmer_thread(monkeypatch):
    """The dashboard's warmer (``dashboard.warm``) off in page tests: each test's own
    store would otherwise keep a thread looking at its version for a quarter of an
    hour. ``tests/test_warm.py`` turns it on and drives it itself; the browser tests'
    server runs it as any server does."""
    monkeypatch.setenv("QI_WARM_SECONDS", "0")


@pytest.fixture(autouse=True)
def _every_figure_passes_plotlys_checks(monkeypatch):
    """Every figure a test builds is built a second time with plotly's checks on.

    ``qi.figures`` builds its figures without them (``_figure``: they cost a tenth of a
    board pack). Here each one is checked: an unknown property, or a value plotly
    would refuse, fails the test that drew it; one plotly would write differently
    (coerced, or dropped) fails it too, as the two figures' JSON must be the same.
    """
    import copy
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    from qi import figures

    unchecked = figures._figure

    def checked_too(traces: list[dict], layout: dict) -> go.Figure:
        spec = copy.deepcopy({"data": traces, "layout": layout})
        fig = unchecked(traces, layout)
        as_drawn = json.loads(pio.to_json(fig, validate=False))
        assert as_drawn == json.loads(pio.to_json(go.Figure(spec))), (
            "plotly's checks would change this figure"
        )
        return fig

    monkeypatch.setattr(figures, "_figure", checked_too)
