"""Group values: NHS Data Dictionary ethnic categories, their local spellings and broad groups.

Teams type ethnic groups in many ways ("Black African", "N", "Black or Black British -
African", "black"). Every value is looked up, after :func:`normalise`, in a mapping
table (``alias`` → ``code``, ``label``, ``broad_group``) held in the store and seeded
from ``qi/store/data/ethnic_groups.csv``: the 2001-census ethnic category codes of
the NHS Data Dictionary (A–S, Z "Not stated", 99 "Not known"), their labels, common
local spellings, and the five broad groups (Asian, Black, Mixed, White, Other) plus
"Not stated". A facilitator can add or change aliases (:meth:`qi.store.Store.set_group_aliases`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

SEED = Path(__file__).with_name("data") / "ethnic_groups.csv"
ALIAS_COLUMNS = ("alias", "code", "label", "broad_group")
#: The group that means "everyone", always allowed.
ALL = "All"

_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(value: object) -> str:
    """Lower case, "&" read as "and", punctuation and repeated spaces folded to one space."""
    text = str(value).strip().lower().replace("&", " and ")
    return _NON_WORD.sub(" ", text).strip()


def seed_aliases() -> pd.DataFrame:
    """The bundled mapping, with normalised aliases."""
    table = pd.read_csv(SEED, dtype=str, keep_default_na=False)
    table["alias"] = table["alias"].map(normalise)
    table["code"] = table["code"].replace("", None)
    if table["alias"].duplicated().any():  # pragma: no cover - guards the bundled file
        dupes = table.loc[table["alias"].duplicated(), "alias"].tolist()
        raise ValueError(f"{SEED}: duplicate aliases {dupes}")
    return table[list(ALIAS_COLUMNS)]
