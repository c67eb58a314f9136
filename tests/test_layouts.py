"""Saved upload layouts (kept in the store, audited, governed by the roles) and the upload
template, through Python, the command line and the Upload page."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from qi.access import AccessDenied
from qi.cli import main
from qi.store import Store
from qi.store.layouts import Layout, LayoutError
from tests.test_access import PASSWORDS, people  # noqa: F401  (a fixture)
from tests.test_import_files import MHSDS, MHSDS_LAYOUT


def test_a_layout_reads_the_same_from_toml_and_json():
    toml = Layout.parse(MHSDS_LAYOUT)
    assert Layout.parse(toml.to_json(), "json") == toml
    assert toml.columns["team"] == "PRIMARY_LEVEL_DESCRIPTION"
    assert toml.filters == {"BREAKDOWN": ("Provider; Ethnicity",)}
    assert toml.values == {"column": "MEASURE_VALUE", "by": "MEASURE_ID",
                           "numerator": ("MHS96",), "denominator": ("MHS24",)}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("colums = {}", "unknown layout setting 'colums'"),
        ("[columns]\nward = 'Ward'", "columns: unknown column 'ward'"),
        ("[columns]\nteam = 'Ward'\n[constants]\nteam = 'Willow Ward'", "both read from the file"),
        ("[values]\ncolumn = 'V'", "values: give by, numerator"),
        ("[wide]\nto = 'month'", "wide.to: 'period'"),
        ("sheet = 0", "numbers start at 1"),
        ("header_row = 'two'", "header_row: the header's row number"),
        ("[columns\nteam = 1", "not valid TOML"),
    ],
)
def test_a_bad_layout_is_refused_saying_what_to_change(text, words):
    with pytest.raises(LayoutError, match=words.replace("(", r"\(")):
        Layout.parse(text)


def test_a_layout_is_stored_audited_and_replaced(store):
    layout = Layout.parse(MHSDS_LAYOUT)
    store.save_layout("mhsds", layout, user="ana")
    assert store.layout("mhsds") == layout
    store.save_layout("mhsds", Layout.from_dict(layout.to_dict() | {"description": "v2"}))
    listed = store.layouts()
    assert listed[["name", "description"]].values.tolist() == [["mhsds", "v2"]]
    audit = store.audit_log()
    saved = audit[audit["entity"] == "upload_layout"]
    assert sorted(saved["action"]) == ["add_layout", "replace_layout"]
    assert json.loads(saved.iloc[0]["detail"])["constants"] == {"measure": "restraint"}
    with pytest.raises(LayoutError, match="there is no saved layout 'nope': saved layouts: mhsds"):
        store.layout("nope")


def test_a_file_read_with_a_saved_layout_by_name(store):
    store.save_layout("mhsds", Layout.parse(MHSDS_LAYOUT))
    result = store.import_file(MHSDS.encode(), "mhsds.csv", layout="mhsds")
    assert result.ok, result.problems
    data = store.observations()
    assert data[["group", "numerator", "denominator"]].values.tolist() == [
        ["Black", 3.0, 650.0], ["Black", 1.0, 610.0], ["White", 2.0, 1900.0],
    ]  # fmt: skip


def test_a_layout_that_does_not_fit_the_file_says_so(store):
    layout = Layout.from_dict({"columns": {"team": "Ward name"}, "sheet": "Data"})
    result = store.import_file(MHSDS.encode(), "mhsds.csv", layout=layout)
    assert [p.message for p in result.problems] == [
        "the layout reads sheet 'Data', which this file does not have: this is a CSV file, "
        "which has no sheets: leave sheet out of the layout"
    ]
    layout = Layout.from_dict({"columns": {"team": "Ward name"}})
    [problem] = store.import_file(MHSDS.encode(), "mhsds.csv", layout=layout).problems
    assert problem.message.startswith(
        "the layout's team column 'Ward name' is not a column of this file: found "
        "'REPORTING_PERIOD_START', 'REPORTING_PERIOD_END'"
    )


def test_who_may_save_a_layout(people):
    """Facilitators and team members may save one; a board viewer may not; a layout is
    replaced only by whoever saved it or by a facilitator of the collaborative."""
    layout = Layout.parse(MHSDS_LAYOUT)
    people["willow"].save_layout("willow's extract", layout)
    with pytest.raises(AccessDenied, match=r"board .* may not save an upload layout"):
        people["board"].save_layout("board's", layout)
    with pytest.raises(AccessDenied, match="willow saved it, so only they or a facilitator"):
        people["oak"].save_layout("willow's extract", layout)
    with pytest.raises(AccessDenied, match="may not save an upload layout"):
        people["hillfac"].save_layout("willow's extract", layout)  # a trust's facilitator
    people["fac"].save_layout("willow's extract", layout)  # the collaborative's
    people["willow"].save_layout("willow's extract", layout)
    with pytest.raises(AccessDenied):
        people["board"].layouts()
    assert people["oak"].layouts()["name"].tolist() == ["willow's extract"]


def test_layouts_from_the_command_line(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    (tmp_path / "bad.toml").write_text("[columns]\nward = 'x'\n")
    assert main(["--db", url, "layout", "add", "x", str(tmp_path / "bad.toml")]) == 1
    assert "bad.toml: columns: unknown column 'ward'" in capsys.readouterr().err
    (tmp_path / "m.json").write_text(Layout.parse(MHSDS_LAYOUT).to_json())
    assert main(["--db", url, "layout", "add", "m", str(tmp_path / "m.json")]) == 0
    capsys.readouterr()
    assert main(["--db", url, "layout", "show", "m"]) == 0
    assert json.loads(capsys.readouterr().out)["values"]["by"] == "MEASURE_ID"
    assert main(["--db", url, "import", str(tmp_path / "none.csv"), "--layout", "nope"]) == 1
    assert "there is no saved layout 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------------- the template
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_filled_in_template_imports_as_it_is(store, tmp_path, fmt):
    content = store.upload_template(fmt, period="2024-03")
    if fmt == "csv":
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    else:
        frame = pd.read_excel(
            io.BytesIO(content), sheet_name="data", dtype=str, engine="calamine"
        ).fillna("")
        notes = pd.read_excel(
            io.BytesIO(content), sheet_name="how to fill in", dtype=str, engine="calamine"
        )
        assert {"column", "measure", "team", "period spelling", "NHS ethnic category"} <= set(
            notes["about"]
        )
        assert "Mar-24" in set(notes["value"])
    assert list(frame.columns) == ["team", "measure", "period", "group", "numerator", "denominator"]
    teams = {"Willow Ward", "Oak Ward", '\'=HYPERLINK("x") Team', '=HYPERLINK("x") Team'}
    assert set(frame["team"]) <= teams and len(frame) == 3 * 3 * 7
    assert (frame["period"] == "2024-03").all() and (frame["numerator"] == "").all()
    filled = frame[frame["team"].isin(["Willow Ward", "Oak Ward"])].copy()
    filled["numerator"], filled["denominator"] = "1", "10"
    path = tmp_path / f"filled.{fmt}"
    if fmt == "csv":
        filled.to_csv(path, index=False)
    else:
        filled.to_excel(path, index=False, sheet_name="data")
    result = store.import_file(path)
    assert result.ok, result.problems[:3]
    assert len(store.observations()) == 2 * 3 * 7


def test_the_template_holds_only_the_teams_a_person_may_upload_for(people, tmp_path):
    content = people["willow"].upload_template("csv", period="2024-03")
    frame = pd.read_csv(io.BytesIO(content), dtype=str)
    assert set(frame["team"]) == {"Willow Ward"}
    with pytest.raises(AccessDenied):
        people["board"].upload_template("csv")


def test_the_command_line_writes_the_template(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    for suffix in ("csv", "xlsx"):
        path = tmp_path / f"template.{suffix}"
        assert main(["--db", url, "template", "--output", str(path), "--period", "2024-05"]) == 0
        assert path.stat().st_size > 100
    assert main(["--db", url, "template", "--output", str(tmp_path / "t.pdf")]) == 1
    assert "must end in .csv or .xlsx" in capsys.readouterr().err


# ---------------------------------------------------------------------- the Upload page
def test_the_upload_page_makes_previews_and_saves_a_layout(store):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    url = store.engine.url.render_as_string(False)
    import os

    os.environ["QI_DATABASE_URL"] = url
    try:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.switch_page("app_pages/upload.py").run()
        at.file_uploader[0].upload("mhsds.csv", MHSDS.encode(), "text/csv").run()
        assert "no column 'numerator', 'denominator'" in at.dataframe[0].value["message"][0]
        # the layout maker: pick the columns from the file's own lists
        at.selectbox(key="layout_by").set_value("MEASURE_ID").run()
        at.selectbox(key="layout_value_column").set_value("MEASURE_VALUE").run()
        at.multiselect(key="layout_num").set_value(["MHS96"]).run()
        at.multiselect(key="layout_den").set_value(["MHS24"]).run()
        at.selectbox(key="layout_col_measure").set_value("(not in the file)").run()
        at.text_input(key="layout_const_measure").set_value("restraint").run()
        at.selectbox(key="layout_filter").set_value("BREAKDOWN").run()
        at.multiselect(key="layout_filter_values").set_value(["Provider; Ethnicity"]).run()
        preview = at.dataframe[1].value
        assert preview[["team", "period", "group", "numerator", "denominator"]].values.tolist() == [
            ["Willow Ward", "2024-04", "Black", 3.0, 650.0],
            ["Willow Ward", "2024-04", "White", 2.0, 1900.0],
            ["Willow Ward", "2024-05", "Black", 1.0, 610.0],
        ]  # fmt: skip
        at.text_input(key="layout_name").set_value("mhsds").run()
        next(b for b in at.button if b.label == "Save layout").click().run()
        assert not at.exception
        assert any("Layout mhsds saved" in s.value for s in at.success)
        with Store.open(url) as again:
            assert again.layout("mhsds").constants == {"measure": "restraint"}
        # and then read with it
        at.run()
        at.selectbox(key="layout").set_value("mhsds").run()
        assert "3 rows ready to store" in at.success[0].value
    finally:
        del os.environ["QI_DATABASE_URL"]
