"""What pages share on screen: URL parameters, text shown as typed, download buttons,
the small-numbers choice, and the notes a page shows instead of data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from qi import exports, words
from qi.store import isolated


def query_default(key: str, options: list, fallback=None):
    """The value in the URL for ``key`` if it is one of ``options``, else ``fallback``
    (or the first option; None when there are none)."""
    value = st.query_params.get(key)
    if value in options:
        return value
    if fallback is not None and fallback in options:
        return fallback
    return options[0] if options else None


def in_url(key: str, value: str | list[str], default: str | list[str]) -> None:
    """Keep a control's value in the address, leaving it out while it is the default.

    Each change of the address is a step in the browser's history, so a page that wrote
    its defaults on arrival would put a step between itself and the page before, and Back
    would seem to do nothing. A list is left out while it holds exactly the default's
    values (for a filter, usually all of them)."""
    same = sorted(value) == sorted(default) if isinstance(value, list) else value == default
    if same:
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = value


#: The width a chart is laid out for on a phone (pixels): the server cannot measure the
#: screen, but a phone's browser says "Mobi" in its User-Agent (as browsers agree to).
PHONE_WIDTH = 350


def chart_width() -> int | None:
    """The width to lay a chart out for: :data:`PHONE_WIDTH` on a phone, else None (the
    figure's own assumption for a desktop screen)."""
    try:
        agent = st.context.headers.get("User-Agent") or ""
    except Exception:  # no browser (a test or a script)
        return None
    return PHONE_WIDTH if "Mobi" in agent else None


def require_data(frame: pd.DataFrame) -> None:
    """Stop the page with a note when there is nothing to show yet."""
    if frame is None or len(frame) == 0:
        st.info(
            "No data to show yet: upload a file on the Upload page, or load the sample "
            "collaborative with `qi sample`."
        )
        st.stop()


def query_filter(key: str, options: list, *, legacy: str | None = None) -> list:
    """A list filter from the URL: the values of ``key`` that are options (``key`` given
    once, empty, means none chosen); a link that has no ``key`` may name them under
    ``legacy`` (an older name)."""
    if key in st.query_params or legacy is None:
        return query_list(key, options)
    return query_list(legacy, options)


def query_list(key: str, options: list) -> list:
    return [v for v in st.query_params.get_all(key) if v in options]


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=])")


def literal(value: object) -> str:
    """Data (a file name, a group, an error message) made safe inside Markdown text:
    every character Markdown would read as markup is escaped, so it shows as typed."""
    return _MARKDOWN.sub(r"\\\1", str(value))


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_downloads(table: pd.DataFrame, *, label: str, stem: str, into=None) -> None:
    """ "<label> (CSV)" and "<label> (Excel)" buttons for a table from :mod:`qi.exports`
    (formula-like text neutralised on writing), in two columns (``into``, or new ones)."""
    csv_column, xlsx_column = into if into is not None else st.columns(2)
    csv_column.download_button(
        f"{label} (CSV)", data=lambda: exports.table_bytes(table, "csv"),
        file_name=f"{stem}.csv", mime="text/csv",
    )  # fmt: skip
    xlsx_column.download_button(
        f"{label} (Excel)", data=lambda: exports.table_bytes(table, "xlsx"),
        file_name=f"{stem}.xlsx", mime=XLSX_MIME,
    )  # fmt: skip


def local_mode_banner() -> None:
    st.sidebar.caption(
        "Single-user local mode: no sign-in is configured, so every change is recorded "
        "under this computer's user name."
    )


#: Messages kept across a rerun (a save, then ``st.rerun``), shown once on the next run.
FLASH = "qi_flash"


def flash(message: str, kind: str = "success") -> None:
    """Say ``message`` (plain text) at the top of the next run of the page: what was just
    saved survives the rerun that shows it."""
    st.session_state.setdefault(FLASH, []).append((kind, str(message)))


def show_flash() -> None:
    """Show, once, the messages :func:`flash` kept (the router calls this first)."""
    for kind, message in st.session_state.pop(FLASH, []):
        getattr(st, kind)(literal(message))


def table(frame: pd.DataFrame, columns, **kwargs) -> None:
    """A table in words (:func:`qi.words.table`): headings people read, months as
    "Nov 2026", rounded numbers, blanks for missing values."""
    st.dataframe(words.table(frame, columns), hide_index=True, **kwargs)


def chart(fig, *, key_heading: str = "Marks on the chart") -> None:
    """A plotly chart (as exported: ``theme=None``), its text alternative beneath it
    (:func:`qi.figures.description`: what the chart shows, in a sentence or two, for a
    screen reader and for anyone; where the figure has them, ``layout.meta["sentences"]``
    of :mod:`qi.sentences` open it, a paragraph each), and, where its labels did not fit
    and were numbered, the numbered list (:func:`qi.figures.chart_key`)."""
    from qi.figures import chart_key, description

    st.plotly_chart(fig, theme=None, width="stretch")  # the content's width, on a phone too
    said = description(fig)
    # it opens with the chart in a sentence per series: a paragraph each
    sentences = list((fig.layout.meta or {}).get("sentences") or [])
    lead = " ".join(sentences)
    parts = [*sentences, said[len(lead) :].strip()] if lead and said.startswith(lead) else [said]
    if said:
        # each paragraph on one line: a line break typed in a name cannot start markup
        st.caption("\n\n".join(literal(" ".join(p.split())) for p in parts if p))
    marks = chart_key(fig)
    if len(marks):
        st.markdown(f"**{literal(key_heading)}**")
        cols = ["mark", "text"] if (marks["kind"] == "team").all() else ["mark", "month", "text"]
        st.dataframe(
            marks[cols].rename(columns={"mark": "Mark", "month": "Month", "text": "What"}),
            hide_index=True,
        )


#: Files from this size on show a progress bar while they are read (bytes).
PROGRESS_FROM = 2**20


@contextmanager
def _reading_progress(name: str, size: int, verb: str) -> Iterator:
    if size < PROGRESS_FROM:
        yield None
        return
    bar = st.progress(0.0, text=f"{verb} {literal(name)}…")

    def update(fraction: float | None, rows: int) -> None:
        done = f": {rows:,} rows read" if rows else ""
        bar.progress(fraction or 0.0, text=f"{verb} {literal(name)}{done}")

    try:
        yield update
    finally:
        bar.empty()


def check_upload(store, content: bytes, name: str, *, layout=None):
    """(clean rows, problems, how it was read) of an uploaded file, read and checked in a
    worker process of its own (:mod:`qi.store.isolated`: a hostile file costs that
    worker, never the server), with a progress bar for a large file."""
    with _reading_progress(name, len(content), "Checking") as progress:
        return isolated.check_upload(store, content, name, layout=layout, progress=progress)


def file_shape(store, content: bytes, name: str, **where):
    """:func:`qi.store.intake.file_shape` (the layout maker's look at a file), in a worker
    process: a hostile file costs that worker, never the server."""
    return isolated.file_shape(store, content, name, **where)


def store_upload(store, content: bytes, name: str, *, user: str, layout=None):
    """:meth:`qi.store.Store.import_file` of an uploaded file, in a worker process, with a
    progress bar for a large file."""
    with _reading_progress(name, len(content), "Storing") as progress:
        return isolated.import_file(
            store, content, name, user=user, layout=layout, progress=progress
        )
