"""A small reader of the sample collaborative's files, as the importer reads them.

The uploads are read in ``uploads.csv`` order of ``uploaded_at``; a later upload of the
same team × measure × period × group replaces the earlier one (a correction), and the
superseded rows are dropped. Periods come in four spellings (``2024-03``,
``2024-03-01``, ``01/03/2024`` with the day first, ``Mar-24``) and are parsed to the
first day of the month.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
KEY = ["team", "measure", "period", "group"]
UPLOAD_COLUMNS = ["team", "measure", "period", "group", "numerator", "denominator"]
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
)}  # fmt: skip


def load_generator() -> ModuleType:
    """``sample_data/make_sample.py`` as a module (``sample_data`` is not a package)."""
    name = "qi_sample_make_sample"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SAMPLE_DIR / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def parse_period(text: object) -> pd.Timestamp:
    """The month start of a period written ``2024-03``, ``2024-03-01``, ``01/03/2024``
    or ``Mar-24``."""
    s = str(text).strip()
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", s):
        year, month = int(m[1]), int(m[2])
    elif m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", s):
        year, month = int(m[3]), int(m[2])
    elif (m := re.fullmatch(r"([A-Za-z]{3})-(\d{2})", s)) and m[1].lower() in _MONTHS:
        year, month = 2000 + int(m[2]), _MONTHS[m[1].lower()]
    else:
        raise ValueError(f"Unrecognised period {s!r}.")
    return pd.Timestamp(year=year, month=month, day=1)


def read_upload(path: Path) -> pd.DataFrame:
    """One upload file (CSV or Excel), with its columns as written."""
    if path.suffix == ".xlsx":
        df = pd.read_excel(path, dtype={"period": str}, engine="calamine")
    else:
        df = pd.read_csv(path, dtype={"period": str}, keep_default_na=False)
    return df


def read_manifest(folder: Path = SAMPLE_DIR) -> pd.DataFrame:
    """``uploads.csv`` in load order, ``uploaded_at`` as UTC timestamps."""
    m = pd.read_csv(folder / "uploads.csv", keep_default_na=False)
    m["uploaded_at"] = pd.to_datetime(m["uploaded_at"], utc=True, format="%Y-%m-%dT%H:%M:%SZ")
    return m.sort_values("uploaded_at", kind="stable").reset_index(drop=True)


def read_all_versions(folder: Path = SAMPLE_DIR) -> pd.DataFrame:
    """Every row of every upload, with ``file``, ``uploaded_at`` and the load ``order``."""
    frames = []
    for order, row in enumerate(read_manifest(folder).itertuples(index=False)):
        df = read_upload(folder / row.file)
        if list(df.columns) != UPLOAD_COLUMNS:
            raise ValueError(f"{row.file}: columns {list(df.columns)}, not {UPLOAD_COLUMNS}.")
        df["period"] = df["period"].map(parse_period)
        df["file"], df["uploaded_at"], df["order"] = row.file, row.uploaded_at, order
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["numerator"] = out["numerator"].astype("int64")
    out["denominator"] = out["denominator"].astype("int64")
    return out


def read_uploads(folder: Path = SAMPLE_DIR) -> pd.DataFrame:
    """The current data: the latest version of each team × measure × period × group.

    Columns ``team, measure, period (Timestamp month start), group, numerator,
    denominator``, sorted by team, measure, period and group.
    """
    every = read_all_versions(folder)
    latest = every.sort_values("order", kind="stable").drop_duplicates(KEY, keep="last")
    return latest[UPLOAD_COLUMNS].sort_values(KEY).reset_index(drop=True)


def read_table(name: str, folder: Path = SAMPLE_DIR) -> pd.DataFrame:
    """One of the other CSV tables (``teams``, ``measures``, ``pdsa``, …); empty cells as ''."""
    return pd.read_csv(folder / f"{name}.csv", keep_default_na=False, dtype=str)
