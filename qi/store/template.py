"""The upload template: a CSV or Excel file ready to fill in, for the catalogue's measures
and the teams the person may upload for.

The CSV is the upload table itself: one row per team × measure × group (``All`` and
each of the measure's groups) for one month, numerator and denominator left empty.
The Excel workbook has that table on its first sheet, ``data``, and a second sheet,
``how to fill in``, listing the measures (with what their numerator and denominator
count), the teams, the groups each measure allows (and the NHS ethnic categories that
map to them) and the period spellings read. A filled-in template imports as it is.
"""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd

from qi.store.columns import REQUIRED
from qi.store.groups import ALL

PERIOD_SPELLINGS = (
    "2024-03",
    "2024-03-01",
    "01/03/2024 (day first)",
    "Mar-24",
    "March 2024",
    "an Excel date (the first of the month)",
)


def template_frame(teams: list[str], measures: pd.DataFrame, period: str) -> pd.DataFrame:
    """The rows to fill in: every team × measure × group (``All`` first) for ``period``."""
    rows = []
    for team in teams:
        for m in measures.itertuples(index=False):
            for group in (ALL, *m.groups):
                rows.append((team, m.id, period, group, "", ""))
    return pd.DataFrame(rows, columns=list(REQUIRED))


def guidance(teams: list[str], measures: pd.DataFrame, aliases: pd.DataFrame) -> pd.DataFrame:
    """The second sheet: what each column takes, as (topic, value, meaning) rows."""
    from qi.charts import CHART_TYPES

    rows = [
        ("column", c, what)
        for c, what in (
            ("team", "the team's name as registered (one of the teams below)"),
            ("measure", "the measure's id (below); its name is read too"),
            ("period", "the month: " + "; ".join(PERIOD_SPELLINGS)),
            ("group", f"{ALL} (everyone), one of the measure's groups, or an NHS ethnic category"),
            ("numerator", "the count: a whole number, 0 if there were none; never suppressed"),
            ("denominator", "people, records or bed days; empty only where the measure says so"),
        )
    ]
    for m in measures.itertuples(index=False):
        needs = CHART_TYPES[m.chart].needs_n if m.chart in CHART_TYPES else True
        den = m.denominator_definition or "denominator"
        rows.append(
            ("measure", m.id, f"{m.name}: numerator = {m.numerator_definition or 'count'}; "
             + (f"denominator = {den}" if needs else "no denominator needed"))
        )  # fmt: skip
        rows.append(("groups of " + m.id, "; ".join((ALL, *m.groups)), ""))
    rows += [("team", t, "") for t in teams]
    if len(aliases):
        codes = aliases.dropna(subset=["code"]).drop_duplicates("code").sort_values("code")
        rows += [
            ("NHS ethnic category", f"{c.code}: {c.label}", f"counted in {c.broad_group}")
            for c in codes.itertuples(index=False)
        ]
    rows += [("period spelling", p, "") for p in PERIOD_SPELLINGS]
    return pd.DataFrame(rows, columns=["about", "value", "meaning"])


def template_bytes(
    fmt: str, teams: list[str], measures: pd.DataFrame, aliases: pd.DataFrame, period: str
) -> bytes:
    """The template as the bytes of a ``"csv"`` or ``"xlsx"`` file."""
    from qi.store.export import table_bytes

    data = template_frame(teams, measures, period)
    if fmt == "csv":
        return table_bytes(data, "csv")
    if fmt != "xlsx":
        raise ValueError(f"format must be 'csv' or 'xlsx'; got {fmt!r}")
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "data"
    sheet.append(list(data.columns))
    for rec in data.itertuples(index=False):
        sheet.append([None if v == "" else v for v in rec])
    for row in sheet.iter_rows(min_row=2):  # text typed as text, never run as a formula
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    notes = book.create_sheet("how to fill in")
    info = guidance(teams, measures, aliases)
    notes.append(list(info.columns))
    for rec in info.itertuples(index=False):
        notes.append(list(rec))
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.data_type = "s"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def last_month(today: dt.date | None = None) -> str:
    """The month before ``today`` (default: now, UTC) as ``YYYY-MM``: the one usually sent."""
    today = today or dt.datetime.now(dt.UTC).date()
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first:%Y-%m}"
