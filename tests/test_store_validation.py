# ruff: noqa: E501  (the table of bad rows reads best one case per line)
"""Every validation rule of an upload, through Python and through the command line.

Each bad file must be refused as a whole with a message naming the file, the
spreadsheet row (header = row 1) and the column, and leave the store exactly as it
was (same rows, same versions).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qi.cli import main
from qi.store import Store, StoreError, reading
from tests.conftest import HEADER, assert_unchanged, snapshot

GOOD = (
    HEADER
    + "Willow Ward,restraint,2024-03,Black,3,650\nWillow Ward,restraint,2024-03,White,2,900\n"
)

# (case, body after the header, expected (row, column, words in the message))
BAD_ROWS = [
    ("unknown team", "Elm Ward,restraint,2024-04,Black,1,100", (2, "team", "unknown team 'Elm Ward'")),
    ("unknown measure", "Willow Ward,seclusion,2024-04,Black,1,100", (2, "measure", "unknown measure 'seclusion'")),
    ("empty team", ",restraint,2024-04,Black,1,100", (2, "team", "team is empty")),
    ("empty numerator", "Willow Ward,restraint,2024-04,Black,,100", (2, "numerator", "numerator is empty")),
    ("empty group", "Willow Ward,restraint,2024-04,,1,100", (2, "group", "group is empty")),
    ("empty period", "Willow Ward,restraint,,Black,1,100", (2, "period", "period is empty")),
    ("text numerator", "Willow Ward,restraint,2024-04,Black,three,100", (2, "numerator", "'three' is not a number")),
    ("text denominator", "Willow Ward,restraint,2024-04,Black,3,n/a", (2, "denominator", "'n/a' is not a number")),
    ("negative numerator", "Willow Ward,restraint,2024-04,Black,-1,100", (2, "numerator", "negative")),
    ("negative denominator", "Willow Ward,restraint,2024-04,Black,1,-100", (2, "denominator", "negative")),
    ("numerator above denominator", "Willow Ward,detained,2024-04,Black,12,10", (2, "numerator", "above the denominator")),
    ("missing denominator of a rate", "Willow Ward,restraint,2024-04,Black,1,", (2, "denominator", "denominator is empty")),
    ("fractional count", "Willow Ward,restraint,2024-04,Black,1.5,100", (2, "numerator", "not a whole number")),
    ("events without exposure", "Willow Ward,restraint,2024-04,Black,2,0", (2, "denominator", "events need exposure")),
    ("month 13", "Willow Ward,restraint,2024-13,Black,1,100", (2, "period", "'2024-13' is not a month")),
    ("a day, not a month", "Willow Ward,restraint,15/04/2024,Black,1,100", (2, "period", "is a day, not a month")),
    ("not a date", "Willow Ward,restraint,last month,Black,1,100", (2, "period", "is not a month")),
    ("future month", "Willow Ward,restraint,2031-01,Black,1,100", (2, "period", "lies in the future")),
    ("unknown group", "Willow Ward,restraint,2024-04,Blak,1,100", (2, "group", "'Blak' is not a known group: use one of Asian, Black")),
    ("group the measure lacks", "Willow Ward,restraint,2024-04,BME,1,100", (2, "group", "'BME' is not a known group")),
    ("a typo in a month's name", "Willow Ward,restraint,Marchh 2024,Black,1,100", (2, "period", "'Marchh 2024' is not a month")),
    ("a quarter for a monthly measure", "Willow Ward,restraint,2024/25 Q1,Black,1,100", (2, "period", "'2024/25 Q1' is a quarter, but measure 'restraint' is monthly")),
    ("a time of day", "Willow Ward,restraint,2024-04-01 13:45:00,Black,1,100", (2, "period", "'2024-04-01 13:45:00' has a time of day")),
    ("too many cells", "Willow Ward,restraint,2024-04,Black,1,100,extra", (2, None, "has 7 cells but the header has 6")),
    ("duplicate row", "Willow Ward,restraint,2024-04,Black,1,100\nWillow Ward,restraint,Apr-24,black,2,100", (3, "period", "duplicate row: row")),
]  # fmt: skip


def _problems_of(store: Store, path: Path) -> list[tuple]:
    result = store.import_file(path)
    assert result.upload_id is None
    return [(p.file, p.row, p.column, p.message) for p in result.problems]


@pytest.mark.parametrize(("case", "body", "expected"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_a_bad_row_is_refused_with_file_row_and_column(store, tmp_path, case, body, expected):
    store.import_file(GOOD.encode(), "good.csv")
    before = snapshot(store)
    path = tmp_path / "bad.csv"
    # a good row first, so the problem is not simply on the first line
    path.write_text(HEADER + "Oak Ward,restraint,2024-04,White,0,700\n" + body + "\n")
    row, column, words = expected
    problems = _problems_of(store, path)
    hits = [p for p in problems if p[1] == row + 1 and p[2] == column and words in p[3]]
    assert hits, problems
    assert all(p[0] == str(path) for p in problems)
    assert_unchanged(store, before)


@pytest.mark.parametrize(("case", "body", "expected"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_the_command_line_prints_each_problem_and_exits_1(
    store_url, tmp_path, capsys, case, body, expected
):
    _setup_cli(store_url, tmp_path)
    capsys.readouterr()
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body + "\n")
    with Store.open(store_url) as store:
        before = snapshot(store)
    assert main(["--db", store_url, "import", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    row, column, words = expected
    prefix = f"{path}:{row}:{column or ''}: "
    assert any(line.startswith(prefix) and words in line for line in out), out
    assert all(line.startswith(f"{path}:") for line in out)
    with Store.open(store_url) as store:
        assert_unchanged(store, before)


def _setup_cli(url: str, folder: Path) -> None:
    from tests.conftest import MEASURES, TEAMS

    TEAMS.to_csv(folder / "teams.csv", index=False)
    MEASURES.to_csv(folder / "measures.csv", index=False)
    assert main(["--db", url, "teams", str(folder / "teams.csv")]) == 0
    assert main(["--db", url, "measures", str(folder / "measures.csv")]) == 0
    (folder / "good.csv").write_text(GOOD)
    assert main(["--db", url, "import", str(folder / "good.csv")]) == 0


def test_every_problem_is_reported_at_once(store, tmp_path):
    path = tmp_path / "many.csv"
    path.write_text(HEADER + "\n".join(body for _, body, _ in BAD_ROWS) + "\n")
    problems = _problems_of(store, path)
    # one or more problems from (nearly) every bad row
    assert len({p[1] for p in problems}) >= len(BAD_ROWS) - 1
    assert store.counts()["observation"] == 0


FILE_LEVEL = [
    ("empty", b"", "the file is empty"),
    ("blank lines only", b"\n\n  \n", "the file is empty"),
    ("header only", HEADER.encode(), "header but no data rows"),
    ("not a table", bytes(range(256)) * 4, "not a table"),
    ("missing columns", b"team,measure,period,value\nWillow Ward,restraint,2024-04,3\n",
     "no column 'group', 'numerator', 'denominator'"),
    ("broken workbook", b"PK\x03\x04 not really a zip", "not an Excel .xlsx workbook"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "content", "words"), FILE_LEVEL, ids=[c[0] for c in FILE_LEVEL])
def test_file_level_problems_have_no_row_or_column(store, tmp_path, capsys, case, content, words):
    store.import_file(GOOD.encode(), "good.csv")
    before = snapshot(store)
    path = tmp_path / ("bad.xlsx" if content.startswith(b"PK") else "bad.csv")
    path.write_bytes(content)
    problems = _problems_of(store, path)
    assert [(p[1], p[2]) for p in problems] == [(None, None)]
    assert words in problems[0][3]
    assert main(["--db", store.engine.url.render_as_string(False), "import", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{path}::: ") and words in out[0]
    assert_unchanged(store, before)


def test_a_file_over_the_size_limit_is_refused_unread(store, tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text(GOOD * 50)
    monkeypatch.setattr(reading, "MAX_BYTES", 1024)
    before = snapshot(store)
    problems = _problems_of(store, path)
    assert len(problems) == 1 and "too big" in problems[0][3] and problems[0][1] is None
    assert_unchanged(store, before)


def test_the_same_file_twice_is_refused_the_second_time(store):
    assert store.import_file(GOOD.encode(), "march.csv").ok
    before = snapshot(store)
    again = store.import_file(GOOD.encode(), "march-again.csv")
    assert again.upload_id is None and "already uploaded, as upload 1" in again.problems[0].message
    assert_unchanged(store, before)


def test_dry_run_validates_and_stores_nothing(store, tmp_path, capsys):
    path = tmp_path / "march.csv"
    path.write_text(GOOD)
    url = store.engine.url.render_as_string(False)
    before = snapshot(store)
    assert main(["--db", url, "import", "--dry-run", str(path)]) == 0
    assert "2 rows valid; nothing stored" in capsys.readouterr().out
    assert_unchanged(store, before)


# ---------------------------------------------------------------- formats that must be accepted
ROWS = [
    ("Willow Ward", "restraint", "{p}", "Black", 3, 650),
    ("Willow Ward", "restraint", "{p}", "White", 2, 900),
    ("Oak Ward", "detained", "{p}", "Asian", 1, 4),
]


def _expected(store: Store) -> pd.DataFrame:
    data = store.observations()
    return data[["team", "measure", "period", "group", "numerator", "denominator"]]


@pytest.mark.parametrize("period", ["2024-03", "2024-03-01", "01/03/2024", "Mar-24", "March 2024"])
def test_each_period_spelling_is_the_same_month(store, period):
    body = "".join(",".join(map(str, r)).format(p=period) + "\n" for r in ROWS)
    result = store.import_file((HEADER + body).encode(), "march.csv")
    assert result.ok, result.problems
    assert set(store.observations()["period"]) == {pd.Timestamp("2024-03-01")}


@pytest.mark.parametrize(
    ("encoding", "delimiter", "bom"),
    [("utf-8", ",", False), ("utf-8", ",", True), ("cp1252", ",", False), ("utf-8", ";", False),
     ("cp1252", ";", True)],
)  # fmt: skip
def test_csv_encodings_and_delimiters(store, encoding, delimiter, bom):
    store.register_teams(
        pd.DataFrame({"collaborative": ["Test Collaborative"], "ics": ["North ICS"],
                      "trust": ["Hill Trust"], "team": ["Ward Café – North"]})
    )  # fmt: skip
    text = HEADER.replace(",", delimiter) + delimiter.join(
        ["Ward Café – North", "restraint", "2024-03", "Black", "3", "650"]
    ) + "\n"  # fmt: skip
    content = text.encode(encoding)
    if bom:
        content = ("\ufeff" + text).encode("utf-8") if encoding == "utf-8" else content
    result = store.import_file(content, "cafe.csv")
    assert result.ok, result.problems
    assert list(store.observations()["team"]) == ["Ward Café – North"]


def test_excel_upload_with_real_dates_and_numbers(store, tmp_path):
    frame = pd.DataFrame(
        {
            "Team": ["Willow Ward", "Willow Ward", "Oak Ward"],
            "Measure": ["restraint", "restraint", "detained"],
            "Period": [dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1), "Mar-24"],
            "Group": ["N", "White British", "Asian"],
            "Numerator": [3, 2, 1],
            "Denominator": [650.0, 900.0, 4],
        }
    )
    path = tmp_path / "march.xlsx"
    frame.to_excel(path, index=False)
    result = store.import_file(path)
    assert result.ok, result.problems
    data = store.observations().set_index(["team", "group"])
    assert data.loc[("Willow Ward", "Black or Black British - African"), "broad_group"] == "Black"
    assert data.loc[("Willow Ward", "White - British"), "numerator"] == 2


def test_an_excel_problem_names_the_spreadsheet_row(store, tmp_path):
    frame = pd.DataFrame(
        {"team": ["Willow Ward", "Willow Ward"], "measure": ["restraint", "restraint"],
         "period": ["2024-03", "2024-04"], "group": ["Black", "Black"],
         "numerator": [3, -1], "denominator": [650, 600]}
    )  # fmt: skip
    path = tmp_path / "bad.xlsx"
    frame.to_excel(path, index=False)
    problems = _problems_of(store, path)
    assert [(p[1], p[2]) for p in problems] == [(3, "numerator")]


def test_ethnic_categories_map_to_codes_labels_and_broad_groups(store):
    body = "".join(
        f"Willow Ward,restraint,2024-03,{g},1,100\n"
        for g in ["A", "Black Caribbean", "mixed - white & asian", "99", "Other", "N"]
    )
    result = store.import_file((HEADER + body).encode(), "groups.csv")
    assert result.ok, result.problems
    data = store.observations().set_index("group")["broad_group"].to_dict()
    assert data == {
        "White - British": "White",
        "Black or Black British - Caribbean": "Black",
        "Mixed - White and Asian": "Mixed",
        "Not known": "Not stated",
        "Other": "Other",
        "Black or Black British - African": "Black",
    }


def test_a_facilitator_can_extend_the_group_mapping(store):
    body = "Willow Ward,restraint,2024-03,Black Welsh,1,100\n"
    assert not store.import_file((HEADER + body).encode(), "a.csv").ok
    store.set_group_aliases(
        pd.DataFrame({"alias": ["Black Welsh"], "code": ["P"],
                      "label": ["Black or Black British - Any other Black background"],
                      "broad_group": ["Black"]})
    )  # fmt: skip
    assert store.import_file((HEADER + body).encode(), "a.csv").ok
    assert store.audit_log()["action"].iloc[-2] == "set_group_aliases"


def test_the_group_mapping_is_edited_from_the_command_line(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    body = "Willow Ward,restraint,2024-03,Black Scottish,1,100\n"
    assert not store.import_file((HEADER + body).encode(), "a.csv").ok
    aliases = tmp_path / "aliases.csv"
    aliases.write_text(
        "alias,code,label,broad_group\nBlack Scottish,P,"
        "Black or Black British - Any other Black background,Black\n"
    )
    assert main(["--db", url, "groups", str(aliases)]) == 0
    assert "1 group aliases set" in capsys.readouterr().out
    assert store.import_file((HEADER + body).encode(), "a.csv").ok


def test_the_chart_facts_are_read_from_the_chart_type_registry():
    """What a chart needs of an upload's numbers is said once, by qi.CHART_TYPES."""
    from qi.charts import CHART_TYPES
    from qi.store import validation

    assert {k for k, c in CHART_TYPES.items() if c.needs_n} == validation.NEEDS_DENOMINATOR
    assert {k for k, c in CHART_TYPES.items() if c.proportion} == validation.PROPORTION_CHARTS
    assert {k for k, c in CHART_TYPES.items() if c.counts} == validation.COUNT_CHARTS
    assert {"p", "pp", "u", "up"} <= validation.NEEDS_DENOMINATOR
    assert "xbar" not in validation.NEEDS_DENOMINATOR  # a mean of measurements, as qi.spc says


def test_a_measure_whose_chart_needs_no_denominator_may_leave_it_empty(store):
    """An xbar (subgroup means) or i chart is drawn without a denominator, so an upload
    for it may leave the denominator empty; a rate's still may not."""
    xbar = pd.DataFrame({"id": ["weight_kg"], "name": ["Mean weight"], "definition": [""],
                         "numerator_definition": ["kg"], "denominator_definition": [""],
                         "unit": ["kg"], "multiplier": ["1"], "chart": ["xbar"],
                         "improvement": ["neutral"], "target": [""],
                         "groups": ["Asian;Black;Mixed;White;Other;Not stated"]})  # fmt: skip
    store.load_measures(xbar)
    body = "Willow Ward,weight_kg,2024-03,Black,71.5,\nWillow Ward,wait_days,2024-03,Black,12.5,\n"
    result = store.import_file((HEADER + body).encode(), "means.csv")
    assert result.ok, result.problems
    assert store.observations()["denominator"].isna().all()
    rate = store.import_file(
        (HEADER + "Willow Ward,restraint,2024-04,Black,1,\n").encode(), "r.csv"
    )
    assert [(p.row, p.column) for p in rate.problems] == [(2, "denominator")]


def test_a_repeated_column_is_a_problem_not_a_crash(store):
    before = snapshot(store)
    result = store.import_file(
        (HEADER.strip() + ",team\n" + "Willow Ward,restraint,2024-03,Black,1,100,x\n").encode(),
        "dup.csv",
    )
    assert [(p.row, p.column) for p in result.problems] == [(1, "team")]
    assert_unchanged(store, before)


def test_infinite_numbers_are_not_numbers(store):
    body = (
        "Willow Ward,wait_days,2024-03,Black,inf,10\nWillow Ward,restraint,2024-03,Black,1,1e400\n"
    )
    problems = store.import_file((HEADER + body).encode(), "inf.csv").problems
    assert {(p.row, p.column) for p in problems} == {(2, "numerator"), (3, "denominator")}


def test_an_unbalanced_quote_is_reported_not_raised(store):
    rows = "".join(f"Willow Ward,restraint,2024-{m:02d},White,1,100\n" for m in range(1, 13))
    big = HEADER + '"Willow Ward,restraint,2023-12,Black,1,100\n' + rows * 1200
    problems = store.import_file(big.encode(), "quote.csv").problems
    assert len(problems) == 1 and "unbalanced quote" in problems[0].message
    assert problems[0].row == 2


def test_a_broad_group_and_its_categories_in_one_month_are_refused(store):
    body = "Willow Ward,restraint,2024-03,White,2,50\nWillow Ward,restraint,2024-03,A,2,50\n"
    problems = store.import_file((HEADER + body).encode(), "mixed.csv").problems
    assert [(p.row, p.column) for p in problems] == [(3, "group")]


def test_a_missing_label_in_the_group_mapping_is_refused_not_stored_as_nan(store):
    """Left open by the first review: pandas' NaN became the text "nan"."""
    before = store.group_aliases()
    table = pd.DataFrame({"alias": ["Local spelling"], "code": [np.nan], "label": [np.nan],
                          "broad_group": ["Asian"]})  # fmt: skip
    with pytest.raises(StoreError, match=r"row 2: alias .*alias, label and broad_group are needed"):
        store.set_group_aliases(table)
    pd.testing.assert_frame_equal(store.group_aliases(), before)
    table["label"] = "Asian or Asian British - Any other Asian background"
    store.set_group_aliases(table)
    added = store.group_aliases().set_index("alias").loc["local spelling"]
    assert pd.isna(added["code"]) and added["broad_group"] == "Asian"
