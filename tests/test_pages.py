"""Page smoke tests (Streamlit AppTest): every page runs without an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
PAGES = sorted(
    p.relative_to(APP.parent).as_posix() for p in (APP.parent / "app_pages").glob("*.py")
)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs(page: str) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    at.switch_page(page).run()
    assert not at.exception


def test_home_page_shows_the_engine_summary() -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Quality improvement for equality"
    summary = at.dataframe[0].value
    assert list(summary["phase"]) == [1]
    assert {"cl", "lcl", "ucl", "runs_signal"} <= set(summary.columns)
