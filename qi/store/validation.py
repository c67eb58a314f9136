"""Validating an upload of observations, every problem at once, without touching the store.

:func:`validate_observations` takes the rows read by :mod:`qi.store.reading` and what
the store knows (a :class:`Catalogue`: teams, measures, group aliases) and returns
the clean rows ready to store and the list of problems. It is pure pandas, vectorised
over the rows (a 100,000-row file is checked in well under a second), and never
raises for bad data: a user fixes a file from the whole list, not one error at a time.

Rules (each problem names the file, the spreadsheet row and the column):

* the columns ``team``, ``measure``, ``period``, ``group``, ``numerator`` and
  ``denominator`` are present (others are ignored);
* ``team`` and ``measure`` are registered (``qi teams``, ``qi measures``);
* ``period`` is a period of the measure's frequency (:func:`parse_periods`): a month
  (``2024-03``, ``2024-03-01``, ``2024-03-01 00:00:00``, ``01/03/2024`` day first,
  ``Mar-24``, ``March 2024``, ``202403``), a financial quarter (``2024/25 Q1``) or a
  financial year (``2024/25``), or a date on which one starts; dates that are all the
  last day of their period are read as that period. Nothing else is read: a spelling
  not listed, or one that could mean two periods (``2024 Q1``: calendar or financial?),
  is refused. A period after the current one lies in the future;
* ``group`` is ``All``, one of the measure's groups, or an NHS ethnic category (code,
  label or a known local spelling) that falls in one of the measure's groups by the
  measure's grouping (:class:`qi.store.groups.GroupMap`); a group and its own parts
  (a broad group and its categories) are not both given for one team × measure ×
  period;
* ``numerator`` is a number, not negative, and a whole number for count charts;
* ``denominator`` is a number, not negative (a zero is a closed ward, and allowed),
  present when the measure's chart needs one, and a whole number not below the
  numerator for a proportion; a rate with events needs a denominator above zero;
* no two rows are for the same team, measure, period and group.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from qi import periods as freq
from qi.charts import CHART_TYPES
from qi.store import limits
from qi.store.columns import unknown_messages
from qi.store.export import as_typed
from qi.store.groups import ALL, DEFAULT_GROUPING, GroupMap, seed_groupings
from qi.store.reading import Problem, Table

REQUIRED = ("team", "measure", "period", "group", "numerator", "denominator")
# What a chart type needs of its numbers is said once, by the registry (qi.charts):
#: Charts whose points are numerator / denominator and so need a denominator.
NEEDS_DENOMINATOR = frozenset(key for key, chart in CHART_TYPES.items() if chart.needs_n)
#: Charts of proportions: the numerator cannot exceed the denominator.
PROPORTION_CHARTS = frozenset(key for key, chart in CHART_TYPES.items() if chart.proportion)
#: Charts of counts: numerators are whole numbers.
COUNT_CHARTS = frozenset(key for key, chart in CHART_TYPES.items() if chart.counts)
#: How each frequency's periods may be written (in messages).
FORMATS = {
    "month": "2024-03, 2024-03-01, 01/03/2024, Mar-24, March 2024 or 202403",
    "quarter": "2024/25 Q1 (April to June 2024), or the month or date it starts, 2024-04 or "
    "2024-04-01",
    "year": "2024/25 (April 2024 to March 2025), or the month or date it starts, 2024-04 or "
    "2024-04-01",
}
PERIOD_FORMATS = FORMATS["month"]
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")  # fmt: skip
#: Month names as written: the full name, its first three letters, and "sept".
_MONTHS = {
    **{m: i + 1 for i, m in enumerate(_MONTH_NAMES)},
    **{m[:3]: i + 1 for i, m in enumerate(_MONTH_NAMES)},
    "sept": 9,
}


@dataclass
class Catalogue:
    """What an upload is checked against."""

    teams: frozenset[str]
    #: indexed by measure id; columns ``chart`` and ``groups`` (a tuple of group names)
    measures: pd.DataFrame
    #: group aliases: ``alias`` (normalised), ``code``, ``label``, ``broad_group``
    aliases: pd.DataFrame
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    #: groupings: ``grouping``, ``group``, ``members``, ``aliases``, ``position``
    groupings: pd.DataFrame = field(default_factory=seed_groupings)

    @cached_property
    def group_map(self) -> GroupMap:
        """The aliases and groupings ready to look up (built once per catalogue)."""
        return GroupMap(self.aliases, self.groupings)

    def on(self, today: dt.date) -> Catalogue:
        """The same catalogue judged on another day (keeping what was built once)."""
        other = dataclasses.replace(self, today=today)
        other.__dict__["group_map"] = self.group_map
        return other


OBSERVATION_COLUMNS = (
    "row",
    "team",
    "measure",
    "period",
    "group",
    "broad_group",
    "numerator",
    "denominator",
)


def parse_periods(
    values: pd.Series,
    frequencies: pd.Series | str = "month",
    measures: pd.Series | None = None,
    *,
    today: dt.date | None = None,
) -> tuple[pd.Series, pd.Series]:
    """The first day of the period each text names, and why each one that is not a
    period of its frequency is refused.

    ``frequencies`` is one frequency (``"month"``, ``"quarter"``, ``"year"``) or one per
    row; ``measures`` names each row's measure in messages. Returns ``(periods,
    reasons)``: ``periods`` datetime64 (NaT where refused), ``reasons`` text ("" where
    the period is read). Nothing is guessed: a spelling outside :data:`FORMATS`, a
    period of another frequency, or one that could mean two periods is refused, and
    the same mistake gets the same message (its value quoted), so that many rows
    sharing it can be told as one. Dates are read as the period starting on them; when
    every date given for a frequency is the last day of its period, as the period they
    end. With ``today``, a period after the current one is refused as in the future.
    Each distinct text is read once (a file has few distinct periods).
    """
    text = values.where(values.notna(), "").astype(str).str.strip()
    n = len(text)
    if isinstance(frequencies, str):
        frequencies = pd.Series([frequencies] * n, index=values.index, dtype=object)
    if measures is None:
        measures = pd.Series([""] * n, index=values.index, dtype=object)
    codes, uniques = pd.factorize(text)
    parsed = [_read_period(t) for t in uniques]
    # per frequency: are the dates given all the last day of their period?
    freq_codes, freq_uniques = pd.factorize(frequencies.astype(str))
    ends: dict[str, bool] = {}
    for j, f in enumerate(freq_uniques):
        dated = {c for c in np.unique(codes[freq_codes == j]) if parsed[c].kind == "date"}
        days = pd.Series([parsed[c].when for c in dated], dtype="datetime64[ns]")
        ends[f] = f in freq.FREQUENCIES and bool(len(days)) and bool(freq.is_end(days, f).all())
    measure_codes, measure_uniques = pd.factorize(measures.astype(str))
    triple_codes, triples = _factorize_codes(codes, freq_codes, measure_codes)
    starts, reasons = [], []
    for t, f, m in triples:
        frequency = freq_uniques[f]
        start, reason = _as_period(
            uniques[t], parsed[t], frequency, measure_uniques[m], ends.get(frequency, False)
        )
        if start is not None and today is not None and start > freq.start(today, frequency):
            start, reason = None, f"'{uniques[t]}' lies in the future: check the year"
        starts.append(start)
        reasons.append(reason)
    start_u = pd.Series(pd.to_datetime(starts), dtype="datetime64[ns]").to_numpy()
    reason_u = np.asarray(reasons, dtype=object)
    return (
        pd.Series(start_u[triple_codes], index=values.index),
        pd.Series(reason_u[triple_codes], index=values.index, dtype=object),
    )


def _factorize_codes(*codes: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """Codes of the distinct combinations of several factorized columns (cheaper than a
    MultiIndex over a large file), and each combination's codes."""
    key = np.zeros(len(codes[0]), dtype="int64")
    for c in codes:
        c = np.asarray(c, dtype="int64")
        key = key * (int(c.max(initial=-1)) + 2) + (c + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return inverse.reshape(-1), [tuple(int(c[i]) for c in codes) for i in first]


@dataclass(frozen=True)
class _Read:
    """What a period text says, before its measure's frequency is known.

    ``kind``: ``month``, ``date``, ``quarter``, ``year`` (financial), ``month_or_year``
    (``2011-12``: December 2011 or 2011/12), ``calendar_quarter`` or ``calendar_year``
    (which could be read two ways), ``time`` (a date with a time of day), ``not_a_date``
    (a date that does not exist), ``unread`` or ``empty``."""

    kind: str
    when: pd.Timestamp | None = None
    other: pd.Timestamp | None = None  # the financial year of "month_or_year"


#: a time of day after a date (read only to check that it is midnight)
_TIME = (
    r"(?:[T ](?P<hh>\d{1,2}):(?P<mi>\d{2})(?::(?P<ss>\d{2})(?:\.(?P<frac>\d+))?)?"
    r"(?:Z|[+-]00:?00)?)?"
)
_P = {
    "iso_month": re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})$"),
    "compact_month": re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$"),
    "iso_date": re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _TIME + "$"),
    "compact_date": re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
    "uk_date": re.compile(r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})" + _TIME + "$"),
    "named_month": re.compile(r"^(?P<mon>[A-Za-z]+)\.?[-\s]+(?P<y>\d{2}|\d{4})$"),
    "fy_quarter": re.compile(
        r"^(?:FY\s*)?(?P<y>\d{4})\s*[/-]\s*(?P<y2>\d{2}|\d{4})\s*[-,:]?\s*Q(?P<q>[1-4])$", re.I
    ),
    "quarter_fy": re.compile(
        r"^Q(?P<q>[1-4])\s*[-,:]?\s*(?:FY\s*)?(?P<y>\d{4})\s*[/-]\s*(?P<y2>\d{2}|\d{4})$", re.I
    ),
    "fy": re.compile(r"^(?:FY\s*)?(?P<y>\d{4})\s*[/-]\s*(?P<y2>\d{2}|\d{4})$", re.I),
    "calendar_quarter": re.compile(r"^(?:\d{4}\s*-?\s*Q[1-4]|Q[1-4]\s*[-,:]?\s*\d{4})$", re.I),
    "calendar_year": re.compile(r"^(?:FY\s*)?\d{4}$", re.I),
}


def _next_year(y: int, y2: str) -> bool:
    """Whether ``y2`` (two or four digits) is the year after ``y``."""
    return int(y2) == (y + 1 if len(y2) == 4 else (y + 1) % 100)


def _read_period(text: str) -> _Read:
    """Read one period text (see :class:`_Read`)."""
    if text == "":
        return _Read("empty")
    for name in ("fy_quarter", "quarter_fy"):
        found = _P[name].match(text)
        if found and _next_year(int(found["y"]), found["y2"]):
            return _Read("quarter", freq.financial_year(int(found["y"]), int(found["q"])))
    found = _P["fy"].match(text)
    fy = None
    if found and _next_year(int(found["y"]), found["y2"]):
        fy = freq.financial_year(int(found["y"]))
        if "/" in text or text[:2].upper() == "FY" or len(found["y2"]) == 4:
            return _Read("year", fy)
    for name in ("iso_month", "compact_month"):
        found = _P[name].match(text)
        if found:
            month = int(found["m"])
            if not 1 <= month <= 12:
                return _Read("year", fy) if fy is not None else _Read("unread")
            when = pd.Timestamp(int(found["y"]), month, 1)
            return _Read("month_or_year", when, fy) if fy is not None else _Read("month", when)
    if fy is not None:
        return _Read("year", fy)
    for name in ("iso_date", "compact_date", "uk_date"):
        found = _P[name].match(text)
        if not found:
            continue
        try:
            when = pd.Timestamp(dt.date(int(found["y"]), int(found["m"]), int(found["d"])))
        except ValueError:
            return _Read("not_a_date")
        parts = found.groupdict()
        clock = [parts.get(k) for k in ("hh", "mi", "ss", "frac")]
        if any(c is not None and int(c) != 0 for c in clock):
            return _Read("time")
        return _Read("date", when)
    found = _P["named_month"].match(text)
    if found and found["mon"].lower() in _MONTHS:
        year = int(found["y"])
        year = 2000 + year if year < 100 else year
        return _Read("month", pd.Timestamp(year, _MONTHS[found["mon"].lower()], 1))
    if _P["calendar_quarter"].match(text):
        return _Read("calendar_quarter")
    if _P["calendar_year"].match(text):
        return _Read("calendar_year")
    return _Read("unread")


def _as_period(
    text: str, read: _Read, frequency: str, measure: str, ends: bool
) -> tuple[pd.Timestamp | None, str]:
    """One read text as a period of ``frequency``: (its first day, "") or (None, why not)."""
    if frequency not in freq.FREQUENCIES:  # pragma: no cover - the catalogue checks it
        frequency = "month"
    noun, formats = freq.NOUNS[frequency], FORMATS[frequency]
    give = f"give the {noun}, as {formats}"
    kind = read.kind
    if kind == "month_or_year":
        kind, read = ("year", _Read("year", read.other)) if frequency == "year" else ("month", read)
    if kind == "empty":
        return None, f"period is empty: {give}"
    if kind == "not_a_date":
        return None, f"'{text}' is not a date"
    if kind == "time":
        return None, f"'{text}' has a time of day: {give}"
    if kind == "calendar_quarter" and frequency == "quarter":
        return None, (
            f"'{text}' does not say whether it is a calendar or a financial quarter: write the "
            "financial quarter, as 2024/25 Q1 (April to June 2024)"
        )
    if kind == "calendar_year" and frequency == "year":
        return None, (
            f"'{text}' does not say whether it is a calendar or a financial year: write the "
            "financial year, as 2024/25 (April 2024 to March 2025)"
        )
    if kind in ("unread", "calendar_year"):
        return None, f"'{text}' is not a {noun}: write it as {formats}"
    if kind in ("quarter", "year", "calendar_quarter") and kind != frequency:
        what = freq.NOUNS["quarter" if kind == "calendar_quarter" else kind]
        return None, (
            f"'{text}' is a {what}, but measure '{measure}' is {freq.ADJECTIVES[frequency]}: {give}"
        )
    if kind == frequency:
        return read.when, ""
    when = read.when
    if kind == "date" and ends:
        return freq.start(when, frequency), ""
    if kind == "date" and when.day != 1:
        if freq.ends_period(when, "month"):
            return None, (
                f"'{text}' is the last day of a month, but other dates given in this file "
                f"are not: {give}"
            )
        return None, f"'{text}' is a day, not a {noun}: {give}"
    if freq.start(when, frequency) != when:  # a month (or its first day) inside the period
        return None, (
            f"'{text}' is not the start of a {noun} ({freq.NOUNS[frequency]}s start in "
            f"{_STARTS[frequency]}): {give}"
        )
    return when, ""


_STARTS = {"month": "any month", "quarter": "April, July, October and January", "year": "April"}


def _numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers, empty, not-a-number) for a column of cells."""
    text = values.astype(str).str.strip()
    empty = text.eq("") | values.isna()
    numbers = pd.to_numeric(text.where(~empty), errors="coerce")
    numbers = numbers.where(np.isfinite(numbers.to_numpy(dtype=float)))  # "inf", "1e400"
    return numbers, empty, numbers.isna() & ~empty


def validate_observations(table: Table, catalogue: Catalogue) -> tuple[pd.DataFrame, list[Problem]]:
    """Check every row of an upload; return the clean rows and every problem found.

    The clean rows (columns :data:`OBSERVATION_COLUMNS`) are meaningful only when
    the list of problems is empty: a file with any problem is stored not at all.
    """
    name = table.name
    problems: list[Problem] = []
    missing = [c for c in REQUIRED if c not in table.data.columns]
    if missing:
        problems.append(
            Problem(
                name,
                None,
                None,
                f"the file has no column {', '.join(repr(c) for c in missing)}: the header must "
                f"name the columns {', '.join(REQUIRED)} (in any order)",
            )
        )
        return pd.DataFrame(columns=OBSERVATION_COLUMNS), problems

    d = table.data
    rows = table.rows.to_numpy()

    unlisted = 0  # problems found past limits.MAX_PROBLEMS: counted, never built

    def report(mask, column: str, messages) -> None:
        """Add a problem for each row in ``mask`` (messages: text, a Series, or a callable)."""
        nonlocal unlisted
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        room, found = limits.MAX_PROBLEMS - len(problems), int(mask.sum())
        if found > room:  # a million bad rows: the first ones listed, the rest counted
            unlisted += found - max(room, 0)
            if room <= 0:
                return
            first = np.flatnonzero(mask)[:room]
            mask = np.zeros_like(mask)
            mask[first] = True
        if callable(messages):  # built only when some row needs it
            messages = messages()
        msgs = (
            [messages] * int(mask.sum())
            if isinstance(messages, str)
            else list(pd.Series(messages).to_numpy()[mask])
        )
        problems.extend(
            Problem(name, int(r), column, m) for r, m in zip(rows[mask], msgs, strict=True)
        )

    team = as_typed(d["team"].astype(str).str.strip())
    measure = d["measure"].astype(str).str.strip()
    report(team.eq(""), "team", "team is empty: give the team's name as registered")
    unknown_team = team.ne("") & ~team.isin(catalogue.teams)
    if unknown_team.any():  # did you mean; invisible characters shown (qi.store.columns)
        how = "register it first (qi teams)"
        report(
            unknown_team,
            "team",
            lambda: unknown_messages(team, unknown_team, catalogue.teams, "team", how),
        )
    report(measure.eq(""), "measure", "measure is empty: give the measure's id")
    measures = catalogue.measures
    unknown_measure = measure.ne("") & ~measure.isin(measures.index)
    if unknown_measure.any():
        how = "load it into the catalogue first (qi measures)"
        report(
            unknown_measure,
            "measure",
            lambda: unknown_messages(measure, unknown_measure, measures.index, "measure", how),
        )
    known_measure = measure.isin(measures.index)
    chart = measure.map(measures["chart"]).where(known_measure, "")

    frequency = (
        measure.map(measures["frequency"]).where(known_measure, "month").fillna("month")
        if "frequency" in measures.columns
        else pd.Series("month", index=measure.index, dtype=object)
    )
    periods, reasons = parse_periods(d["period"], frequency, measure, today=catalogue.today)
    report(reasons.ne(""), "period", reasons)

    group_map = catalogue.group_map
    group, broad = _groups(d["group"], measure, catalogue, group_map, report)

    numerator, num_empty, num_nan = _numbers(d["numerator"])
    report(num_empty, "numerator", "numerator is empty: enter 0 if there were none")
    report(
        num_nan,
        "numerator",
        lambda: "numerator '" + d["numerator"].astype(str).str.strip() + "' is not a number",
    )
    report(numerator < 0, "numerator", "numerator is negative: counts cannot be below 0")
    whole = numerator.notna() & (numerator >= 0) & (numerator % 1 != 0)
    report(
        whole & chart.isin(COUNT_CHARTS),
        "numerator",
        lambda: (
            "numerator " + _fmt(numerator) + " is not a whole number: this measure "
            "counts events or people"
        ),
    )

    denominator, den_empty, den_nan = _numbers(d["denominator"])
    report(
        den_empty & chart.isin(NEEDS_DENOMINATOR),
        "denominator",
        "denominator is empty: this measure is a rate or proportion and needs one "
        "(0 if, say, the ward was closed)",
    )
    report(
        den_nan,
        "denominator",
        lambda: "denominator '" + d["denominator"].astype(str).str.strip() + "' is not a number",
    )
    report(denominator < 0, "denominator", "denominator is negative: it cannot be below 0")
    proportion = chart.isin(PROPORTION_CHARTS)
    report(
        proportion & denominator.notna() & (denominator % 1 != 0) & (denominator >= 0),
        "denominator",
        lambda: (
            "denominator " + _fmt(denominator) + " is not a whole number: a "
            "proportion's denominator counts people or records"
        ),
    )
    report(
        proportion & (numerator > denominator),
        "numerator",
        lambda: (
            "numerator "
            + _fmt(numerator)
            + " is above the denominator "
            + _fmt(denominator)
            + ": a proportion cannot exceed its denominator"
        ),
    )
    report(
        chart.isin(NEEDS_DENOMINATOR) & ~proportion & (denominator == 0) & (numerator > 0),
        "denominator",
        lambda: (
            "denominator is 0 but the numerator is "
            + _fmt(numerator)
            + ": events need exposure (bed days, people) above 0"
        ),
    )

    clean = pd.DataFrame(
        {
            "row": rows,
            "team": team.to_numpy(),
            "measure": measure.to_numpy(),
            "period": periods.to_numpy(),
            "group": group.to_numpy(),
            "broad_group": broad.to_numpy(),
            "numerator": numerator.to_numpy(dtype=float),
            "denominator": denominator.to_numpy(dtype=float),
        }
    )
    _overlapping_groups(clean, group_map, name, problems)
    key = ["team", "measure", "period", "group"]
    checkable = clean["period"].notna() & clean["group"].notna()
    dup = clean[checkable].duplicated(key, keep=False)
    if dup.any():
        dups = clean[checkable][dup]
        first_row = dups.groupby(key, dropna=False)["row"].transform("min")
        later = dups["row"] != first_row
        problems.extend(
            Problem(
                name,
                int(r),
                "period",
                f"duplicate row: row {int(f)} has the same team, measure, period and group",
            )
            for r, f in zip(dups.loc[later, "row"], first_row[later], strict=True)
        )
    return clean, limits.listed(problems, name, unlisted)


def _overlapping_groups(
    clean: pd.DataFrame, group_map: GroupMap, name: str, problems: list[Problem]
) -> None:
    """A group and its own parts (a broad group and its categories; WRES's BME and Black)
    in one team × measure × period would be counted twice when summed: report the parts.

    Worked out on each row's path in its grouping (:meth:`GroupMap.path`): a row whose
    path extends another row's, in the same team × measure × period, is a part of it."""
    ok = clean["period"].notna() & clean["group"].notna() & clean["broad_group"].notna()
    rows = clean[ok]
    if rows.empty:
        return
    group_codes, groups = pd.factorize(rows["group"])
    broad_codes, broads = pd.factorize(rows["broad_group"])
    codes, pairs = _factorize_codes(group_codes, broad_codes)
    paths = [group_map.path(groups[g], broads[b]) for g, b in pairs]
    depth_u = np.array([len(p) for p in paths])
    depth = depth_u[codes]
    if (depth == 1).all():
        return
    slice_keys = [rows[k].to_numpy() for k in ("team", "measure", "period")]
    for level in (1, 2):
        head_u = np.array(["\x1f".join(p[:level]) for p in paths], dtype=object)
        # a clash needs a whole group (of this depth) and a part of it somewhere in the file
        if not set(head_u[depth_u == level]) & set(head_u[depth_u > level]):
            continue
        head = head_u[codes]
        whole = pd.Series(depth == level, index=rows.index)
        has_whole = whole.groupby([*slice_keys, head]).transform("any").to_numpy()
        clash = has_whole & (depth > level)
        if not clash.any():
            continue
        named = np.array([p[level - 1] for p in paths], dtype=object)[codes]
        problems.extend(
            Problem(
                name,
                int(r),
                "group",
                f"'{g}' is part of '{w}', which this file also gives for the same team, "
                "measure and period: give either the group or its parts, not both",
            )
            for r, g, w in zip(
                rows["row"].to_numpy()[clash],
                rows["group"].to_numpy()[clash],
                named[clash],
                strict=True,
            )
        )


def _fmt(numbers: pd.Series) -> pd.Series:
    """Numbers as a person would write them (12, not 12.0)."""
    return numbers.map(lambda v: f"{v:g}")


def _some(values: list[str], k: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:k])
    return shown + (f" and {len(values) - k} more" if len(values) > k else "") if values else "none"


def _groups(values, measure, catalogue, group_map: GroupMap, report):
    """Stored group and broad group of each row; reports the values that map to nothing.

    Worked out once per distinct (measure, group value) pair by
    :meth:`GroupMap.resolve`, then spread to the rows.
    """
    text = values.where(values.notna(), "").astype(str).str.strip()
    report(text.eq(""), "group", f"group is empty: give the group, or '{ALL}' for everyone")
    # the distinct pairs from each column's codes (no tuple per row)
    m_codes, m_values = pd.factorize(measure.to_numpy(dtype=object), use_na_sentinel=False)
    g_codes, g_values = pd.factorize(text.to_numpy(dtype=object), use_na_sentinel=False)
    width = max(len(g_values), 1)
    codes, pair = pd.factorize(m_codes.astype(np.int64) * width + g_codes)
    uniques = zip(m_values[pair // width], g_values[pair % width], strict=True)
    table = catalogue.measures
    groups_of = table["groups"].to_dict()
    grouping_of = table["grouping"].to_dict() if "grouping" in table.columns else {}

    group_u, broad_u, message_u = [], [], []
    for m, value in uniques:
        group = broad = message = None
        if value and m in groups_of:
            group, broad, message = group_map.resolve(
                value, tuple(groups_of[m]), grouping_of.get(m) or DEFAULT_GROUPING
            )
        group_u.append(group)
        broad_u.append(broad)
        message_u.append(message)

    group = pd.Series(np.asarray(group_u, dtype=object)[codes], index=text.index, dtype=object)
    broad = pd.Series(np.asarray(broad_u, dtype=object)[codes], index=text.index, dtype=object)
    messages = pd.Series(np.asarray(message_u, dtype=object)[codes], index=text.index)
    report(messages.notna(), "group", messages)
    return group, broad
