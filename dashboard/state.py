"""What every page shares: the store, and cached reads of it.

Pages call these functions and :mod:`qi`; they compute no statistics themselves.
Reads are cached per *store version* (the latest upload, rollback and change-log
edit), so a new upload or rollback shows at once and nothing is recomputed otherwise.
"""

from __future__ import annotations

import os
import re

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from qi import board
from qi.sample import ensure_sample
from qi.store import Store, default_url
from qi.store.models import AuditEntry


def database_url() -> str:
    return os.environ.get("QI_DATABASE_URL") or default_url()


@st.cache_resource(show_spinner="Opening the store (and loading the sample the first time)…")
def _store(url: str) -> Store:
    store = Store.open(url)
    ensure_sample(store)
    return store


def store() -> Store:
    """The store at ``QI_DATABASE_URL`` (the sample is loaded into an empty one)."""
    return _store(database_url())


def version() -> int:
    """Changes whenever anything is stored: the latest audit-log entry."""
    with store().engine.connect() as conn:
        return int(conn.scalar(select(func.max(AuditEntry.id))) or 0)


@st.cache_data(show_spinner=False, max_entries=8)
def observations(url: str, version: int) -> pd.DataFrame:
    return _store(url).observations()


@st.cache_data(show_spinner=False, max_entries=8)
def measures(url: str, version: int) -> pd.DataFrame:
    return _store(url).measures()


@st.cache_data(show_spinner=False, max_entries=8)
def teams(url: str, version: int) -> pd.DataFrame:
    return _store(url).teams()


@st.cache_data(show_spinner=False, max_entries=8)
def pdsa(url: str, version: int) -> pd.DataFrame:
    return _store(url).pdsa()


@st.cache_data(show_spinner="Computing every series…", max_entries=8)
def matrix(url: str, version: int, level: str) -> pd.DataFrame:
    series = board.series_frame(observations(url, version), measures(url, version), level=level)
    return board.matrix(series)


def current() -> tuple[str, int]:
    """(url, version): the cache key every page passes to the readers above."""
    return database_url(), version()


def query_default(key: str, options: list, fallback=None):
    """The value in the URL for ``key`` if it is one of ``options``, else ``fallback``
    (or the first option; None when there are none)."""
    value = st.query_params.get(key)
    if value in options:
        return value
    if fallback is not None and fallback in options:
        return fallback
    return options[0] if options else None


def require_data(frame: pd.DataFrame) -> None:
    """Stop the page with a note when there is nothing to show yet."""
    if frame is None or len(frame) == 0:
        st.info(
            "No data to show yet: upload a file on the Upload page, or load the sample "
            "collaborative with `qi sample`."
        )
        st.stop()


def query_list(key: str, options: list) -> list:
    return [v for v in st.query_params.get_all(key) if v in options]


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def literal(value: object) -> str:
    """Data (a file name, a group, an error message) made safe inside Markdown text:
    every character Markdown would read as markup is escaped, so it shows as typed."""
    return _MARKDOWN.sub(r"\\\1", str(value))


def local_mode_banner() -> None:
    st.sidebar.caption(
        "Single-user local mode: no sign-in is configured, so every change is recorded "
        "under this computer's user name."
    )


@st.cache_data(show_spinner=False, max_entries=8)
def accountability(url: str, version: int) -> pd.DataFrame:
    """Per team × measure × group: owner, sponsor, review overdue, overdue actions, and
    the holding-the-gains status of its latest change (what the board matrix adds)."""
    import datetime as dt

    from qi.accountability import holding_gains, overdue_actions, review_status

    store = _store(url)
    today = dt.datetime.now(dt.UTC).date()
    reviews = review_status(store.owners(), store.actions(), today=today)
    late = overdue_actions(store.actions(), today=today)
    late_count = late.groupby(["team", "measure"]).size().rename("actions_overdue")
    owned = reviews.join(late_count, on=["team", "measure"])
    owned["actions_overdue"] = owned["actions_overdue"].fillna(0).astype(int)
    owned = owned.rename(columns={"overdue": "review_overdue"})
    cycles = pdsa(url, version)
    changes = (
        cycles.groupby(["team", "measure", "group", "change_idea"], dropna=False)["start"]
        .min()
        .reset_index()
    )
    series = board.series_frame(observations(url, version), measures(url, version))
    gains = (
        holding_gains(series, changes)
        .sort_values("start")
        .groupby(["team", "measure", "group"])
        .tail(1)
    )
    return owned, gains[["team", "measure", "group", "status"]].rename(columns={"status": "gains"})
