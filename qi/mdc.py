"""Making Data Count summaries and icons for a board's summary matrix.

NHS England's Making Data Count (MDC) puts two icons beside every measure:

- a **variation** icon, read from the last point of the chart: common cause
  (grey), special cause of improvement (blue) or concern (orange), high or low
  (purple where no direction is better);
- an **assurance** icon, where the measure has a target: the process will
  consistently pass the target (blue), consistently fail it (orange), or hit and
  miss it (grey).

:func:`summary` reduces a ``qi.spc(..., rules="mdc")`` result to one row per
series with both icons; :func:`icon_svg` draws an icon as an SVG string (drawn
here, not copied), with a text alternative for screen readers in its ``<title>``
and ``aria-label``. The icon vocabulary is :data:`ICON_TEXT`.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from qi.spc import SPCResult

#: NHS identity colours used by the icons.
COLOURS = {
    "improvement": "#005EB8",  # NHS Blue
    "concern": "#ED8B00",  # NHS Warm Yellow / orange
    "common": "#768692",  # NHS Mid Grey
    "neutral": "#330072",  # NHS Purple
}

#: Every icon name, with its text alternative.
ICON_TEXT = {
    "common_cause": "Common cause variation: no significant change",
    "improvement_high": "Special cause variation: improvement, higher values",
    "improvement_low": "Special cause variation: improvement, lower values",
    "concern_high": "Special cause variation: concern, higher values",
    "concern_low": "Special cause variation: concern, lower values",
    "neutral_high": "Special cause variation: higher values, neither improvement nor concern",
    "neutral_low": "Special cause variation: lower values, neither improvement nor concern",
    "assurance_pass": "Assurance: the process will consistently pass the target",
    "assurance_fail": "Assurance: the process will consistently fail the target",
    "assurance_hit_and_miss": "Assurance: the process will hit and miss the target",
}

_ASSURANCE_ICON = {
    "consistent_pass": "assurance_pass",
    "consistent_fail": "assurance_fail",
    "inconsistent": "assurance_hit_and_miss",
}


def variation_icon(point_type: str, improvement: str | None) -> str:
    """The variation icon name of a ptd ``point_type`` under an improvement direction."""
    if point_type == "common_cause":
        return "common_cause"
    if point_type.startswith("special_cause_neutral_"):
        return "neutral_" + point_type.rsplit("_", 1)[1]
    higher_is_better = (improvement or "increase") == "increase"
    if point_type == "special_cause_improvement":
        return "improvement_high" if higher_is_better else "improvement_low"
    if point_type == "special_cause_concern":
        return "concern_low" if higher_is_better else "concern_high"
    raise ValueError(f"Unknown point type {point_type!r}.")


def summary(result: SPCResult) -> pd.DataFrame:
    """One row per series: its last point, variation, assurance and their icons.

    Parameters
    ----------
    result : SPCResult
        A result of :func:`qi.spc` with any rule set: the icons are read from the same
        series with the Making Data Count rules (:meth:`qi.SPCResult.mdc`).

    Returns
    -------
    pandas.DataFrame
        One row per series, in the order of ``result.summary``: the ``by``
        columns; ``x``, ``y`` (the last point and its value), ``target``, ``cl``,
        ``lcl``, ``ucl`` (the lines at the last point), ``special_cause`` and
        ``variation`` (the last point's special-cause label and point type),
        ``assurance`` (``consistent_pass``, ``consistent_fail``, ``inconsistent``,
        or None without a target or with a neutral direction), ``variation_icon``
        and ``assurance_icon`` (names in :data:`ICON_TEXT`; None without an
        assurance), and ``variation_text`` and ``assurance_text`` (their text
        alternatives).
    """
    if not isinstance(result, SPCResult):
        raise ValueError(
            f"qi.mdc.summary needs the result of qi.spc(...); got {type(result).__name__!r}."
        )
    result = result.mdc()  # the icons are always read with the Making Data Count rules
    by = list(result.by)
    pts = result.points
    if by:
        last = pts.groupby(by, sort=False, dropna=False, observed=True).tail(1)
        final_phase = result.summary.groupby(by, sort=False, dropna=False, observed=True).tail(1)
    else:
        last, final_phase = pts.tail(1), result.summary.tail(1)
    cols = [*by, "x", "y", "target", "cl", "lcl", "ucl", "special_cause"]
    out = last[cols].reset_index(drop=True)
    out["special_cause"] = out["special_cause"].astype(str)
    out["variation"] = last["point_type"].astype(str).to_numpy()
    assurance = final_phase["assurance"].to_numpy(dtype=object)
    out["assurance"] = [a if isinstance(a, str) else None for a in assurance]
    icons = {t: variation_icon(t, result.improvement) for t in out["variation"].unique()}
    out["variation_icon"] = out["variation"].map(icons)
    out["assurance_icon"] = [_ASSURANCE_ICON.get(a) if a else None for a in out["assurance"]]
    out["variation_text"] = out["variation_icon"].map(ICON_TEXT)
    out["assurance_text"] = [ICON_TEXT[a] if a else None for a in out["assurance_icon"]]
    return out


def _dots(shape: str, colour: str) -> str:
    """Seven dots of a little chart: flat, or the last three raised or lowered."""
    ys = [50, 46, 54, 49, 52, 47, 51]
    if shape == "high":
        ys[4:] = [34, 30, 28]
    elif shape == "low":
        ys[4:] = [66, 70, 72]
    xs = np.linspace(24, 76, 7)
    grey = COLOURS["common"]
    line = " ".join(f"{x:.0f},{y}" for x, y in zip(xs, ys, strict=True))
    dots = "".join(
        f'<circle cx="{x:.0f}" cy="{y}" r="4.5" fill="{colour if i >= 4 else grey}"/>'
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    )
    return f'<polyline points="{line}" fill="none" stroke="{grey}" stroke-width="2"/>{dots}'


def icon_svg(name: str, size: int = 48) -> str:
    """An MDC icon as a standalone SVG string, with its text alternative.

    Parameters
    ----------
    name : str
        An icon name of :data:`ICON_TEXT`.
    size : int
        Width and height in pixels.
    """
    if name not in ICON_TEXT:
        raise ValueError(f"Unknown MDC icon {name!r}; the icons are {sorted(ICON_TEXT)}.")
    text = escape(ICON_TEXT[name])
    kind, _, side = name.partition("_")
    if name == "common_cause":
        colour, body, letter = COLOURS["common"], _dots("flat", COLOURS["common"]), ""
    elif kind in ("improvement", "concern", "neutral"):
        colour = COLOURS[kind]
        body = _dots(side, colour)
        letter = "H" if side == "high" else "L"
    else:  # assurance
        colour = {
            "pass": COLOURS["improvement"],
            "fail": COLOURS["concern"],
            "hit_and_miss": COLOURS["common"],
        }[side]
        letter = {"pass": "P", "fail": "F", "hit_and_miss": "?"}[side]
        body = (
            f'<line x1="18" y1="66" x2="82" y2="66" stroke="{colour}" stroke-width="3" '
            f'stroke-dasharray="6 4"/>'
        )
    mark = (
        f'<text x="50" y="{58 if kind == "assurance" else 26}" text-anchor="middle" '
        f'font-family="Arial, Helvetica, sans-serif" font-weight="bold" '
        f'font-size="{34 if kind == "assurance" else 20}" fill="{colour}">{letter}</text>'
        if letter
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="{size}" '
        f'height="{size}" role="img" aria-label="{text}"><title>{text}</title>'
        f'<circle cx="50" cy="50" r="45" fill="white" stroke="{colour}" stroke-width="7"/>'
        f"{body}{mark}</svg>"
    )
