"""Saved upload layouts: how to read a file that trusts export in their own shape.

A layout says once, for a file that arrives every month in the same shape, what
automatic detection (:mod:`qi.store.intake`) cannot know: which column is which,
what is the same for every row (the file is all one measure, or one team), which rows
to keep (an extract with many breakdowns), whether months or groups are columns, and
which sheet and header row hold the table. It is written as TOML or JSON (the README
documents the format) and kept in the store by name (:class:`LayoutsMixin`), each
change in the audit log::

    description = "MHSDS monthly extract: restraint by ethnicity"
    sheet = "Data"          # a sheet's name, or its number (1 = first); default: detected
    header_row = 1          # the header's row as the spreadsheet numbers it; default: detected

    [columns]               # upload column = the file's header
    team = "PRIMARY_LEVEL_DESCRIPTION"
    period = "REPORTING_PERIOD_START"
    group = "SECONDARY_LEVEL_DESCRIPTION"

    [constants]             # the same for every row
    measure = "restraint"

    [filters]               # keep only the rows whose column holds one of these values
    BREAKDOWN = ["Provider; Ethnicity"]

    [values]                # numerator and denominator are rows, told apart by a column
    column = "MEASURE_VALUE"
    by = "MEASURE_ID"
    numerator = "MHS76"
    denominator = "MHS01"

    [wide]                  # months (or groups) are columns
    to = "period"           # or "group"
    columns = ["Apr-24", "May-24"]   # default: every column whose header is a month (group)

    [recode.team]           # a file's spelling = the registered name
    "RXT01" = "Willow Ward"

Who may save one: anyone who may upload (a facilitator or a team member: the people
who know their files); a saved layout may be replaced only by whoever saved it or by a
facilitator of the whole collaborative, so a team's layout is not changed under it by
another team. Reading layouts needs the right to upload.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, insert, select

from qi import access
from qi.store.columns import REQUIRED
from qi.store.core import StoreError, utcnow
from qi.store.models import UploadLayout
from qi.store.people import PeopleMixin

_TOP = {"description", "sheet", "header_row", "columns", "constants", "filters", "values",
        "wide", "recode", "name"}  # fmt: skip
NAME_MAX = 100


class LayoutError(StoreError):
    """A layout that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Layout:
    """How to read one shape of file (see the module's documentation)."""

    description: str = ""
    sheet: str | int | None = None
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, object] | None = None
    wide: dict[str, object] | None = None
    recode: dict[str, dict[str, str]] = field(default_factory=dict)

    # ------------------------------------------------------------------ reading one
    @classmethod
    def from_dict(cls, spec: dict) -> Layout:
        """A layout from its parsed TOML or JSON; a :class:`LayoutError` says what is wrong."""
        if not isinstance(spec, dict):
            raise LayoutError("a layout is a table of settings (TOML or a JSON object)")
        unknown = sorted(set(spec) - _TOP)
        if unknown:
            raise LayoutError(
                f"unknown layout setting {', '.join(map(repr, unknown))}: use "
                f"{', '.join(sorted(_TOP - {'name'}))}"
            )
        columns = _text_table(spec.get("columns", {}), "columns", keys=REQUIRED)
        constants = _text_table(spec.get("constants", {}), "constants", keys=REQUIRED)
        both = sorted(set(columns) & set(constants))
        if both:
            raise LayoutError(
                f"{', '.join(both)}: a column cannot be both read from the file and a constant"
            )
        filters = {}
        for header, kept in _table(spec.get("filters", {}), "filters").items():
            kept = [kept] if isinstance(kept, str | int | float) else kept
            if not isinstance(kept, list | tuple) or not kept:
                raise LayoutError(f"filters.{header}: give the values to keep, as a list")
            filters[str(header)] = tuple(str(v) for v in kept)
        values = spec.get("values")
        if values is not None:
            values = _table(values, "values")
            missing = [k for k in ("column", "by", "numerator") if not values.get(k)]
            if missing:
                raise LayoutError(f"values: give {', '.join(missing)} (and denominator if any)")
            extra = sorted(set(values) - {"column", "by", "numerator", "denominator"})
            if extra:
                raise LayoutError(f"values: unknown setting {', '.join(extra)}")
            values = {
                "column": str(values["column"]),
                "by": str(values["by"]),
                "numerator": _strings(values["numerator"]),
                "denominator": _strings(values.get("denominator", [])),
            }
            for k in ("numerator", "denominator"):
                if k in columns or k in constants:
                    raise LayoutError(f"{k} comes from [values]: leave it out of columns/constants")
        wide = spec.get("wide")
        if wide is not None:
            wide = _table(wide, "wide")
            to = wide.get("to", "period")
            if to not in ("period", "group"):
                raise LayoutError("wide.to: 'period' (months are columns) or 'group'")
            extra = sorted(set(wide) - {"to", "columns"})
            if extra:
                raise LayoutError(f"wide: unknown setting {', '.join(extra)}")
            if to in columns or to in constants:
                raise LayoutError(f"{to} comes from the column headers ([wide]): leave it out")
            wide = {"to": to, "columns": _strings(wide.get("columns", []))}
        recode = {}
        for column, table in _table(spec.get("recode", {}), "recode").items():
            if column not in REQUIRED:
                raise LayoutError(f"recode.{column}: recode one of {', '.join(REQUIRED)}")
            recode[column] = {str(k): str(v) for k, v in _table(table, f"recode.{column}").items()}
        sheet = spec.get("sheet")
        if (sheet is not None and not isinstance(sheet, str | int)) or isinstance(sheet, bool):
            raise LayoutError("sheet: a sheet's name, or its number (1 = the first)")
        if isinstance(sheet, int) and sheet < 1:
            raise LayoutError("sheet: numbers start at 1 (the first sheet)")
        header_row = spec.get("header_row")
        if header_row is not None and (
            not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1
        ):
            raise LayoutError("header_row: the header's row number, 1 or more")
        description = str(spec.get("description", ""))
        if len(description) > 500:
            raise LayoutError("description: at most 500 characters")
        return cls(
            description=description, sheet=sheet, header_row=header_row, columns=columns,
            constants=constants, filters=filters, values=values, wide=wide, recode=recode,
        )  # fmt: skip

    @classmethod
    def parse(cls, text: str, fmt: str = "toml") -> Layout:
        """A layout from TOML (``fmt="toml"``) or JSON text."""
        try:
            spec = json.loads(text) if fmt == "json" else tomllib.loads(text)
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise LayoutError(f"the layout is not valid {fmt.upper()}: {exc}") from exc
        return cls.from_dict(spec)

    @classmethod
    def read(cls, path: str | Path) -> Layout:
        """A layout from a ``.toml`` or ``.json`` file."""
        path = Path(path)
        fmt = "json" if path.suffix.lower() == ".json" else "toml"
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise LayoutError(f"{path}: cannot read the layout ({exc})") from exc
        try:
            return cls.parse(text, fmt)
        except LayoutError as exc:
            raise LayoutError(f"{path}: {exc}") from exc

    def to_dict(self) -> dict:
        """The layout as plain data (what is stored, as JSON), empty settings left out."""
        out = {k: v for k, v in asdict(self).items() if v not in (None, "", {}, ())}
        if "filters" in out:
            out["filters"] = {k: list(v) for k, v in out["filters"].items()}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)


def _table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise LayoutError(f"{where}: a table of settings (name = value)")
    return value


def _text_table(value, where: str, *, keys) -> dict[str, str]:
    table = _table(value, where)
    bad = sorted(set(table) - set(keys))
    if bad:
        raise LayoutError(
            f"{where}: unknown column {', '.join(map(repr, bad))}; use {', '.join(keys)}"
        )
    out = {}
    for k, v in table.items():
        if not isinstance(v, str | int | float) or isinstance(v, bool) or str(v).strip() == "":
            raise LayoutError(f"{where}.{k}: give a text value")
        out[k] = str(v).strip()
    return out


def _strings(value) -> tuple[str, ...]:
    if isinstance(value, str | int | float):
        return (str(value),)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise LayoutError("give a value or a list of values")


class LayoutsMixin(PeopleMixin):
    """Saved upload layouts (a part of :class:`qi.store.Store`)."""

    def save_layout(self, name: str, layout: Layout, *, user: str = "system") -> None:
        """Save ``layout`` as ``name`` (replacing the layout of that name, if the signed-in
        person saved it or is a facilitator of the collaborative)."""
        name = _layout_name(name)
        if not isinstance(layout, Layout):
            layout = Layout.from_dict(layout)
        with self._write() as conn:
            who = self._require(conn, "save_layouts", user)
            old = conn.execute(
                select(UploadLayout.created_by).where(UploadLayout.name == name)
            ).first()
            if old is not None and not (
                old.created_by == who.username or self._collaborative_grant(who, "manage_catalogue")
            ):
                raise access.refuse(
                    who, "save_layouts", f"named {name!r}: {old.created_by} saved it, so only "
                    "they or a facilitator of the collaborative may replace it"
                )  # fmt: skip
            now = utcnow()
            created_by = who.username if old is None else old.created_by
            conn.execute(delete(UploadLayout).where(UploadLayout.name == name))
            conn.execute(
                insert(UploadLayout).values(
                    name=name, spec=layout.to_json(), description=layout.description,
                    created_by=created_by, updated_by=who.username, updated_at=now,
                )
            )  # fmt: skip
            action = "add_layout" if old is None else "replace_layout"
            self._audit(conn, who.username, action, "upload_layout", name, layout.to_json())

    def layouts(self) -> pd.DataFrame:
        """The saved layouts: name, description, who saved and last changed them, when."""
        with self.engine.connect() as conn:
            self._require(conn, "upload")
            rows = conn.execute(
                select(UploadLayout.name, UploadLayout.description, UploadLayout.created_by,
                       UploadLayout.updated_by, UploadLayout.updated_at)
                .order_by(UploadLayout.name)
            ).all()  # fmt: skip
        return pd.DataFrame(
            rows, columns=["name", "description", "created_by", "updated_by", "updated_at"]
        )

    def layout(self, name: str) -> Layout:
        """The saved layout ``name``; a :class:`LayoutError` names the saved ones if none is."""
        with self.engine.connect() as conn:
            self._require(conn, "upload")
            spec = conn.scalar(select(UploadLayout.spec).where(UploadLayout.name == name.strip()))
            if spec is None:
                names = conn.scalars(select(UploadLayout.name).order_by(UploadLayout.name)).all()
                have = ", ".join(names) if names else "none yet (qi layout add NAME FILE)"
                raise LayoutError(f"there is no saved layout {name!r}: saved layouts: {have}")
        return Layout.from_dict(json.loads(spec))


def _layout_name(name: str) -> str:
    text = str(name or "").strip()
    if not text or len(text) > NAME_MAX:
        raise LayoutError(f"a layout's name has 1 to {NAME_MAX} characters")
    return text
