"""Page tests (Streamlit AppTest) on the bundled sample collaborative.

Each test gets its own copy of a store with the sample loaded (loaded once per
session), named by ``QI_DATABASE_URL`` as the dashboard reads it.
"""

from __future__ import annotations

import json
import re
from base64 import b64decode
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from qi.store import Store
from tests.conftest import pressed

APP = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
PAGES = sorted(
    p.relative_to(APP.parent).as_posix() for p in (APP.parent / "app_pages").glob("*.py")
)


@pytest.fixture
def db_url(sample_copy, monkeypatch) -> str:
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    return sample_copy


def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_data_from_the_sample(db_url, page):
    at = app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.title) == 1
    tables = [d.value for d in at.dataframe]
    assert any(len(t) for t in tables) or plotly_specs(at), f"{page} shows no table or chart"


def test_the_board_shows_every_series_with_icons_in_words(db_url):
    at = app()
    table = at.dataframe[0].value
    assert len(table) >= 40  # eight teams × their measures, group "All"
    assert set(table["group"]) == {"All"}
    assert table["variation_text"].notna().all()
    # every series with a chart has its icon; a rare event never seen has words instead
    charted = ~table["variation_text"].str.startswith("No events since")
    assert table.loc[charted, "variation_img"].str.startswith("data:image/svg+xml;base64,").all()
    # no icon: an empty picture (a blank cell, never "None")
    assert table.loc[~charted, "variation_img"].map(lambda u: "width=\"1\"" in b64decode(
        u.split(",", 1)[1]).decode()).all()
    group = next(s for s in at.selectbox if s.label == "Group")
    group.set_value("Black").run()
    assert set(at.dataframe[0].value["group"]) == {"Black"}
    assert at.query_params["group"] in ("Black", ["Black"])


def test_the_board_rolls_up_to_trusts(db_url):
    at = app()
    at.radio[0].set_value("trust").run()
    table = at.dataframe[0].value
    assert table["unit"].str.contains("Trust").all()


def test_a_link_with_filters_opens_the_same_board_view(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["group"] = "White"
    at.query_params["measure"] = "restraint_per_1000_obd"
    at.run()
    table = at.dataframe[0].value
    assert set(table["group"]) == {"White"} and len(table) >= 1
    assert set(table["measure_name"]) == {"Restraint incidents per 1,000 occupied bed days"}


def test_the_team_chart_draws_groups_cycles_and_labelled_lines(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(
        {"unit": "Willow Ward", "measure": "restraint_per_1000_obd", "rules": "mdc"}
    )
    at.switch_page("app_pages/team.py").run()
    assert not at.exception, at.exception
    # at first, the groups this reader can see (Black's and White's counts are mostly
    # small numbers: hidden from a reader who has not asked, one click away)
    (spec,) = plotly_specs(at)
    names = {t.get("name") for t in spec["data"]}
    assert "All" in names and not {"Black", "White"} & names
    groups = next(w for w in at.multiselect if w.label == "Groups")
    assert {"Black", "White"} <= set(groups.options)
    groups.set_value(["All", "Black", "White"]).run()
    (spec,) = plotly_specs(at)
    names = {t.get("name") for t in spec["data"]}
    assert {"Black", "White", "All"} <= names
    texts = [a.get("text", "") for a in spec["layout"]["annotations"]]
    assert any(t.startswith("Centre ") for t in texts)
    assert any("Special cause" in (t.get("name") or "") for t in spec["data"])
    # the change cycles: labelled on the chart, or numbered there with the key beneath
    marks = [a["text"] for a in spec["layout"]["annotations"] if a.get("name") == "mark"]
    assert marks
    if spec["layout"]["meta"]["numbered"]:
        (key,) = [d.value for d in at.dataframe if "Mark" in d.value.columns]
        assert key["Mark"].tolist() == marks and key["What"].str.startswith("PDSA ").any()
    else:
        assert any(t.startswith("PDSA ") for t in marks), marks
    # the chart's text alternative, beneath it
    (said,) = [c.value for c in at.caption if "Control chart of " in c.value]
    said = re.sub(r"\\(.)", r"\1", said)  # as shown: the Markdown escapes taken out
    # it opens with the chart in a sentence per group (qi.sentences), then describes it
    assert said.startswith("At Willow Ward, restraint incidents per 1,000 occupied bed days")
    assert "\n\nRestraint incidents per 1,000 occupied bed days — Willow Ward. " in said
    assert "All: latest " in said and "Black: " in said and "White: " in said


UPLOAD_HEADER = "team,measure,period,group,numerator,denominator\n"


def test_a_good_upload_is_checked_then_stored(db_url):
    at = app()
    at.switch_page("app_pages/upload.py").run()
    before = Store.open(db_url).counts()["upload"]
    good = UPLOAD_HEADER + "Willow Ward,restraint_per_1000_obd,2026-10,Black,1,120\n"
    at.file_uploader[0].upload("fix.csv", good.encode(), "text/csv").run()
    assert "1 rows ready to store" in at.success[0].value
    # the sample already holds Willow Ward's Black restraint for 2026-10: the page says
    # which stored value the file replaces, old → new, and asks before storing
    assert "replaces 1 stored value(s)" in at.warning[0].value
    table = at.dataframe[1].value
    assert table[["team", "period", "group", "new"]].values.tolist() == [
        ["Willow Ward", "2026-10", "Black", "1 / 120"]
    ]
    assert next(b for b in at.button if b.label.startswith("Store")).disabled  # not yet asked
    at.checkbox(key="confirm_replace").check().run()
    next(b for b in at.button if b.label.startswith("Store")).click().run()
    assert not at.exception
    assert any("stored as upload" in s.value and "replaced 1" in s.value for s in at.success)
    with Store.open(db_url) as store:
        assert store.counts()["upload"] == before + 1
    # the uploader has forgotten the file: nothing left to store twice
    assert not [b for b in at.button if b.label.startswith("Store")]
    assert not at.file_uploader[0].value


def test_a_rollback_asks_first_then_says_what_it_did(db_url):
    at = app()
    at.switch_page("app_pages/upload.py").run()
    with Store.open(db_url) as store:
        newest = int(store.uploads().iloc[0]["id"])
    next(b for b in at.button if b.label == "Roll back…").click().run()
    (asked,) = [w for w in at.warning if w.value.startswith("Roll back upload")]
    assert f"upload {newest}" in asked.value and "shown again" in asked.value
    with Store.open(db_url) as store:  # nothing withdrawn yet
        assert store.uploads().set_index("id").loc[newest, "rolled_back_at"] is None
    next(b for b in at.button if b.label == "Cancel").click().run()
    assert not [w for w in at.warning if w.value.startswith("Roll back upload")]
    next(b for b in at.button if b.label == "Roll back…").click().run()
    next(b for b in at.button if b.label.startswith("Yes, roll back")).click().run()
    assert not at.exception
    # (the message as shown: plain text, its full stop escaped for Markdown)
    assert any(s.value.startswith(f"Upload {newest} rolled back") for s in at.success)
    with Store.open(db_url) as store:
        assert store.uploads().set_index("id").loc[newest, "rolled_back_at"] is not None


def test_a_bad_upload_shows_every_problem_and_stores_nothing(db_url):
    at = app()
    at.switch_page("app_pages/upload.py").run()
    with Store.open(db_url) as store:
        before = store.counts()
    bad = UPLOAD_HEADER + "Nowhere Ward,restraint_per_1000_obd,2026-10,Black,-1,120\n"
    at.file_uploader[0].upload("bad.csv", bad.encode(), "text/csv").run()
    assert "2 problem(s)" in at.error[0].value
    problems = at.dataframe[0].value
    assert list(problems.columns) == ["file", "row", "column", "message"]
    assert set(problems["column"]) == {"team", "numerator"}
    assert not [b for b in at.button if b.label.startswith("Store")]
    with Store.open(db_url) as store:
        assert store.counts() == before


def test_the_workshop_what_if_makes_a_signal_appear(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"team": "Willow Ward", "measure": "restraint_per_1000_obd",
                            "group": "White", "rules": "anhoej"})  # fmt: skip
    at.switch_page("app_pages/workshop.py").run()
    assert not at.exception
    at.number_input[0].set_value(400.0).run()
    assert any("changed their signal" in w.value for w in at.warning)


def test_the_equality_page_charts_the_gap_and_suppresses_small_counts(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"unit": "Willow Ward", "measure": "restraint_per_1000_obd",
                            "reference": "White"})  # fmt: skip
    at.switch_page("app_pages/equality.py").run()
    assert not at.exception, at.exception
    specs = plotly_specs(at)
    assert len(specs) == 3  # the gap, recording completeness, the funnel
    gap_names = {t.get("name") for t in specs[0]["data"]}
    assert "Black" in gap_names and "White" not in gap_names
    latest = at.dataframe[0].value  # in words (the engine's names are in the download)
    assert set(latest.columns) >= {"Ratio to reference", "Ratio, lower 95%",
                                   "Ratio, upper 95%", "p value"}  # fmt: skip
    counts = at.dataframe[-1].value
    assert (counts == "*").any().any()  # small counts of the smaller groups are hidden
    shown = counts.replace("*", None).apply(pd.to_numeric, errors="coerce")
    assert not ((shown >= 1) & (shown <= 7)).any().any()


def test_the_board_shows_owners_overdue_work_and_improvements_at_risk(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["details"] = "1"  # the details beside the essential columns
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert (table["owner"] != "").sum() >= 20
    assert pd.to_numeric(table["actions_overdue"], errors="coerce").sum() >= 1
    assert (table["review_overdue"] == "overdue").any()
    next(t for t in at.toggle if t.label == "Only improvements at risk").set_value(True).run()
    risky = at.dataframe[0].value
    assert len(risky) >= 1 and set(risky["gains"]) == {"improvement at risk"}
    assert "Rowan Ward" in set(risky["unit"])


def test_actions_appear_on_the_chart_like_change_cycles(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"unit": "Rowan Ward", "measure": "rapid_tranq_per_1000_obd"})
    at.switch_page("app_pages/team.py").run()
    assert not at.exception, at.exception
    (spec,) = plotly_specs(at)
    texts = [a.get("text", "") for a in spec["layout"]["annotations"]]
    assert any(t.startswith("⚑ ") and "overdue" in t for t in texts), texts


def test_a_file_name_with_markdown_is_shown_as_typed(db_url):
    at = app()
    at.switch_page("app_pages/upload.py").run()
    name = "[click](https://example.org) **bold** <b>x</b>.csv"
    good = UPLOAD_HEADER + "Willow Ward,restraint_per_1000_obd,2026-10,Black,1,120\n"
    at.file_uploader[0].upload(name, good.encode(), "text/csv").run()
    shown = at.success[0].value
    # every markup character is escaped, so the page shows the name literally
    assert "\\[click\\]\\(https\\://example\\.org\\)" in shown
    assert "\\*\\*bold\\*\\*" in shown and "\\<b\\>" in shown


def test_pages_say_there_is_nothing_yet_when_everything_was_rolled_back(store, monkeypatch):
    from tests.conftest import HEADER

    body = HEADER + "Willow Ward,restraint,2024-03,Black,1,100\n"
    first = store.import_file(body.encode(), "a.csv")
    store.rollback(first.upload_id)
    url = store.engine.url.render_as_string(False)
    if not url.startswith("sqlite"):
        pytest.skip("the dashboard test needs only one backend")
    monkeypatch.setenv("QI_DATABASE_URL", url)
    for page in ("board", "team", "equality", "workshop"):
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert any("No data to show yet" in i.value for i in at.info), page


def test_the_team_chart_downloads_as_images_and_suppressed_data(db_url, downloads):
    import io

    from openpyxl import load_workbook

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"unit": "Willow Ward", "measure": "restraint_per_1000_obd"})
    at.query_params["group"] = ["All", "Black"]
    at.switch_page("app_pages/team.py").run()
    assert not at.exception, at.exception
    assert pressed(downloads, "Chart (SVG)").startswith(b"<svg")
    assert pressed(downloads, "Chart (PNG)").startswith(b"\x89PNG")
    csv = pressed(downloads, "Data (CSV)")
    table = pd.read_csv(io.BytesIO(csv), dtype=str, keep_default_na=False)
    assert {"period", "value", "signal", "signal_text", "variation_text", "suppressed"} <= set(
        table
    )
    assert set(table["group"]) >= {"All", "Black"}
    assert not pd.to_numeric(table["numerator"], errors="coerce").between(1, 7).any()
    assert (table["numerator"] == "*").any() and (table["signal"] != "").any()
    book = load_workbook(io.BytesIO(pressed(downloads, "Data (Excel)")))
    assert next(book.active.values)[0] == "unit"


def test_the_board_pack_page_counts_only_the_charts_the_pack_draws(db_url):
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["team"] = "Hawthorn Ward"  # no staff disciplinary case so far
    at.query_params["measure"] = ["staff_disciplinary", "felt_respected"]
    at.switch_page("app_pages/pack.py").run()
    assert not at.exception, at.exception
    assert [h.value for h in at.subheader] == ["In the pack: 1 chart"]
    (left,) = [c.value for c in at.caption if c.value.startswith("Left out")]
    assert "Hawthorn Ward — Staff entering a formal disciplinary process" in left.replace("\\", "")
    assert at.dataframe[0].value["Measure"].tolist() == ["Patients who felt respected"]


def test_the_board_pack_page_builds_the_pdf_with_the_commentary(db_url, downloads):
    import io

    from pypdf import PdfReader

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["team"] = "Willow Ward"
    at.query_params["measure"] = "restraint_per_1000_obd"
    at.switch_page("app_pages/pack.py").run()
    assert not at.exception, at.exception
    at.text_area[0].set_value("Good <b>progress</b>\n=1+1").run()
    assert at.dataframe[0].value["Team"].tolist() == ["Willow Ward"]
    assert "Download the board pack (PDF)" not in downloads  # nothing built yet
    (build,) = [b for b in at.button if b.label == "Build the board pack (PDF)"]
    build.click().run()
    assert not at.exception, at.exception
    # the progress bar ends full, saying what was built
    (bar,) = at.get("progress")
    assert bar.proto.value == 100 and "Done: 7 pages, 1 chart" in bar.proto.text
    reader = PdfReader(io.BytesIO(pressed(downloads, "Download the board pack (PDF)")))
    # cover, matrix, one chart, its equality page, completeness, commentary, appendix
    assert len(reader.pages) == 7
    assert "Good <b>progress</b>" in reader.pages[-2].extract_text()
    # the pack built stays offered across reruns, until a choice changes
    downloads.clear()
    at.run()
    assert "Download the board pack (PDF)" in downloads
    downloads.clear()
    at.text_area[0].set_value("Changed").run()
    assert "Download the board pack (PDF)" not in downloads
    assert any("build it again" in c.value for c in at.caption)
    matrix = pd.read_csv(io.BytesIO(pressed(downloads, "Summary matrix (CSV)")), dtype=str)
    assert matrix["variation_text"].notna().all()
