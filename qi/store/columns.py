"""What a file's columns and names mean: header synonyms, names matched as registered,
"did you mean", and text shown so that an invisible character can be seen.

* :data:`SYNONYMS` — the header spellings read as each upload column, in tiers: a
  column named exactly (``team``) beats a usual synonym (``Ward``), which beats a
  broad one (``Provider``). Headers are compared after :func:`header_key` (case,
  spaces, ``_`` and ``-`` ignored, a bracketed note such as ``(OBD)`` dropped).
* :func:`map_headers` — which header is which column, or why it cannot be told.
* :func:`nearest` — the closest spelling, for "did you mean" (RapidFuzz).
* :func:`name_key`, :func:`match_names` — team and measure names matched to the
  registered ones whatever their letter case or spacing, when exactly one matches.
* :func:`visible` — text with non-breaking and other invisible spaces written out
  (``Larch<U+00A0>PICU``), so a message never shows two names that look the same.

RapidFuzz is used for the nearest spelling: difflib's ratio is built for sequences of
lines and is slow on many short names; RapidFuzz's ``WRatio`` copes with a word added
or dropped ("Willow" for "Willow Ward") as well as with a typo, and is a small,
well-kept wheel with no dependencies.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from rapidfuzz import fuzz, process

REQUIRED = ("team", "measure", "period", "group", "numerator", "denominator")

#: Header spellings (after :func:`header_key`) of each column, strongest tier first.
SYNONYMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "team": (
        ("team",),
        ("team name", "ward", "ward name", "team ward", "ward team", "team or ward"),
        ("service", "service name", "unit", "unit name", "primary level description"),
        ("organisation", "organisation name", "organization", "organization name", "provider",
         "provider name", "org name"),
    ),
    "measure": (
        ("measure",),
        ("metric", "indicator", "measure id", "metric id", "indicator id", "kpi", "measure code"),
        ("measure name", "metric name", "indicator name", "measure description"),
    ),
    "period": (
        ("period",),
        ("month", "date", "reporting period start", "reporting period", "reporting month",
         "month start", "period start", "month year", "reporting date"),
        ("quarter",),
        ("financial year", "year"),
    ),
    "group": (
        ("group",),
        ("ethnicity", "ethnic group", "ethnic category", "ethnic origin", "ethnicity group",
         "ethnic category code", "ethnicity code", "secondary level description"),
    ),
    "numerator": (
        ("numerator",),
        ("count", "events", "incidents", "number", "number of incidents", "number of events",
         "cases", "n"),
    ),
    "denominator": (
        ("denominator",),
        ("population", "bed days", "occupied bed days", "obd", "headcount", "caseload",
         "exposure", "denominator value"),
    ),
}  # fmt: skip

_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SEPARATORS = re.compile(r"[\s_\-./:]+")
#: Characters that look like a space, or like nothing, in a spreadsheet cell.
INVISIBLE = re.compile(r"[\u00a0\u2000-\u200f\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]")


def header_key(header: object) -> str:
    """A header compared: lower case, bracketed notes dropped, ``_ - . /`` as spaces."""
    text = INVISIBLE.sub(" ", str(header)).strip().lower().replace("&", " and ")
    bare = _BRACKETS.sub(" ", text)
    text = bare if bare.strip() else text
    return _SEPARATORS.sub(" ", text).strip()


_KEY_TIER = {
    key: (column, tier)
    for column, tiers in SYNONYMS.items()
    for tier, keys in enumerate(tiers)
    for key in keys
}


def column_of(header: object) -> tuple[str, int] | None:
    """(upload column, tier) that ``header`` names, or None."""
    return _KEY_TIER.get(header_key(header))


def map_headers(headers: Iterable[str], skip: Iterable[str] = ()) -> tuple[dict[str, str], dict]:
    """Which header is each upload column, by :data:`SYNONYMS`.

    Returns ``(found, clashes)``: ``found`` maps column → header; ``clashes`` maps a
    column to the headers that name it equally well (the file is then ambiguous and
    the column is left out of ``found``). Headers in ``skip`` are not considered."""
    skip = set(skip)
    best: dict[str, tuple[int, list[str]]] = {}
    for header in headers:
        if header in skip:
            continue
        hit = column_of(header)
        if hit is None:
            continue
        column, tier = hit
        have = best.get(column)
        if have is None or tier < have[0]:
            best[column] = (tier, [header])
        elif tier == have[0]:
            have[1].append(header)
    found = {c: hs[0] for c, (_, hs) in best.items() if len(hs) == 1}
    clashes = {c: hs for c, (_, hs) in best.items() if len(hs) > 1}
    return found, clashes


def nearest(value: str, choices: Iterable[str], *, cutoff: float = 75.0) -> str | None:
    """The choice closest to ``value`` (RapidFuzz WRatio, case ignored), or None."""
    choices = list(dict.fromkeys(c for c in choices if c))
    if not value or not choices:
        return None
    found = process.extractOne(
        str(value), choices, scorer=fuzz.WRatio, processor=_fold, score_cutoff=cutoff
    )
    return None if found is None else found[0]


def nearest_header(column: str, headers: Iterable[str]) -> str | None:
    """The header most like any spelling of ``column`` (for a missing column)."""
    headers = [h for h in headers if str(h).strip()]
    best, best_score = None, 0.0
    for spelling in (k for tier in SYNONYMS[column] for k in tier):
        found = process.extractOne(
            spelling, headers, scorer=fuzz.WRatio, processor=header_key, score_cutoff=70
        )
        if found is not None and found[1] > best_score:
            best, best_score = found[0], found[1]
    return best


def _fold(text: object) -> str:
    return name_key(text)


def name_key(value: object) -> str:
    """A name compared: letter case, invisible spaces and repeated spaces ignored."""
    text = INVISIBLE.sub(" ", unicodedata.normalize("NFKC", str(value)))
    return " ".join(text.split()).casefold()


def match_names(values: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """For each distinct value not registered as written, the registered name it means
    when exactly one registered name has the same :func:`name_key`."""
    known = list(known)
    exact = set(known)
    by_key: dict[str, list[str]] = {}
    for name in known:
        by_key.setdefault(name_key(name), []).append(name)
    out = {}
    for value in set(values):
        if value in exact or not value:
            continue
        hits = by_key.get(name_key(value), [])
        if len(hits) == 1:
            out[value] = hits[0]
    return out


def visible(text: object) -> str:
    """``text`` with invisible or look-alike space characters written as ``<U+00A0>``."""
    return INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", str(text))


_CHAR_NAMES = {
    "\u00a0": "non-breaking space",
    "\u202f": "narrow non-breaking space",
    "\u2007": "figure space",
    "\u200b": "zero-width space",
    "\u2060": "word joiner",
    "\ufeff": "byte-order mark",
}


def describe_invisible(text: str) -> str:
    """ " (it contains a non-breaking space)" and the like, or ""."""
    found = sorted(
        {_CHAR_NAMES.get(c) or unicodedata.name(c, f"U+{ord(c):04X}").lower()
         for c in INVISIBLE.findall(text)}
    )  # fmt: skip
    if not found:
        if text != text.strip():
            return " (it starts or ends with a space)"
        return ""
    return " (it contains a " + " and a ".join(found) + ")"


TOTAL_NAMES = frozenset({"total", "grand total", "totals", "all teams", "overall", "sum"})


def unknown_name_message(value: str, known: Iterable[str], what: str, how: str) -> str:
    """The message for a team or measure name that is not registered: the name as it
    is (invisible characters shown), the nearest registered name, and what to do."""
    known = sorted(known)
    shown = visible(value)
    extra = describe_invisible(value)
    if name_key(value) in TOTAL_NAMES:
        return (
            f"unknown {what} '{shown}': this looks like a total row; remove it (the "
            "dashboard adds teams and groups up itself)"
        )
    some = ", ".join(repr(k) for k in known[:8]) + (
        f" and {len(known) - 8} more" if len(known) > 8 else ""
    )
    guess = nearest(value, known)
    if guess:
        return (
            f"unknown {what} '{shown}'{extra}: did you mean '{guess}'? If not, {how} or use "
            f"one of {some}"
        )
    return f"unknown {what} '{shown}'{extra}: {how} or use one of {some or 'none'}"


def unknown_messages(values, mask, known: Iterable[str], what: str, how: str):
    """:func:`unknown_name_message` for each row of ``values`` (a Series) in ``mask``,
    worked out once per distinct value."""
    import numpy as np
    import pandas as pd

    known = list(known)
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=False)
    wanted = np.zeros(len(uniques), dtype=bool)
    wanted[np.unique(codes[np.asarray(mask, dtype=bool)])] = True
    messages = np.empty(len(uniques), dtype=object)
    for j in np.flatnonzero(wanted):
        messages[j] = unknown_name_message(uniques[j], known, what, how)
    return pd.Series(messages[codes], index=values.index, dtype=object)
