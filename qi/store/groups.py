"""Group values: NHS ethnic categories, their spellings, and the groupings measures report.

Teams type ethnic groups in many ways ("Black African", "N", "Black or Black British -
African", "black"). Every value is looked up, after :func:`normalise`, in two tables
held in the store:

* **group aliases** (``alias`` → ``code``, ``label``, ``broad_group``), seeded from
  ``qi/store/data/ethnic_groups.csv``: the ethnic categories of the NHS Data Dictionary
  (the 2001-census codes A–S, Z "Not stated" and the default code 99 "Not known") with
  their labels, the 2021-census categories (those the 2001 codes also have map to that
  code; Gypsy or Irish Traveller, Roma and Arab are categories of their own, without a
  national code), usual local spellings, and the broad ethnic groups Asian, Black,
  Mixed, White, Other and Not stated. A row is a *category* when it has a code or its
  label differs from its broad group; otherwise it spells a broad group.
* **groupings** (``grouping``, ``group``, ``members``, ``aliases``), seeded from
  ``qi/store/data/groupings.csv``: the groups a measure reports, and what each is made
  of (broad ethnic groups, or categories by label or code). ``ethnicity`` is the six
  broad groups; ``wres`` is the Workforce Race Equality Standard's White, BME and
  Unknown. A measure names its grouping in the catalogue.

:class:`GroupMap` says what one value means for one measure (:meth:`GroupMap.resolve`)
and where a stored group sits in its grouping (:meth:`GroupMap.path`), so that a
group and its own parts are never counted twice: in one file (refused) or across
uploads (a correction's group replaces what it overlaps).

The Data Dictionary's rule for the two "unknown" codes: Z (not stated) is for a person
who was asked and chose not to say (so "Refused", "Patient declined", "Prefer not to
say" are Z); 99 (not known) is for a person not asked or not able to answer (so "Not
known", "Unknown", "NULL", "Not recorded" are 99). Both are categories of the broad
group Not stated, and may both appear for one team × measure × period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

DATA = Path(__file__).with_name("data")
SEED = DATA / "ethnic_groups.csv"
GROUPINGS_SEED = DATA / "groupings.csv"
ALIAS_COLUMNS = ("alias", "code", "label", "broad_group")
GROUPING_COLUMNS = ("grouping", "group", "members", "aliases")
#: The grouping of a measure that names none: the six broad ethnic groups.
DEFAULT_GROUPING = "ethnicity"
#: The group that means "everyone", always allowed.
ALL = "All"

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(value: object) -> str:
    """Lower case, "&" read as "and", punctuation and repeated spaces folded to one space."""
    text = str(value).strip().lower().replace("&", " and ")
    return _NON_WORD.sub(" ", text).strip()


def split_list(text: object) -> tuple[str, ...]:
    """``"a; b;;c"`` → ``("a", "b", "c")``."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return ()
    return tuple(p.strip() for p in str(text).split(";") if p.strip())


def seed_aliases() -> pd.DataFrame:
    """The bundled mapping, with normalised aliases."""
    table = pd.read_csv(SEED, dtype=str, keep_default_na=False)
    table["alias"] = table["alias"].map(normalise)
    # None, not NaN: PostgreSQL would store a NaN as the text 'NaN'
    table["code"] = table["code"].astype(object).where(table["code"] != "", None)
    if table["alias"].duplicated().any():  # pragma: no cover - guards the bundled file
        dupes = table.loc[table["alias"].duplicated(), "alias"].tolist()
        raise ValueError(f"{SEED}: duplicate aliases {dupes}")
    return table[list(ALIAS_COLUMNS)]


def seed_groupings() -> pd.DataFrame:
    """The bundled groupings, one row per group in display order (``position``)."""
    table = pd.read_csv(GROUPINGS_SEED, dtype=str, keep_default_na=False)
    table["position"] = table.groupby("grouping").cumcount()
    return table[[*GROUPING_COLUMNS, "position"]]


def is_category(code: object, label: str, broad_group: str) -> bool:
    """Whether an alias row names an ethnic category (not a broad group)."""
    has_code = isinstance(code, str) and code.strip() != ""
    return has_code or label != broad_group


@dataclass(frozen=True)
class Category:
    """An ethnic category: its label (what is stored), code (may be empty) and broad group."""

    label: str
    code: str
    broad: str


@dataclass(frozen=True)
class Grouping:
    """A grouping: its groups in order, what each is made of, and other spellings of them."""

    name: str
    groups: tuple[str, ...]
    #: normalised member (broad group, category label or code) → group
    member_of: dict[str, str]
    #: normalised spelling of a group (its name or an alias) → group
    spelled: dict[str, str]


class GroupMap:
    """What group values mean: the alias table and the groupings, ready to look up."""

    def __init__(self, aliases: pd.DataFrame, groupings: pd.DataFrame | None = None):
        if groupings is None:
            groupings = seed_groupings()
        self.categories: dict[str, Category] = {}  # label → category
        self.exact: dict[str, str] = {}  # normalised code or label → category label
        self.spelled: dict[str, tuple[str, bool]] = {}  # normalised alias → (label, category?)
        self.broad_of: dict[str, str] = {}  # label → broad group
        self.broads: dict[str, str] = {}  # normalised broad group → its name
        for rec in aliases.itertuples(index=False):
            code = rec.code if isinstance(rec.code, str) else ""
            label, broad = str(rec.label), str(rec.broad_group)
            category = is_category(code, label, broad)
            self.broads.setdefault(normalise(broad), broad)
            self.broad_of.setdefault(label, broad)
            if category:
                known = self.categories.get(label)
                if known is None or (not known.code and code):
                    self.categories[label] = Category(label, code or "", broad)
            self.spelled[normalise(rec.alias)] = (label, category)
        for label, cat in self.categories.items():
            self.exact[normalise(label)] = label
            if cat.code:
                self.exact[normalise(cat.code)] = label
        self.groupings: dict[str, Grouping] = {}
        rows = groupings.sort_values(["grouping", "position"]) if len(groupings) else groupings
        for name, part in rows.groupby("grouping", sort=False) if len(rows) else ():
            member_of, spelled = {}, {}
            for rec in part.itertuples(index=False):
                spelled[normalise(rec.group)] = rec.group
                for alias in split_list(rec.aliases):
                    spelled.setdefault(normalise(alias), rec.group)
                for member in split_list(rec.members):
                    member_of[normalise(member)] = rec.group
            self.groupings[name] = Grouping(name, tuple(part["group"]), member_of, spelled)

    # ------------------------------------------------------------------ lookups
    def grouping(self, name: str | None) -> Grouping:
        return self.groupings.get(name or DEFAULT_GROUPING) or Grouping(
            name or DEFAULT_GROUPING, (), {}, {}
        )

    def group_of_category(self, grouping: Grouping, cat: Category) -> str | None:
        """The group of ``grouping`` a category belongs to (None: none of its groups)."""
        for key in (cat.label, cat.code, cat.broad):
            if key and normalise(key) in grouping.member_of:
                return grouping.member_of[normalise(key)]
        return None

    def groups_of_broad(self, grouping: Grouping, broad: str) -> set[str]:
        """The groups of ``grouping`` that a broad ethnic group's people fall in."""
        found = {grouping.member_of.get(normalise(broad))}
        for cat in self.categories.values():
            if cat.broad == broad:
                found.add(self.group_of_category(grouping, cat))
        return {g for g in found if g is not None}

    def resolve(
        self, value: str, groups: tuple[str, ...], grouping: str | None = None
    ) -> tuple[str | None, str | None, str | None]:
        """``(group, broad_group, None)`` for a value a measure with ``groups`` (of
        ``grouping``) accepts, else ``(None, None, why not)``.

        ``group`` is what is stored: the category's label for an ethnic category, the
        broad ethnic group for a part of a coarser group (Black, for WRES's BME), or the
        measure's group itself; ``broad_group`` is always one of ``groups`` (or All).
        The order: All; an exact category code or label (so "Not stated" is Z and "Not
        known" 99, even where the measure has a group "Not stated"); a group of the
        measure (or a spelling its grouping gives); any other spelling.
        """
        key = normalise(value)
        own = {normalise(g): g for g in groups}
        the = self.grouping(grouping)
        if key == normalise(ALL):
            return ALL, ALL, None
        label = self.exact.get(key)
        if label is not None:
            return self._category(value, self.categories[label], own, the, groups)
        if key in own:
            return own[key], own[key], None
        named = the.spelled.get(key)
        if named is not None and normalise(named) in own:
            return own[normalise(named)], own[normalise(named)], None
        spelled = self.spelled.get(key)
        if spelled is not None:
            label, category = spelled
            if category and label in self.categories:
                return self._category(value, self.categories[label], own, the, groups)
            broad = self.broad_of.get(label, label)
            return self._broad(value, broad, own, the, groups)
        return _refused(
            f"group '{value}' is not a known group: use one of {self.allowed(groups)}, or an "
            "NHS ethnic category (a code A–S, Z or 99, or its name such as "
            "'Black or Black British - African')"
        )

    def _category(self, value, cat: Category, own, the: Grouping, groups):
        group = self.group_of_category(the, cat)
        if group is not None and normalise(group) in own:
            return cat.label, own[normalise(group)], None
        if normalise(cat.label) in own:  # a measure's own group named like the category
            return own[normalise(cat.label)], own[normalise(cat.label)], None
        return _refused(
            f"group '{value}' is the ethnic category '{cat.label}' (broad group "
            f"'{cat.broad}'), which this measure does not report; allowed: "
            f"{self.allowed(groups)}"
        )

    def _broad(self, value, broad: str, own, the: Grouping, groups):
        if normalise(broad) in own:
            return own[normalise(broad)], own[normalise(broad)], None
        into = self.groups_of_broad(the, broad)
        if len(into) == 1 and normalise(next(iter(into))) in own:
            return broad, own[normalise(next(iter(into)))], None
        if len(into) > 1:
            return _refused(
                f"group '{value}' is the ethnic group '{broad}', which this measure divides "
                f"between {', '.join(sorted(into))}: give its categories instead"
            )
        return _refused(
            f"group '{value}' is the ethnic group '{broad}', which this measure does not "
            f"report; allowed: {self.allowed(groups)}"
        )

    @staticmethod
    def allowed(groups: tuple[str, ...]) -> str:
        return ", ".join(groups) + f" or {ALL}" if groups else ALL

    def path(self, group: str, broad_group: str) -> tuple[str, ...]:
        """Where a stored row sits in its measure's grouping: ``(broad_group,)`` for a
        whole group, ``(broad_group, ethnic group)`` for a broad ethnic group that is part
        of it, ``(broad_group, ethnic group, category)`` for a category. Two rows of one
        team × measure × period overlap (count the same people) when one path starts
        with the other."""
        if group == ALL or broad_group == ALL:
            return (ALL,)
        cat = self.categories.get(group)
        if cat is not None:
            return (broad_group, cat.broad, group)
        if group != broad_group and normalise(group) in self.broads:
            return (broad_group, group)
        return (broad_group,)


def _refused(message: str) -> tuple[None, None, str]:
    return None, None, message


def overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether one path starts with the other (equal paths included)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]
