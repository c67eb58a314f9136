"""Files as trusts really export them load without reshaping by hand (issue 17).

Each test makes a small, realistic file of one kind (wide by month, an MHSDS-style
extract, a WRES-style return, an annual Mental Health Act table, a board workbook with a
notes sheet first, a SQL Server export, a CSV with analyst headers, a CSV report with
title lines, UTF-16 "Unicode text", non-breaking spaces, thousands separators), loads it
through ``qi import FILE`` with no layout (or with a saved layout where the file cannot
say what it holds) and compares ``qi export`` value by value with what the file says;
or checks the exact message a file that cannot be read gets.

Files that also need what the data mean (financial-year periods, WRES groupings, SQL
Server time stamps, Z and 99 together) are checked both for the table they are shaped
into and for what is stored.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from qi.cli import main
from qi.store import Store
from qi.store.intake import read_upload
from qi.store.layouts import Layout
from tests.conftest import HEADER, MEASURES, TEAMS, assert_unchanged, snapshot

COLUMNS = ["team", "measure", "period", "group", "numerator", "denominator"]


# ---------------------------------------------------------------------- helpers
@pytest.fixture
def cli(store_url, tmp_path, capsys):
    """Run ``qi`` on a store with the test teams (and Larch PICU) and measures."""
    teams = pd.concat(
        [TEAMS, pd.DataFrame([{"collaborative": "Test Collaborative", "ics": "North ICS",
                               "trust": "Hill Trust", "team": "Larch PICU"}])]
    )  # fmt: skip
    teams.to_csv(tmp_path / "teams.csv", index=False)
    MEASURES.to_csv(tmp_path / "measures.csv", index=False)

    def run(*args: str) -> tuple[int, list[str], list[str]]:
        capsys.readouterr()
        code = main(["--db", store_url, *args])
        out = capsys.readouterr()
        return code, out.out.splitlines(), out.err.splitlines()

    assert run("teams", str(tmp_path / "teams.csv"))[0] == 0
    assert run("measures", str(tmp_path / "measures.csv"))[0] == 0
    run.folder = tmp_path
    run.url = store_url
    return run


def exported(cli) -> pd.DataFrame:
    """What ``qi export`` writes, sorted: text, and numbers as numbers (12 and 12.0 alike)."""
    path = cli.folder / "export.csv"
    code, _, err = cli("export", "--output", str(path))
    assert code == 0, err
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return _numbers(frame.sort_values(COLUMNS[:4], ignore_index=True))


def expected(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame([[str(v) for v in r] for r in rows], columns=COLUMNS)
    return _numbers(frame.sort_values(COLUMNS[:4], ignore_index=True))


def _numbers(frame: pd.DataFrame) -> pd.DataFrame:
    for col in ("numerator", "denominator"):
        frame[col] = [float(v) if v != "" else None for v in frame[col]]
    return frame


def imports(cli, path: Path, *extra: str) -> list[str]:
    """``qi import`` must store the file; returns what it said on standard error."""
    code, out, err = cli("import", str(path), *extra)
    assert code == 0, out + err
    assert len(out) == 1 and out[0].startswith("upload "), out
    return err


def refused(cli, path: Path, *extra: str) -> list[str]:
    """``qi import`` must refuse the file and store nothing; returns its lines."""
    with Store.open(cli.url) as store:
        before = snapshot(store)
    code, out, _ = cli("import", str(path), *extra)
    assert code == 1
    assert all(line.startswith(f"{path}:") for line in out), out
    with Store.open(cli.url) as store:
        assert_unchanged(store, before)
    return out


def xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    """A workbook with these sheets, each given row by row (None: an empty cell)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------- wide by month
def test_a_wide_by_month_report_with_titles_and_a_total_column(cli):
    """Months as columns, numerator and denominator as rows told apart by a column,
    title lines above, a Total column and a source note below, names in any case."""
    path = cli.folder / "restraint wide.csv"
    path.write_text(
        "Restrictive practice report - Hill Trust\n"
        "Produced by the Information Team, 03/05/2024\n"
        "\n"
        "Ward,Measure,Ethnicity,Figure,Apr-24,May-24,Jun-24,Total\n"
        "Willow Ward,restraint,Black,Numerator,3,2,1,6\n"
        'Willow Ward,restraint,Black,Denominator,650,"1,200",700,"2,550"\n'
        "willow ward,Restraint,White,Numerator,4,0,1,5\n"
        'WILLOW WARD,restraint,White,Denominator,900,880,910,"2,690"\n'
        "\n"
        "Source: Datix and the bed management system\n",
        encoding="utf-8",
    )
    err = imports(cli, path)
    assert "header on row 4" in err[0] and "3 period columns" in err[0]
    assert exported(cli).equals(
        expected([
            ("Willow Ward", "restraint", "2024-04", "Black", 3, 650),
            ("Willow Ward", "restraint", "2024-05", "Black", 2, 1200),
            ("Willow Ward", "restraint", "2024-06", "Black", 1, 700),
            ("Willow Ward", "restraint", "2024-04", "White", 4, 900),
            ("Willow Ward", "restraint", "2024-05", "White", 0, 880),
            ("Willow Ward", "restraint", "2024-06", "White", 1, 910),
        ])
    )  # fmt: skip


def test_a_wide_workbook_with_excel_dates_as_month_headers(cli):
    """A measure with no denominator (days to contact, an i chart), one row per team ×
    group, months as real Excel dates in the header; a month not yet reported is empty."""
    months = [dt.datetime(2024, m, 1) for m in (4, 5, 6)]
    path = cli.folder / "waits.xlsx"
    path.write_bytes(
        xlsx({"Waits": [
            ["Team", "Metric", "Ethnic group", *months],
            ["Oak Ward", "wait_days", "Asian", 12, 15.5, None],
            ["Oak Ward", "wait_days", "White", 9, 11, None],
        ]})
    )  # fmt: skip
    err = imports(cli, path)
    assert "2 empty cells under the period columns skipped" in err[0]
    assert exported(cli).equals(
        expected([
            ("Oak Ward", "wait_days", "2024-04", "Asian", 12, ""),
            ("Oak Ward", "wait_days", "2024-05", "Asian", 15.5, ""),
            ("Oak Ward", "wait_days", "2024-04", "White", 9, ""),
            ("Oak Ward", "wait_days", "2024-05", "White", 11, ""),
        ])
    )  # fmt: skip


def test_a_wide_file_names_the_month_column_of_a_bad_cell(cli):
    path = cli.folder / "wide bad.csv"
    path.write_text(
        "Ward,Measure,Ethnicity,Type,Apr-24,May-24\n"
        "Willow Ward,restraint,Black,Numerator,3,-2\n"
        "Willow Ward,restraint,Black,Denominator,650,700\n"
    )
    out = refused(cli, path)
    assert f"{path}:2:May-24: numerator is negative: counts cannot be below 0" in out


# ---------------------------------------------------------------------- MHSDS extract
MHSDS = (
    "REPORTING_PERIOD_START,REPORTING_PERIOD_END,STATUS,BREAKDOWN,PRIMARY_LEVEL,"
    "PRIMARY_LEVEL_DESCRIPTION,SECONDARY_LEVEL,SECONDARY_LEVEL_DESCRIPTION,MEASURE_ID,"
    "MEASURE_NAME,MEASURE_VALUE\n"
    "01/04/2024,30/04/2024,Performance,England,England,England,NONE,NONE,MHS96,"
    'Restrictive interventions,"12,034"\n'
    "01/04/2024,30/04/2024,Performance,Provider; Ethnicity,RX1W1,Willow Ward,B,Black,MHS96,"
    "Restrictive interventions,3\n"
    "01/04/2024,30/04/2024,Performance,Provider; Ethnicity,RX1W1,Willow Ward,B,Black,MHS24,"
    "Bed days,650\n"
    "01/04/2024,30/04/2024,Performance,Provider; Ethnicity,RX1W1,Willow Ward,A,White,MHS96,"
    "Restrictive interventions,2\n"
    "01/04/2024,30/04/2024,Performance,Provider; Ethnicity,RX1W1,Willow Ward,A,White,MHS24,"
    'Bed days,"1,900"\n'
    "01/04/2024,30/04/2024,Performance,Provider; Ethnicity,RX1W1,Willow Ward,A,White,MHS01,"
    "People in contact,40\n"
    "01/05/2024,31/05/2024,Performance,Provider; Ethnicity,RX1W1,Willow Ward,B,Black,MHS96,"
    "Restrictive interventions,1\n"
    "01/05/2024,31/05/2024,Performance,Provider; Ethnicity,RX1W1,Willow Ward,B,Black,MHS24,"
    "Bed days,610\n"
)
MHSDS_LAYOUT = """\
description = "MHSDS monthly extract: restrictive interventions by ethnicity"

[columns]
team = "PRIMARY_LEVEL_DESCRIPTION"
period = "REPORTING_PERIOD_START"
group = "SECONDARY_LEVEL_DESCRIPTION"

[constants]
measure = "restraint"

[filters]
BREAKDOWN = ["Provider; Ethnicity"]

[values]
column = "MEASURE_VALUE"
by = "MEASURE_ID"
numerator = "MHS96"
denominator = "MHS24"
"""


def test_an_mhsds_extract_loads_through_a_saved_layout(cli):
    """The README's worked example, exactly."""
    path = cli.folder / "MHSDS Monthly April 2024.csv"
    path.write_text(MHSDS)
    (cli.folder / "mhsds.toml").write_text(MHSDS_LAYOUT)
    code, out, _ = cli("layout", "add", "mhsds restraint", str(cli.folder / "mhsds.toml"))
    assert code == 0 and out == [
        "layout mhsds restraint saved: qi import FILE --layout mhsds restraint"
    ]
    code, out, _ = cli("layout", "list")
    assert "mhsds restraint" in out[1]
    err = imports(cli, path, "--layout", "mhsds restraint")
    assert (
        "kept the rows whose BREAKDOWN is 'Provider; Ethnicity' (1 other rows left out)" in err[0]
    )
    assert "1 rows whose MEASURE_ID is neither numerator nor denominator left out" in err[0]
    assert exported(cli).equals(
        expected([
            ("Willow Ward", "restraint", "2024-04", "Black", 3, 650),
            ("Willow Ward", "restraint", "2024-04", "White", 2, 1900),
            ("Willow Ward", "restraint", "2024-05", "Black", 1, 610),
        ])
    )  # fmt: skip


def test_an_mhsds_extract_without_a_layout_is_refused_saying_what_to_do(cli):
    path = cli.folder / "mhsds.csv"
    path.write_text(MHSDS)
    [line] = refused(cli, path)
    assert line.startswith(f"{path}::: the file has no column 'numerator', 'denominator': ")
    assert "the columns found are 'REPORTING_PERIOD_START', 'REPORTING_PERIOD_END'" in line
    assert "qi layout add NAME FILE, then qi import FILE --layout NAME" in line


def test_a_missing_column_lists_the_columns_found_and_the_nearest(cli):
    path = cli.folder / "analyst.csv"
    path.write_text(
        "Team name,Month,Ethnic grp,Metric,Numer,Denom\nWillow Ward,2024-04,Black,restraint,1,9\n"
    )
    assert refused(cli, path) == [
        f"{path}::: the file has no column 'group', 'numerator', 'denominator': the header must "
        "name the columns team, measure, period, group, numerator, denominator (in any order, "
        "or a usual name such as Ward, Month, Ethnicity, Count, Bed days); the columns found "
        "are 'Team name', 'Month', 'Ethnic grp', 'Metric', 'Numer', 'Denom'; nearest: group: "
        "'Ethnic grp'?, numerator: 'Numer'?, denominator: 'Denom'?. A file that is all one "
        "measure or one team, or in another shape, can be read with a saved layout (qi layout "
        "add NAME FILE, then qi import FILE --layout NAME)"
    ]


# ---------------------------------------------------------------------- WRES-style return
WRES = (
    "Workforce Race Equality Standard - data return\n"
    "Organisation: Hill Trust\n"
    "\n"
    "Team,Indicator,Financial year,Type,White,BME,Unknown\n"
    "Willow Ward,detained,2023/24,Numerator,12,9,1\n"
    "Willow Ward,detained,2023/24,Denominator,140,61,8\n"
)


def test_a_wres_return_is_shaped_into_rows_of_groups():
    """Groups as columns, numerator and denominator as rows: what this half reads."""
    from qi.store.validation import Catalogue

    measures = MEASURES.set_index("id")
    measures["groups"] = [("White", "BME", "Unknown")] * len(measures)  # WRES's grouping
    catalogue = Catalogue(
        teams=frozenset(TEAMS["team"]),
        measures=measures,
        aliases=pd.DataFrame(columns=["alias", "code", "label", "broad_group"]),
    )
    intake = read_upload(WRES.encode(), "wres.csv", catalogue=catalogue)
    assert not intake.problems
    got = intake.table.data
    assert got.values.tolist() == [
        ["Willow Ward", "detained", "2023/24", "White", "12", "140"],
        ["Willow Ward", "detained", "2023/24", "BME", "9", "61"],
        ["Willow Ward", "detained", "2023/24", "Unknown", "1", "8"],
    ]
    assert "3 group columns (White, BME, Unknown) read as rows" in intake.notes


def annual(cli, grouping: str = "") -> None:
    """Make ``detained`` a measure counted per financial year, of ``grouping``."""
    measures = MEASURES.assign(frequency="month", grouping="")
    detained = measures["id"] == "detained"
    measures.loc[detained, "frequency"] = "year"
    if grouping:
        measures.loc[detained, ["grouping", "groups"]] = [grouping, ""]
    measures.to_csv(cli.folder / "measures.csv", index=False)
    assert cli("measures", str(cli.folder / "measures.csv"))[0] == 0


def test_a_wres_return_loads_by_financial_year(cli):
    """WRES's White / BME / Unknown, a financial year, groups as columns and numerator
    and denominator as rows: stored as the return says, exported as it was written."""
    annual(cli, "wres")
    path = cli.folder / "wres.csv"
    path.write_text(WRES)
    err = imports(cli, path)
    assert "3 group columns (White, BME, Unknown) read as rows" in err[0]
    assert exported(cli).equals(
        expected([
            ("Willow Ward", "detained", "2023/24", "BME", 9, 61),
            ("Willow Ward", "detained", "2023/24", "Unknown", 1, 8),
            ("Willow Ward", "detained", "2023/24", "White", 12, 140),
        ])
    )  # fmt: skip


def test_a_wres_return_for_a_monthly_measure_is_refused_with_what_to_write(cli):
    """The same return for a measure counted per month: its financial year is refused."""
    annual(cli, "wres")
    measures = pd.read_csv(cli.folder / "measures.csv", dtype=str, keep_default_na=False)
    measures.loc[measures["id"] == "detained", "frequency"] = "month"
    measures.to_csv(cli.folder / "measures.csv", index=False)
    assert cli("measures", str(cli.folder / "measures.csv"))[0] == 0
    path = cli.folder / "wres.csv"
    path.write_text(WRES)
    out = refused(cli, path)
    assert out[1:] == [
        f"{path}:5:Financial year: '2023/24' is a financial year, but measure 'detained' is "
        "monthly: give the month, as 2024-03, 2024-03-01, 01/03/2024, Mar-24, March 2024 or "
        "202403"
    ]  # one line, though the file row became three rows (one per group)


# ---------------------------------------------------------------------- annual MHA table
MHA = xlsx({
    "Notes": [["Mental Health Act detentions by ethnic group"], ["Source: MHA office"]],
    "Table 1": [
        ["Table 1: Detentions under the Mental Health Act, 2023/24"],
        [None],
        ["Ethnic group", "Detentions", "Admissions", "Rate per 100"],
        ["Asian", 14, 60, 23.3],
        ["Black", 31, 70, 44.3],
        ["White", 40, 310, 12.9],
        ["Total", 85, 440, 19.3],
    ],
})  # fmt: skip
MHA_LAYOUT = {
    "sheet": "Table 1",
    "columns": {"group": "Ethnic group", "numerator": "Detentions", "denominator": "Admissions"},
    "constants": {"team": "Oak Ward", "measure": "detained", "period": "2023/24"},
    "recode": {},
}


def test_an_annual_mha_table_is_read_through_a_layout_with_constants():
    """What this half reads of the table (the Total row is refused as a total row)."""
    layout = Layout.from_dict(MHA_LAYOUT)
    intake = read_upload(MHA, "mha.xlsx", layout=layout)
    assert intake.table.data.values.tolist() == [
        ["Oak Ward", "detained", "2023/24", "Asian", 14, 60],
        ["Oak Ward", "detained", "2023/24", "Black", 31, 70],
        ["Oak Ward", "detained", "2023/24", "White", 40, 310],
        ["Oak Ward", "detained", "2023/24", "Total", 85, 440],
    ]


def test_a_total_row_is_named_as_such(cli):
    path = cli.folder / "with total.csv"
    path.write_text(
        HEADER + "Willow Ward,restraint,2024-04,Black,3,650\nTotal,restraint,2024-04,Black,3,650\n"
    )
    assert refused(cli, path) == [
        f"{path}:3:team: unknown team 'Total': this looks like a total row; remove it (the "
        "dashboard adds teams and groups up itself)"
    ]


def test_an_annual_mha_table_loads_with_its_financial_year(cli):
    """The Total row left out by a filter; the financial year a constant of the layout."""
    annual(cli)
    path = cli.folder / "mha.xlsx"
    path.write_bytes(MHA)
    import json

    spec = MHA_LAYOUT | {"filters": {"Ethnic group": ["Asian", "Black", "White"]}}
    (cli.folder / "mha.json").write_text(json.dumps(spec))
    assert cli("layout", "add", "mha", str(cli.folder / "mha.json"))[0] == 0
    imports(cli, path, "--layout", "mha")
    assert exported(cli).equals(
        expected([
            ("Oak Ward", "detained", "2023/24", "Asian", 14, 60),
            ("Oak Ward", "detained", "2023/24", "Black", 31, 70),
            ("Oak Ward", "detained", "2023/24", "White", 40, 310),
        ])
    )  # fmt: skip


# ---------------------------------------------------------------------- board workbook
APRIL = dt.datetime(2024, 4, 1)


def test_a_board_workbook_with_a_notes_sheet_first(cli):
    """Notes sheet first, titles above the table, display names of measures, Excel dates,
    NHS ethnic codes, column names a board analyst uses."""
    path = cli.folder / "board pack data.xlsx"
    path.write_bytes(
        xlsx({
            "Read me": [["About this workbook"], ["Figures are provisional."], ["Contact: x"]],
            "Data": [
                ["Restraint and detention by ethnicity"],
                ["Month ending 30 April 2024"],
                [None],
                ["Ward", "Metric", "Month", "Ethnic category", "Incidents", "Occupied bed days"],
                ["Willow Ward", "Restraint per 1,000 bed days", APRIL, "N", 3, 650],
                ["Willow Ward", "Restraint per 1,000 bed days", APRIL, "A", 2, 900],
                ["Oak Ward", "restraint", APRIL, "Black", 0, 480],
            ],
        })
    )  # fmt: skip
    err = imports(cli, path)
    assert "sheet 'Data' (of 'Read me', 'Data')" in err[0] and "header on row 4" in err[0]
    assert exported(cli).equals(
        expected([
            ("Willow Ward", "restraint", "2024-04", "Black or Black British - African", 3, 650),
            ("Willow Ward", "restraint", "2024-04", "White - British", 2, 900),
            ("Oak Ward", "restraint", "2024-04", "Black", 0, 480),
        ])
    )  # fmt: skip


def test_a_notes_sheet_first_and_an_empty_data_sheet_names_the_sheet_read(cli):
    path = cli.folder / "empty board.xlsx"
    path.write_bytes(
        xlsx({
            "Notes": [["Guidance for completing this return"]],
            "Data": [["Return for April"], [None],
                     ["team", "measure", "period", "group", "numerator", "denominator"]],
        })
    )  # fmt: skip
    assert refused(cli, path) == [
        f"{path}::: the file has a header but no data rows (sheet 'Data', header on row 3)"
    ]


def test_two_sheets_that_both_look_like_data_are_refused_not_chosen(cli):
    table = [["team", "measure", "period", "group", "numerator", "denominator"],
             ["Willow Ward", "restraint", "2024-04", "Black", 1, 100]]  # fmt: skip
    path = cli.folder / "two.xlsx"
    path.write_bytes(xlsx({"2023": table, "2024": table}))
    assert refused(cli, path) == [
        f"{path}::: more than one sheet looks like the data: '2023' (header on row 1), '2024' "
        "(header on row 1); keep one of them in the file, or save a layout that names the "
        "sheet (qi layout add)"
    ]


def test_an_excel_title_row_is_not_a_stray_delimiter(cli):
    path = cli.folder / "titled.xlsx"
    path.write_bytes(
        xlsx({"Sheet1": [
            ["Restraint return, April 2024", None, None, None, None, None],
            ["team", "measure", "period", "group", "numerator", "denominator"],
            ["Willow Ward", "restraint", "2024-04", "Black", 1, 100],
        ]})
    )  # fmt: skip
    imports(cli, path)
    assert exported(cli).equals(
        expected([("Willow Ward", "restraint", "2024-04", "Black", 1, 100)])
    )


# ---------------------------------------------------------------------- SQL Server export
def test_a_sql_server_export(cli):
    """Underscored headers, CHAR columns padded with spaces, NULL for no denominator."""
    path = cli.folder / "results.csv"
    path.write_text(
        "Team_Name,Reporting_Month,Ethnic_Category,Measure_ID,Numerator,Denominator\n"
        "Willow Ward         ,2024-04-01,N   ,restraint ,3,650\n"
        "Willow Ward         ,2024-04-01,A   ,restraint ,2,900\n"
        "Oak Ward            ,2024-04-01,A   ,wait_days ,45,NULL\n"
    )
    imports(cli, path)
    assert exported(cli).equals(
        expected([
            ("Willow Ward", "restraint", "2024-04", "Black or Black British - African", 3, 650),
            ("Willow Ward", "restraint", "2024-04", "White - British", 2, 900),
            ("Oak Ward", "wait_days", "2024-04", "White - British", 45, ""),
        ])
    )  # fmt: skip


def test_a_sql_server_export_with_time_stamps(cli):
    path = cli.folder / "results.csv"
    path.write_text(
        "Team_Name,Reporting_Month,Ethnic_Category,Measure_ID,Numerator,Denominator\n"
        "Willow Ward,2024-04-01 00:00:00.000,N,restraint,3,650\n"
        "Willow Ward,2024-05-01 00:00:00.000,Z,restraint,1,700\n"
        "Willow Ward,2024-05-01 00:00:00.000,99,restraint,2,700\n"
    )
    imports(cli, path)
    assert exported(cli).equals(
        expected([
            ("Willow Ward", "restraint", "2024-04", "Black or Black British - African", 3, 650),
            ("Willow Ward", "restraint", "2024-05", "Not known", 2, 700),
            ("Willow Ward", "restraint", "2024-05", "Not stated", 1, 700),
        ])
    )  # fmt: skip


# ---------------------------------------------------------------------- analyst CSVs
def test_a_csv_with_analyst_headers_semicolons_and_windows_text(cli):
    path = cli.folder / "analyst.csv"
    path.write_bytes(
        ("WARD NAME;Month;Ethnicity;Indicator;Count;Bed Days (OBD)\n"
         "Willow Ward;Apr-24;Black African;Restraint per 1,000 bed days;3;650\n"
         "Willow Ward;Apr-24;White British;restraint;2;900\n").encode("cp1252")
    )  # fmt: skip
    err = imports(cli, path)
    assert "team ← 'WARD NAME'" in err[0] and "denominator ← 'Bed Days (OBD)'" in err[0]
    assert exported(cli).equals(
        expected([
            ("Willow Ward", "restraint", "2024-04", "Black or Black British - African", 3, 650),
            ("Willow Ward", "restraint", "2024-04", "White - British", 2, 900),
        ])
    )  # fmt: skip


def test_a_csv_report_with_title_lines_commas_and_thousands(cli):
    """A title line that itself holds a comma must not decide the delimiter."""
    path = cli.folder / "report.csv"
    path.write_text(
        '"Detentions report, Hill Trust"\nRun on 02/05/2024 by J. Smith\n\n'
        "Team,Measure,Period,Group,Numerator,Denominator\n"
        'Oak Ward,detained,2024-04,Asian,"1,204","2,310"\n'
        "Oak Ward,detained,2024-04,White,14,40\n"
    )
    err = imports(cli, path)
    assert "thousands separators" in err[0]
    assert exported(cli).equals(
        expected([
            ("Oak Ward", "detained", "2024-04", "Asian", 1204, 2310),
            ("Oak Ward", "detained", "2024-04", "White", 14, 40),
        ])
    )  # fmt: skip


def test_a_utf16_unicode_text_file_from_excel(cli):
    path = cli.folder / "unicode.txt"
    text = HEADER.replace(",", "\t") + "Willow Ward\trestraint\t2024-04\tBlack\t3\t650\n"
    path.write_bytes(text.encode("utf-16"))  # Excel's "Unicode text": UTF-16 with a BOM, tabs
    imports(cli, path)
    assert exported(cli).equals(
        expected([("Willow Ward", "restraint", "2024-04", "Black", 3, 650)])
    )


def test_a_non_breaking_space_in_a_team_name_is_read_as_the_registered_name(cli):
    path = cli.folder / "nbsp.csv"
    path.write_text(HEADER + "Larch\u00a0PICU,restraint,2024-04,Black,1,120\n", encoding="utf-8")
    err = imports(cli, path)
    assert "team names read as registered: 'Larch<U+00A0>PICU' as 'Larch PICU'" in err[0]
    assert exported(cli).equals(expected([("Larch PICU", "restraint", "2024-04", "Black", 1, 120)]))


def test_an_unknown_name_with_a_non_breaking_space_shows_it(cli):
    path = cli.folder / "nbsp.csv"
    path.write_text(HEADER + "Larch\u00a0PICUs,restraint,2024-04,Black,1,120\n", encoding="utf-8")
    [line] = refused(cli, path)
    assert line.startswith(
        f"{path}:2:team: unknown team 'Larch<U+00A0>PICUs' (it contains a non-breaking space): "
        "did you mean 'Larch PICU'? If not, register it first (qi teams) or use one of"
    )


# ---------------------------------------------------------------------- messages at scale
def test_suppressed_cells_get_one_message(cli):
    path = cli.folder / "suppressed.csv"
    body = "".join(
        f"Willow Ward,restraint,2024-{m:02d},Black,{v},650\n"
        for m, v in zip(range(1, 7), ["*", "<5", "3", "c", "[c]", ".."], strict=True)
    )
    path.write_text(HEADER + body)
    assert refused(cli, path) == [
        f"{path}:2:numerator: 5 cells hold a suppressed count ('*', '<5', 'c', '[c]', '..'; rows "
        "2, 3, 5, 6, 7): the collaborative needs the real, unsuppressed counts to chart and "
        "compare groups; it suppresses small numbers itself on everything it shows or exports "
        "(counts from 1 to 7 are shown as *). Send the figures from before suppression"
    ]


def test_one_systematic_problem_in_a_big_file_is_one_line(cli):
    """20,000 rows whose team column holds the trust's name: one line, not 20,000."""
    path = cli.folder / "big.csv"
    rows = [
        f"Hill Trust,restraint,{2020 + i // 12 % 4}-{i % 12 + 1:02d},{g},1,100\n"
        for i in range(4000)
        for g in ("Asian", "Black", "Mixed", "White", "Other")
    ]
    path.write_text(HEADER + "".join(rows))
    out = refused(cli, path)
    assert len(out) <= 50
    assert out[0].startswith(f"{path}:2:team: 20,000 rows like this: unknown team 'Hill Trust'")
    assert out[0].endswith("(rows 2, 3, 4, 5, 6 and 19,995 more)")


@pytest.mark.parametrize(
    ("measure", "period", "says"),
    [
        ("restraint", "Marchh 2024", "'Marchh 2024' is not a month: write it as 2024-03"),
        ("restraint", "2024-04-01 10:30:00", "'2024-04-01 10:30:00' has a time of day"),
        ("detained", "2024 Q1", "'2024 Q1' does not say whether it is a calendar or a financial "
         "quarter: write the financial quarter, as 2024/25 Q1 (April to June 2024)"),
    ],
)  # fmt: skip
def test_a_period_written_one_wrong_way_on_every_row_is_one_line(cli, measure, period, says):
    """A period column wrong the same way on 20,000 rows (the issue's 200,000 lines): one
    line that quotes it and says what to write; a quarterly measure's periods likewise."""
    measures = MEASURES.assign(frequency=["month", "quarter", "month"])
    measures.to_csv(cli.folder / "measures.csv", index=False)
    assert cli("measures", str(cli.folder / "measures.csv"))[0] == 0
    path = cli.folder / "periods.csv"
    rows = [
        f"{team},{measure},{period},{g},1,100\n"
        for team in ("Willow Ward", "Oak Ward")
        for _ in range(2000)
        for g in ("Asian", "Black", "Mixed", "White", "Other")
    ]
    path.write_text(HEADER + "".join(rows))
    out = refused(cli, path)
    assert out[0].startswith(f"{path}:2:period: 20,000 rows like this: {says}"), out
    assert out[0].endswith("(rows 2, 3, 4, 5, 6 and 19,995 more)")
    # the same team, measure, period and group many times over: one line too
    assert [line.split(":")[2] for line in out] == ["period"]


def test_many_different_problems_stay_under_fifty_lines(cli):
    """3,000 rows wrong in every column in many ways: one line per kind of problem."""
    path = cli.folder / "messy.csv"
    rows = [f"Team {i},measure {i},20{i % 90:02d}-{i % 14},G{i},x{i},y{i}\n" for i in range(3000)]
    path.write_text(HEADER + "".join(rows))
    out = refused(cli, path)
    assert len(out) <= 50
    # (a group is checked against its measure's groups: unknown measures leave it unchecked)
    assert {line.split(":")[2] for line in out} == {
        "team",
        "measure",
        "period",
        "numerator",
        "denominator",
    }
    assert ":2:team: 3,000 rows like this: unknown team 'Team 0'" in out[0]


def test_a_list_of_problems_is_cut_at_fifty_lines():
    from qi.store.messages import summarise
    from qi.store.reading import Problem

    problems = [Problem("f.csv", r, f"column {r}", "bad") for r in range(2, 202)]
    out = summarise(problems)
    assert len(out) == 50 and out[:49] == problems[:49]
    assert out[-1] == Problem(
        "f.csv", None, None,
        "and 151 more problems not listed: fix the ones above and check the file again",
    )  # fmt: skip


def test_two_columns_that_could_be_one_are_refused(cli):
    path = cli.folder / "two counts.csv"
    path.write_text(
        "team,measure,period,group,Count,Incidents,denominator\n"
        "Willow Ward,restraint,2024-04,Black,1,1,100\n"
    )
    assert refused(cli, path) == [
        f"{path}::: the columns 'Count' and 'Incidents' could each be the numerator: rename the "
        "one that is not, or save a layout that says which (qi layout add)"
    ]


def test_a_near_miss_team_gets_did_you_mean(cli):
    path = cli.folder / "typo.csv"
    path.write_text(HEADER + "Wilow Ward,restraint,2024-04,Black,1,100\n")
    [line] = refused(cli, path)
    assert line.startswith(f"{path}:2:team: unknown team 'Wilow Ward': did you mean 'Willow Ward'?")
