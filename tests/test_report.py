"""The board pack (qi.report, ``qi report``) and the data exports (qi.exports).

The pack is built once per module on the sample (two teams, a ward and a community
team: 10 charts) and read back with pypdf: its page count, the text of its pages and
its outline.
"""

from __future__ import annotations

import io
import math
import re
import types

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from qi import board, exports, report
from qi.cli import main
from qi.mdc import ICON_TEXT
from qi.series import series_frame
from qi.snapshot import Snapshot
from qi.store import Store

TEAMS = ["Willow Ward", "Westhaven Community Team"]
COMMENTARY = "<script>alert(1)</script><b>x</b>\nSecond line & more"


def words(text: str) -> str:
    """Text with every run of white space made one space (table cells wrap lines)."""
    return " ".join(text.split())


#: The running footer, which Chromium writes first on each page ("Page 2 of 23" and
#: the title with the instant the data was read).
FOOTER = re.compile(r"(Page \d+ of \d+)(.*? — data as shown at \S+) ")


def page_words(page) -> str:
    """A page's text as it reads: its body, then the running footer."""
    text = words(page.extract_text())
    footer = FOOTER.match(text)
    if footer is None:
        return text
    return f"{text[footer.end() :]} {footer.group(2).strip()} {footer.group(1)}"


@pytest.fixture(scope="module")
def pack(sample_db):
    with Store.open(f"sqlite:///{sample_db}") as store:
        doc = report.pack_document(store, teams=TEAMS, commentary=COMMENTARY, title="June board")
        # what the pack should print: the board's matrix of these teams (rare events as
        # the exposure between them), values hidden where the matrix download hides them
        snap = Snapshot.from_store(store, teams=TEAMS)
        expected = board.matrix(snap.series())
        shown = exports.matrix_data(expected)["value"]
        expected["value"] = expected["value"].astype(object).where(shown != "*", "*")
        uploads = store.observations(teams=TEAMS)
    reader = PdfReader(io.BytesIO(doc.pdf()))
    pages = [page_words(p) for p in reader.pages]
    return doc, reader, pages, expected[expected["group"] == "All"], uploads


def test_the_pack_has_the_pages_asked_for(pack):
    doc, reader, pages, matrix, _ = pack
    per_measure = matrix.groupby("measure")["unit"].nunique()
    # cover, matrix (one page of 10 rows), a page per chart, an equality page per
    # measure, completeness, commentary, the appendix (how the pack was made)
    assert len(matrix) == 10 and doc.charts == 10
    want = 1 + math.ceil(len(matrix) / report.MATRIX_ROWS) + 10 + len(per_measure) + 1 + 1 + 1
    assert want == 1 + 1 + 10 + 8 + 1 + 1 + 1
    assert want == report.expected_pages(len(matrix), 10, per_measure.tolist(), len(TEAMS))
    assert len(reader.pages) == doc.pages == want
    assert pages[0].startswith("June board")
    assert pages[1].startswith("Summary matrix")
    assert all(p.startswith("Equality: ") for p in pages[12:20])
    assert pages[-3].startswith("Data completeness")
    assert pages[-2].startswith("Commentary")
    assert pages[-1].startswith("Appendix: how this pack was made")
    top = [item.title for item in reader.outline if not isinstance(item, list)]
    assert top[:2] == ["June board", "Summary matrix"]
    assert top[-3:] == ["Data completeness", "Commentary", "Appendix: how this pack was made"]


def test_the_pdf_is_tagged_for_screen_readers(pack):
    import html

    doc, reader, *_ = pack
    root = reader.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and root["/Lang"] == "en"
    kinds, alts = set(), []

    def walk(node) -> None:
        node = node.get_object()
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            kinds.add(node.get("/S"))
            if "/Alt" in node:
                alts.append(str(node["/Alt"]))
            if "/K" in node:
                walk(node["/K"])

    walk(root["/StructTreeRoot"])
    assert {"/H1", "/H2", "/Table", "/TH", "/TD", "/Figure"} <= kinds
    # every image's text alternative (each chart's says what it shows) reaches the PDF
    written = [html.unescape(a) for a in re.findall(r'<img[^>]* alt="([^"]*)"', doc.html)]
    charts = [a for a in written if " chart" in a]
    assert len(charts) >= doc.charts
    assert sorted(alts) == sorted(written)


def test_every_measure_shows_its_name_latest_value_and_icon_text(pack):
    _, _, pages, matrix, _ = pack
    summary = pages[1]
    chart_pages = pages[2:12]
    for row in matrix.itertuples(index=False):
        value = report.format_value(row.value)
        assert row.measure_name in summary and value in summary
        # the chart page of this team × measure
        (page,) = [p for p in chart_pages if p.startswith(row.measure_name) and row.unit in p]
        assert f"Latest ({row.period:%b %Y}) {value}" in page
        assert row.variation_text in page
        if isinstance(row.assurance_text, str):
            assert row.assurance_text in page
    assert ICON_TEXT["common_cause"] in summary  # the sample's usual state


def test_each_chart_states_its_provenance(pack):
    doc, _, pages, _, uploads = pack
    as_of = doc.as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    for page in pages[2:12]:
        found = re.search(r"Provenance: data as shown at (\S+), from uploads ([\d, ]+);", page)
        assert found and found.group(1) == as_of
        ids = {int(u) for u in found.group(2).split(",")}
        name = next(n for n in TEAMS if n in page)
        measure = uploads.loc[uploads["team"] == name, "measure"]
        mine = uploads[(uploads["team"] == name)]
        # the uploads are those of one measure of this team
        assert any(
            ids == set(mine.loc[mine["measure"] == m, "upload_id"]) for m in measure.unique()
        )
        assert "rules: NHS Making Data Count" in page and "phases: one phase" in page


def test_the_cover_says_what_changed_and_the_appendix_how_the_pack_was_made(pack):
    doc, _, pages, matrix, uploads = pack
    cover, appendix = pages[0], pages[-1]
    assert cover.startswith("June board")
    assert f"What changed in {doc.period:%B %Y}" in cover
    # each series whose latest point is special cause, concern first; the rest counted
    kind = matrix["variation_icon"].astype(str).str.split("_").str[0]
    special = matrix[kind.isin(["concern", "improvement", "neutral"])]
    for r in special.itertuples(index=False):
        assert f"{r.measure_name} — {r.unit}: {r.variation_text}" in cover
    if special.empty:
        assert "No series shows special cause variation" in cover
    concern = [cover.index(f"{r.measure_name} — {r.unit}:") for r in special.itertuples()
               if r.variation_icon.startswith("concern")]  # fmt: skip
    better = [cover.index(f"{r.measure_name} — {r.unit}:") for r in special.itertuples()
              if r.variation_icon.startswith("improvement")]  # fmt: skip
    assert max(concern, default=-1) < min(better, default=len(cover))
    assert f"{(kind == 'common').sum()} common cause" in cover
    assert "qi report" not in cover  # the command moved to the appendix
    # the grid of icons: every team on the cover, each icon with its text alternative
    assert all(unit in cover for unit in matrix["unit"])
    assert "At a glance" in cover
    # the appendix: the instant read, who made it, the uploads read per team, the command
    assert appendix.startswith("Appendix: how this pack was made")
    assert f"Data as shown at {report._iso(doc.as_of)}" in appendix
    assert re.search(r"Pack made \S+Z by local user \(single-user local mode\)", appendix)
    read = uploads[uploads["period"] <= doc.period].groupby("team")["upload_id"]
    for team, ids in read:
        assert f"{team} {ids.nunique()} {ids.min()} to {ids.max()}" in appendix
    assert "To rebuild this pack qi report --output pack.pdf --period" in appendix
    assert "Chart rules NHS Making Data Count" in appendix


def test_each_chart_image_has_its_text_alternative(pack):
    doc, *_ = pack
    alts = re.findall(r'<img style="max-height:[^"]*" alt="([^"]*)"', doc.html)
    charts = [a for a in alts if re.search(r"\b(Control|Run) chart\b", a)]
    assert len(charts) == doc.charts
    assert all(re.search(r"latest \w{3} \d{4}|no value shown", a) for a in charts)
    assert sum("latest" in a for a in charts) >= doc.charts - 2
    # two teams: no funnel plot (it needs three); the odd pack's funnel has its own
    assert "Funnel plot of" not in doc.html


def test_the_build_reports_its_progress_to_the_end(sample_db):
    seen = []
    with Store.open(f"sqlite:///{sample_db}") as store:
        pdf = report.build_pack(
            store, teams=["Willow Ward"], measures=["restraint_per_1000_obd"],
            progress=lambda done, what: seen.append((done, what)),
        )  # fmt: skip
    done = [d for d, _ in seen]
    assert done == sorted(done) and 0 < done[0] < 0.2 and done[-1] == 1.0
    # read, the chart read, built and rendered, the funnel built and rendered,
    # completeness, then the PDF written
    what = [w for _, w in seen]
    assert what[0] == "Read the data" and what[-1] == "Done: 7 pages, 1 chart"
    assert what[-2] == "Writing the PDF (7 pages)"
    assert what[1:3] == ["Read chart 1: Willow Ward", "Built chart 1: Willow Ward"]
    assert "Rendered chart 1 of 1" in what and len(what) == 1 + 3 + 2 + 1 + 2
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 7


def test_a_second_pack_of_the_same_data_draws_no_chart_again(sample_db, monkeypatch):
    """The charts' images are kept by content (qi.images): the same pack again asks the
    browser for nothing and prints the same pages; another month draws its charts."""
    from qi import images

    browser = images._get()
    sent = []
    real = browser.submit
    monkeypatch.setattr(browser, "submit", lambda fig, opts: sent.append(1) or real(fig, opts))
    images.clear_cache()  # other tests may have drawn these charts
    teams, measures = ["Willow Ward", "Cedar Ward"], ["restraint_per_1000_obd"]
    with Store.open(f"sqlite:///{sample_db}") as store:
        data = Snapshot.from_store(store)
    first = report.pack_document(data, teams=teams, measures=measures)
    drawn = len(sent)
    again = report.pack_document(data, teams=teams, measures=measures)
    assert drawn == first.charts == 2  # no funnel: it needs three teams
    assert len(sent) == drawn
    # the same pages (but the instant each pack was made, on the cover and appendix)
    made = {"Cover", "Appendix"}
    assert [x.html for x in again.sections if x.title not in made] == [
        x.html for x in first.sections if x.title not in made
    ]
    earlier = report.pack_document(data, teams=teams, measures=measures, period="2026-06")
    assert len(sent) == drawn + earlier.charts


def test_commentary_with_markup_comes_out_as_plain_text(pack):
    doc, _, pages, _, _ = pack
    assert "<script>alert(1)</script><b>x</b> Second line & more" in pages[-2]
    assert "<script>" not in doc.html.replace("&lt;script&gt;", "")


def test_a_pack_for_an_earlier_month_as_the_store_was(sample_db):
    with Store.open(f"sqlite:///{sample_db}") as store:
        first = store.uploads()["uploaded_at"].min()
        doc = report.pack_document(
            store, teams=["Willow Ward"], measures=["restraint_per_1000_obd"], period="2025-06",
            as_of=pd.Timestamp(first) + pd.Timedelta(days=600), phases="changes",
        )  # fmt: skip
        with pytest.raises(ValueError, match="unknown teams: Nowhere"):
            report.pack_document(store, teams=["Nowhere"])
    assert doc.period == pd.Timestamp("2025-06-01")
    chart = next(s for s in doc.sections if s.title.endswith("Willow Ward"))
    assert "Latest (Jun 2025)" in chart.html
    assert "new phase from 2025-02, 2025-10" not in chart.html  # a cycle after June
    assert "new phase from 2025-02" in chart.html


def test_qi_report_writes_the_pack(sample_copy, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("Restraint is down on Willow Ward.\n=SUM(A1)", encoding="utf-8")
    out = tmp_path / "pack.pdf"
    code = main(["--db", sample_copy, "report", "--output", str(out), "--teams", "Willow Ward",
                 "--measures", "restraint_per_1000_obd", "detained_admissions",
                 "--commentary", str(notes), "--period", "2026-10"])  # fmt: skip
    assert code == 0
    assert "pages" in capsys.readouterr().out
    reader = PdfReader(out)
    # cover, matrix, 2 charts, 2 equality pages, completeness, commentary, appendix
    assert len(reader.pages) == 9
    assert "=SUM(A1)" in reader.pages[-2].extract_text()


# --------------------------------------------------------------------------- exports


def exported(frame: pd.DataFrame, tmp_path, suffix: str) -> pd.DataFrame:
    path = tmp_path / f"data.{suffix}"
    exports.write_table(frame, path)
    if suffix == "csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    sheet = load_workbook(path).active
    rows = list(sheet.values)
    types = {c.data_type for row in sheet.iter_rows() for c in row}
    assert "f" not in types  # no cell is a formula
    return pd.DataFrame(rows[1:], columns=rows[0], dtype=object).fillna("").astype(str)


def whole(v: str) -> str:
    return v if v == "*" else str(int(float(v)))


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_exports_neutralise_formulas_and_suppress_small_numbers(tmp_path, suffix):
    points = pd.DataFrame(
        {
            "unit": ['=HYPERLINK("http://x")'] * 4 + ["+Ward"] * 2,
            "measure": ["m"] * 6,
            "group": ["All", "Black", "White", "@Other", "All", "-Group"],
            "period": ["2026-10"] * 6,
            "numerator": [30.0, 3.0, 12.0, 15.0, 0.0, 0.0],
            "denominator": [300.0, 20.0, 100.0, 180.0, 5.0, 5.0],
            "value": [10.0, 15.0, 12.0, 8.33, 0.0, 0.0],
            "lower": [1.0, 2.0, 3.0, 4.0, 0.0, 0.0],
            "upper": [20.0, 30.0, 25.0, 15.0, 9.0, 9.0],
        }
    )
    table = exports.suppress_points(points, line=["unit", "measure", "period"])
    back = exported(table, tmp_path, suffix)
    if suffix == "csv":  # a leading apostrophe: shown as text, never run
        assert back["unit"].tolist() == ['\'=HYPERLINK("http://x")'] * 4 + ["'+Ward"] * 2
        assert back["group"].tolist()[3:] == ["'@Other", "All", "'-Group"]
    else:  # a string cell, as typed
        assert back["unit"].tolist() == ['=HYPERLINK("http://x")'] * 4 + ["+Ward"] * 2
        assert back["group"].tolist()[3:] == ["@Other", "All", "-Group"]
    # Black's 3 is small; the smallest other group's (White, 12) goes too, so that All
    # minus the rest does not give 3 back; their values go with them
    assert [whole(v) for v in back["numerator"]][:4] == ["30", "*", "*", "15"]
    assert back["value"].tolist()[1:3] == ["*", "*"]
    assert back["suppressed"].tolist()[:4] == ["", "small number", "secondary", ""]
    # a denominator of 5 is hidden, with the limits that would give it back; 0 is shown
    assert back["denominator"].tolist()[4:] == ["*", "*"]
    assert back["upper"].tolist()[4:] == ["*", "*"]
    assert [whole(v) for v in back["numerator"]][4:] == ["0", "0"]
    assert not pd.to_numeric(back["numerator"], errors="coerce").between(1, 7).any()


def test_chart_and_matrix_data_carry_signals_variation_and_assurance(sample_db):
    import qi
    from qi import mdc

    with Store.open(f"sqlite:///{sample_db}") as store:
        series = series_frame(store.observations(teams=["Willow Ward"]), store.measures())
    part = series[series["measure"] == "restraint_per_1000_obd"]
    result = qi.spc(
        part, x="period", y="numerator", n="denominator", by=["unit", "measure", "group"],
        chart="u", multiply=1000.0, rules="mdc", improvement="decrease",
    )  # fmt: skip
    data = exports.chart_data(result.points, part, improvement="decrease",
                              summary=mdc.summary(result), rules=result.rules)  # fmt: skip
    assert len(data) == len(result.points)
    assert {"signal", "signal_text", "variation_text", "assurance", "suppressed"} <= set(data)
    assert set(data["signal"]) <= {"", "improvement", "concern", "neutral"}
    assert (data.loc[data["signal"] != "", "signal_text"] != "").all()
    shown = pd.to_numeric(data["numerator"], errors="coerce")
    assert not shown.between(1, 7).any()
    assert (data.loc[shown.isna(), "value"] == "*").all()
    matrix = exports.matrix_data(board.matrix(series))
    assert not pd.to_numeric(matrix["numerator"], errors="coerce").between(1, 7).any()
    assert matrix["variation_text"].notna().all()


# --------------------------------------------------------------------------- browser


def test_a_browser_that_cannot_start_leaves_no_thread_behind(monkeypatch, tmp_path):
    import threading

    from qi import images

    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    before = set(threading.enumerate())  # the shared browser may be running
    for _ in range(2):  # the dashboard tries again at each download
        with pytest.raises(Exception, match="No browser found"):
            images._Browser(1)
    assert not [t for t in set(threading.enumerate()) - before if t.name == "qi-kaleido"]


# --------------------------------------------------------------------------- edge cases

HOSTILE_TEAM = '<b>Evil</b> & "=Ward"'
HOSTILE_TITLE = "Board </style><h1>Injected</h1><style>"


@pytest.fixture(scope="module")
def odd_store(sample_db, tmp_path_factory):
    """The sample, plus a team whose name is markup with one month of data (a chart of
    one point), a team with no data, and Willow Ward's last month re-sent with an All
    row beside its groups."""
    import shutil

    url = f"sqlite:///{shutil.copy(sample_db, tmp_path_factory.mktemp('odd') / 'odd.db')}"
    place = {"collaborative": "Advancing Equality Sample Collaborative", "ics": "Odd ICS",
             "trust": "Odd Trust"}  # fmt: skip
    with Store.open(url) as store:
        store.register_teams(pd.DataFrame([{**place, "team": HOSTILE_TEAM},
                                           {**place, "team": "Quiet Ward"}]))  # fmt: skip
        rows = pd.DataFrame(
            {
                "team": [HOSTILE_TEAM] * 2 + ["Willow Ward"] * 3,
                "measure": ["restraint_per_1000_obd"] * 5,
                "period": ["2026-10"] * 5,
                "group": ["Black", "White", "All", "Black", "White"],
                "numerator": [2, 5, 40, 10, 30],
                "denominator": [300, 400, 1000, 300, 700],
            }
        )
        for team, part in rows.groupby("team"):
            result = store.import_file(part.to_csv(index=False).encode(), f"{team}.csv")
            assert not result.problems
        store.import_pdsa(pd.DataFrame({
            "team": [HOSTILE_TEAM], "measure": ["restraint_per_1000_obd"], "group": ["Black"],
            "change_idea": ["<script>x()</script><u>idea</u>"], "cycle": [1], "stage": ["plan"],
            "start": ["2026-09-01"], "end": [""], "learning": ["<img src=x>"],
            "lived_experience": ["co-designed"],
        }))  # fmt: skip
    return url


@pytest.fixture(scope="module")
def odd_pack(odd_store):
    from unittest import mock

    funnels = []

    def funnel_figure(points, *args, **kwargs):
        funnels.append(points)
        return report_funnel_figure(points, *args, **kwargs)

    report_funnel_figure = report.funnel_figure
    teams = [HOSTILE_TEAM, "Quiet Ward", "Willow Ward", "Cedar Ward", "Rowan Ward"]
    with Store.open(odd_store) as store, mock.patch.object(report, "funnel_figure", funnel_figure):
        doc = report.pack_document(
            store, teams=teams, measures=["restraint_per_1000_obd"], title=HOSTILE_TITLE,
            as_of=pd.Timestamp.now(tz="UTC"),  # with microseconds
        )  # fmt: skip
    pages = [page_words(p) for p in PdfReader(io.BytesIO(doc.pdf())).pages]
    return doc, pages, funnels[0]


def test_a_title_cannot_break_out_of_the_style_sheet(odd_pack):
    doc, pages, _ = odd_pack
    assert "<h1>Injected</h1>" not in doc.html
    assert len(pages) == doc.pages  # no page of its own for the "heading"
    assert pages[0].startswith(HOSTILE_TITLE)
    assert all(words(HOSTILE_TITLE + " — data as shown at") in p for p in pages)


def test_typed_names_stay_text_and_odd_teams_do_not_break_the_pack(odd_pack):
    doc, pages, _ = odd_pack
    # cover, matrix, 4 charts (Quiet Ward has no data), equality, completeness,
    # commentary, appendix
    assert doc.charts == 4 and len(pages) == 10
    (chart,) = [p for p in pages[2:6] if p.startswith("Restraint") and HOSTILE_TEAM in p]
    # one point, (2 + 5) / 700 × 1000 = 10.0 from 7 events: hidden, as a file hides it
    assert "Latest (Oct 2026) * per 1,000" in chart and "10.0" not in chart
    assert "<script>x()</script><u>idea</u>" in chart and "<img src=x>" in chart
    assert "<b>Evil</b>" not in doc.html
    assert "<script>" not in doc.html and "<img src=x>" not in doc.html
    (funnel,) = re.findall(r'alt="([^"]*Funnel plot of[^"]*)"', doc.html)
    assert re.search(r"Funnel plot of [45] units; average [\d.]+ per 1,000", funnel), funnel
    completeness = pages[-3]
    assert "Quiet Ward 0 0 12 0 0 0 missing" in completeness


def test_the_funnel_counts_an_uploaded_all_row_once(odd_pack, odd_store):
    *_, funnel = odd_pack
    with Store.open(odd_store) as store:
        obs = store.observations(teams=["Willow Ward"], measures=["restraint_per_1000_obd"])
    months = obs[obs["period"] >= "2025-11-01"]
    before = months[months["period"] < "2026-10-01"]["denominator"].sum()
    willow = funnel.set_index("group").loc["Willow Ward"]
    assert willow["denominator"] == before + 1000  # October's All row, not All + groups
    assert willow["numerator"] == months[months["period"] < "2026-10-01"]["numerator"].sum() + 40


def test_the_appendix_command_rebuilds_the_same_pack(odd_pack, odd_store, tmp_path):
    import html
    import shlex

    doc, pages, _ = odd_pack
    code = re.search(r"<code>(.*?)</code>", doc.html).group(1)
    command = shlex.split(html.unescape(code))
    assert command[:2] == ["qi", "report"]
    assert "--reference" in command and command[command.index("--title") + 1] == HOSTILE_TITLE
    command[command.index("--output") + 1] = str(tmp_path / "again.pdf")
    assert main(["--db", odd_store, *command[1:]]) == 0
    again = [page_words(p) for p in PdfReader(tmp_path / "again.pdf").pages]
    assert len(again) == len(pages)
    # the same data, read at the same instant (to the microsecond): only when and by whom
    # it was made differ (on the cover, and in the appendix)
    made = re.compile(r"Pack made \S+ by .*? \(single-user local mode\)")
    assert made.search(pages[-1]) and made.search(again[-1])
    assert again[1:-1] == pages[1:-1]
    assert made.sub("", again[-1]) == made.sub("", pages[-1])
    assert doc.as_of.microsecond and report._iso(doc.as_of) in pages[2]


def test_the_pack_page_shows_and_exports_the_month_chosen(sample_copy, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    app = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
    at = AppTest.from_file(str(app), default_timeout=120)
    at.query_params.update({"team": "Willow Ward", "measure": "restraint_per_1000_obd"})
    at.switch_page("app_pages/pack.py").run()
    (month,) = [s for s in at.selectbox if s.label == "Month reported"]
    assert month.value == "2026-10"
    month.set_value("2025-06").run()
    assert not at.exception, at.exception
    (table,) = at.dataframe
    # the row of the pack's summary matrix for June 2025, not the latest month's
    assert table.value["Latest month"].tolist() == ["Jun 2025"]
    with Store.open(sample_copy) as store:
        obs = store.observations(teams=["Willow Ward"], measures=["restraint_per_1000_obd"])
    june = obs[obs["period"] == "2025-06-01"]
    rate = 1000 * june["numerator"].sum() / june["denominator"].sum()
    assert table.value["Latest value"].iloc[0] == f"{rate:,.1f}"
    # a table in words: Willow Ward's restraint has no target, and shows a blank
    assert table.value["Target"].iloc[0] == ""


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_exports_keep_negative_numbers_and_write_missing_values(tmp_path, suffix):
    frame = pd.DataFrame(
        {
            "=team": ["\t=cmd", "-Ward"],
            "change": [-2.5, 3.0],
            "count": pd.array([4, None], dtype="Int64"),
            "note": pd.array(["@x", None], dtype="str"),
        }
    )
    back = exported(frame, tmp_path, suffix)
    if suffix == "csv":
        assert back.columns.tolist()[0] == "'=team"
        assert back["'=team"].tolist() == ["'\t=cmd", "'-Ward"]
    else:
        assert back.columns.tolist()[0] == "=team"
        assert load_workbook(tmp_path / "data.xlsx").active["B2"].value == -2.5
    assert back["change"].astype(float).tolist() == [-2.5, 3.0]  # a number, not text
    assert back["count"].tolist() == ["4", ""]
    assert back["note"].iloc[1] == ""


def _plotly_points(trace: dict) -> list[float]:
    """A plotly trace's x or y, decoded when plotly sent it as a typed array."""
    import base64

    import numpy as np

    if isinstance(trace, dict) and "bdata" in trace:
        return np.frombuffer(base64.b64decode(trace["bdata"]), dtype=trace["dtype"]).tolist()
    return list(trace)


def test_the_equality_page_and_the_pack_draw_the_same_funnel(odd_pack, odd_store, tmp_path,
                                                             monkeypatch):  # fmt: skip
    """With an All row uploaded beside a team's group rows, the Equality page's funnel
    counts each team's people once, as the pack does: the same numerator, denominator
    and value for every team both show."""
    import html
    import json
    import shutil

    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    *_, pack_funnel = odd_pack
    url = f"sqlite:///{shutil.copy(odd_store.removeprefix('sqlite:///'), tmp_path / 'o.db')}"
    monkeypatch.setenv("QI_DATABASE_URL", url)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"unit": "Willow Ward", "measure": "restraint_per_1000_obd"})
    at.switch_page("app_pages/equality.py").run()
    assert not at.exception, at.exception
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    (spec,) = [s for s in specs if "(All)" in s["layout"]["title"]["text"]]
    page = {}
    for trace in spec["data"]:
        if trace.get("mode") != "markers":
            continue
        for text, x, y in zip(trace["hovertext"], _plotly_points(trace["x"]),
                              _plotly_points(trace["y"]), strict=True):  # fmt: skip
            page[html.unescape(text.split(": ")[0])] = (x, y)
    pack = pack_funnel.set_index("group")
    shared = set(page) & set(pack.index)
    assert {"Willow Ward", "Cedar Ward", "Rowan Ward"} <= shared
    for team in shared:
        assert page[team] == pytest.approx(
            (pack.loc[team, "denominator"], pack.loc[team, "value"]), rel=1e-12
        ), team


def test_every_chart_in_the_pack_has_its_limits(sample_db, monkeypatch):
    """The pack's charts (the All series alone, or with the groups the change ideas aim
    at) each draw an upper and a lower limit line per series, labelled with values."""
    drawn = []

    def submit(fig, *args, **kwargs):
        drawn.append(fig)
        from concurrent.futures import Future

        done: Future = Future()
        done.set_result(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
        return done

    monkeypatch.setattr(report.images, "submit", submit)
    monkeypatch.setattr(report.images, "start", lambda: None)
    with Store.open(f"sqlite:///{sample_db}") as store:
        doc = report.pack_document(store, teams=["Willow Ward", "Cedar Ward"],
                                   measures=["restraint_per_1000_obd"])  # fmt: skip
    charts = [f for f in drawn if f.layout.title.text and "—" in f.layout.title.text]
    assert len(charts) == doc.charts == 2
    for fig in charts:
        series = {t.name for t in fig.data if t.mode == "lines+markers"}
        labels = [a.text for a in fig.layout.annotations]
        assert sum("Upper limit" in t for t in labels) >= len(series) >= 1
        assert sum("Lower limit" in t for t in labels) >= len(series)


def test_the_preview_counts_the_charts_the_pack_draws(sample_db):
    from qi import screens

    # two teams without a staff disciplinary case: their series of it has nothing to chart
    teams = ["Hawthorn Ward", "Northvale Early Intervention in Psychosis Team"]
    with Store.open(f"sqlite:///{sample_db}") as store:
        snap = Snapshot.from_store(store, teams=teams)
        preview = screens.pack_preview(snap, teams=teams, measures=snap.measure_ids(),
                                       month="2026-10")  # fmt: skip
        doc = report.pack_document(store, teams=teams, period="2026-10")
    uncharted = preview.loc[~preview["charted"], ["unit", "measure"]]
    assert sorted(map(tuple, uncharted.to_numpy())) == [(t, "staff_disciplinary") for t in teams]
    assert preview["variation_text"][~preview["charted"]].str.contains("nothing to chart").all()
    assert doc.charts == preview["charted"].sum() == len(preview) - 2
    # the pack leaves them out of its summary matrix too
    matrix = next(s.html for s in doc.sections if s.title.startswith("Summary matrix"))
    assert matrix.count("<tr>") == 1 + doc.charts and "Staff entering" not in matrix


def test_the_pack_page_loads_nothing_whatever_its_html_holds(tmp_path):
    """Defence in depth behind the escaping: were markup to reach the pack's HTML, the
    browser printing it would fetch nothing, neither a local file nor a web address."""
    import http.server
    import threading

    secret = tmp_path / "secret.txt"
    secret.write_text("the contents of a local file")
    asked = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # the standard library names it
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"fetched")

        def log_message(self, *args):
            pass

    # a thread per connection: Chromium may open one ahead (a preconnect) and send nothing
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        hostile = (
            f'<p>before</p><iframe src="{secret.as_uri()}"></iframe>'
            f'<iframe src="{url}/frame"></iframe><img src="{url}/image.png">'
            f'<link rel="stylesheet" href="{url}/style.css"><p>after</p>'
        )
        doc = report.PackDocument(
            title="Pack", sections=[report.Section("Hostile", 1, hostile)], charts=0,
            period=pd.Timestamp("2026-10-01"), as_of=pd.Timestamp("2026-11-20", tz="UTC"),
            css=report._css("Pack", pd.Timestamp("2026-11-20", tz="UTC")),
        )  # fmt: skip
        text = page_words(PdfReader(io.BytesIO(doc.pdf())).pages[0])
    finally:
        server.shutdown()
        server.server_close()
    assert "before" in text and "after" in text
    assert "contents of a local file" not in text and "fetched" not in text
    assert asked == []


def _teams_context(tmp_path, names, groups):
    """A pack's context over a store of these teams' detentions by these groups, 13
    months, and its last month and data."""
    from tests.conftest import MEASURES

    months = pd.period_range("2025-10", periods=13, freq="M").astype(str)
    with Store.open(f"sqlite:///{tmp_path / 'many.db'}") as store:
        store.register_teams(pd.DataFrame({"collaborative": "Many", "ics": "ICS",
                                           "trust": "Trust", "team": names}))  # fmt: skip
        store.load_measures(MEASURES)
        grid = pd.MultiIndex.from_product([names, months, groups],
                                          names=["team", "period", "group"])  # fmt: skip
        rows = grid.to_frame(index=False).assign(measure="detained")
        rows["denominator"] = 40 + (rows.index % 37)
        rows["numerator"] = rows["denominator"] // (2 + rows.index % 3)
        result = store.import_file(rows.to_csv(index=False).encode(), "many.csv")
        assert result.ok, result.problems
        data = Snapshot.from_store(store)
    month = pd.Timestamp(months[-1])
    ctx = report._Context(data, data.measures.set_index("id"), month, "mdc", "none", None,
                          "White")  # fmt: skip
    return ctx, month, data


def test_a_pack_of_many_teams_prints_the_pages_it_plans(tmp_path):
    """The parts that grow with the teams (the equality pages with the funnel plot's key,
    the appendix's uploads and rebuild command), printed: each section is the pages it
    was planned as, each page starting with its own heading (no key or table spilling
    onto a page of its own)."""
    n = 60
    names = [f"Westhaven Community Mental Health Team {i:02d}" for i in range(n)]
    ctx, month, data = _teams_context(tmp_path, names, ["Black", "White"])
    equality = ctx.equality("detained")
    assert len(equality.key) == n  # a crowded funnel numbers every team
    columns = report.key_columns(names)
    assert columns == 3  # names of 41 characters: three columns of the key
    sections = [
        *equality.sections(),
        *report._appendix("Many", ctx, names, ["detained"], "", "me", data.as_of),
    ]
    doc = report.PackDocument(title="Many", sections=sections, charts=0, period=month,
                              as_of=data.as_of, css=report._css("Many", data.as_of))  # fmt: skip
    pages = [page_words(p) for p in PdfReader(io.BytesIO(doc.pdf())).pages]
    # 6 pages of gaps, the funnel and its key (36 teams under it, 24 on the next page),
    # the appendix, its uploads (25 teams a page) and the rebuild command
    planned = [(s.title, s.pages) for s in sections]
    assert [p for _, p in planned] == [1] * 13
    assert len(pages) == doc.pages == 13
    # (the cover, matrix, completeness and commentary are not printed here)
    others = 1 + 1 + math.ceil(n / report.COMPLETENESS_ROWS) + 1
    assert doc.pages == report.expected_pages(0, 0, [n], n, key_columns=columns) - others
    heads = [
        *(f"Equality: Detained under the MHA ({i} of 6)" for i in range(1, 7)),
        "Equality: Detained under the MHA, funnel plot (1 of 2)",
        "Equality: Detained under the MHA, funnel plot (2 of 2) Teams (continued)",
        "Appendix: how this pack was made",
        *(f"Appendix: uploads read ({i} of 3) Team Uploads read" for i in range(1, 4)),
        "Appendix: the command that rebuilds this pack qi report",
    ]
    assert [p[: len(h)] for p, h in zip(pages, heads, strict=True)] == heads
    # every team once in the key, and once in the uploads read, each on one line
    key = " ".join(pages[6:8])
    assert all(f"{i + 1} {name}" in key for i, name in enumerate(names))
    uploads = " ".join(pages[9:12])
    assert all(f"{name} 1 1 to 1" in uploads for name in names)
    assert "Teams (60) each listed with its uploads" in pages[8]
    # ten of them: the uploads table on the appendix's first page, which holds it
    few = report._appendix("Many", ctx, names[:10], ["detained"], "", "me", data.as_of)
    small = report.PackDocument(title="Many", sections=few, charts=0, period=month,
                                as_of=data.as_of, css=doc.css)  # fmt: skip
    assert len(PdfReader(io.BytesIO(small.pdf())).pages) == small.pages == 1
    # the command on the last page names every team (broken across lines anywhere)
    import html
    import shlex

    command = shlex.split(html.unescape(re.search(r"<code>(.*?)</code>", sections[-1].html)[1]))
    assert command[command.index("--teams") + 1 : command.index("--measures")] == names
    assert "".join(pages[12].split()).count("'WesthavenCommunityMentalHealthTeam") == n


def test_a_funnel_plot_stays_under_the_gap_table_only_while_it_fits(tmp_path):
    """Twelve teams of long names and six groups: the first gap table's names wrap, so
    the plot and its key, which would fit under a table of short names, go to a page of
    their own; short names keep them under it. Either way the pack prints as planned."""
    groups = ["Asian", "Black", "Mixed", "White", "Other", "Not stated"]
    for stem, beside in [("Westhaven Community Mental Health Team", False), ("Team", True)]:
        names = [f"{stem} {i:02d}" for i in range(12)]
        (tmp_path / stem[:4]).mkdir()
        ctx, month, data = _teams_context(tmp_path / stem[:4], names, groups)
        sections = ctx.equality("detained").sections()
        doc = report.PackDocument(title="T", sections=sections, charts=0, period=month,
                                  as_of=data.as_of, css=report._css("T", data.as_of))  # fmt: skip
        pages = [page_words(p) for p in PdfReader(io.BytesIO(doc.pdf())).pages]
        heads = ["Equality: Detained under the MHA (1 of 2)",
                 "Equality: Detained under the MHA (2 of 2)"]  # fmt: skip
        if not beside:
            heads.append("Equality: Detained under the MHA, funnel plot")
        assert len(pages) == doc.pages == len(heads), stem
        assert [p[: len(h)] for p, h in zip(pages, heads, strict=True)] == heads
        # the key lists every team, on the page with the plot
        funnel = pages[0] if beside else pages[-1]
        assert all(f"{i + 1} {name}" in funnel for i, name in enumerate(names)), stem


def test_a_matrix_of_long_names_prints_ten_rows_a_page():
    """Long measure and team names and the longest icon texts: each row stays within
    its share of the page (icon and words side by side, columns of fixed widths), so
    the matrix prints the pages it plans, ten rows each."""
    n = 25
    matrix = pd.DataFrame({
        "measure_name": "Admissions detained under the Mental Health Act per 1,000 admissions "
                        "(all ages)",
        "unit": [f"Northvale and Eastbrook Partnership Community Mental Health Team West {i:02d}"
                 for i in range(n)],
        "period": pd.Timestamp("2026-10-01"), "value": 12.345, "target": 50.0,
        "variation_icon": "concern_high", "variation_text": ICON_TEXT["concern_high"],
        "assurance_icon": "assurance_fail", "assurance_text": ICON_TEXT["assurance_fail"],
    })  # fmt: skip
    at = pd.Timestamp("2026-12-04", tz="UTC")
    sections = report._matrix_sections(matrix)
    doc = report.PackDocument(title="Matrix", sections=sections, charts=0, period=at, as_of=at,
                              css=report._css("Matrix", at))  # fmt: skip
    pages = [page_words(p) for p in PdfReader(io.BytesIO(doc.pdf())).pages]
    assert len(pages) == doc.pages == 3
    for i, page in enumerate(pages):
        assert page.startswith(f"Summary matrix ({i + 1} of 3)")
        shown = [f"West {j:02d}" for j in range(i * 10, min(n, i * 10 + 10))]
        assert all(team in page for team in shown)


def test_the_uploads_read_name_a_team_whose_every_upload_was_rolled_back():
    at = pd.Timestamp("2026-10-02 09:00")
    slices = pd.DataFrame({
        "team": ["Ash", "Ash", "Elm", "Elm"], "measure": ["m"] * 4,
        "period": ["2026-09-01", "2026-09-01", "2026-09-01", "2026-10-01"],
        "upload_id": [1, 2, 3, 3], "uploaded_at": [at] * 4,
        "rolled_back_at": [None, at, at, at], "uploaded_by": ["ana"] * 4,
    })  # fmt: skip
    data = types.SimpleNamespace(upload_slices=slices)
    read = report.uploads_read(data, ["Ash", "Elm"], ["m"], pd.Timestamp("2026-10-01"))
    assert read.set_index("team")[["uploads", "rolled_back"]].to_dict("index") == {
        "Ash": {"uploads": 1, "rolled_back": 1},
        "Elm": {"uploads": 0, "rolled_back": 1},  # was left out: "rolled back" blank
    }
    table = report._uploads_table(read)
    assert "<tr><td>Elm</td><td>0</td><td>–</td><td>–</td><td>1</td></tr>" in table


def test_many_groups_are_compared_in_tables_that_hold_their_numbers():
    """Eight groups beside the reference (deprivation deciles, say): the gaps in two
    tables of at most five groups (one table of eight drew each cell over the next),
    five teams a page, each page printed as planned; every number clear of its
    neighbours."""
    names = [f"Team {i:02d}" for i in range(12)]
    groups = [f"IMD decile {d}" for d in range(2, 10)]
    gaps = pd.DataFrame([{"unit": t, "group": g, "ratio": 1.23, "ratio_lower": 0.98,
                          "ratio_upper": 1.45} for t in names for g in groups])  # fmt: skip
    month, at = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-12-05", tz="UTC")
    equality = report._Equality("Detained", names, groups, "IMD decile 1", gaps, True, month,
                                None)  # fmt: skip
    sections = equality.sections()
    doc = report.PackDocument(title="Groups", sections=sections, charts=0, period=month,
                              as_of=at, css=report._css("Groups", at))  # fmt: skip
    reader = PdfReader(io.BytesIO(doc.pdf()))
    assert len(reader.pages) == doc.pages == len(sections) == 3  # 5, 5 and 2 teams
    without = report.expected_pages(0, 0, [], 12)  # (to count the equality pages alone)
    assert report.expected_pages(0, 0, [12], 12, compared_groups=8) - without == 3
    for page, teams in zip(sections, (names[:5], names[5:10], names[10:]), strict=True):
        tables = re.findall(r'<table class="grid gaps">.*?</table>', page.html)
        heads = [re.findall(r'<th class="num">(.*?)</th>', t) for t in tables]
        assert heads == [groups[:5], groups[5:]]
        assert all(re.findall(r"<tr><td>(.*?)</td>", t) == teams for t in tables)
    # each number's start, line by line: neighbours at least a cell's width apart
    for page, teams in zip(reader.pages, (5, 5, 2), strict=True):
        starts: dict[int, list[float]] = {}

        def seen(text, cm, tm, font, size, starts=starts):
            if re.fullmatch(r"\d\.\d\d \(\d\.\d\d–\d\.\d\d\)", text.strip()):
                y = round(tm[5] * cm[3] + cm[5])
                starts.setdefault(y, []).append(tm[4] * cm[0] + cm[4])

        page.extract_text(visitor_text=seen)
        assert sum(len(xs) for xs in starts.values()) == teams * 8
        for xs in starts.values():
            assert min(np.diff(sorted(xs)), default=99) > 80  # the text: about 75 pt


def _appendix_of(names, measure_names, by="someone@example.org"):
    """The appendix of a pack of these teams (one upload each) and measures, planned and
    printed: (its sections, the pages printed)."""
    ids = [f"measure_{i:02d}" for i in range(len(measure_names))]
    at = pd.Timestamp("2026-12-05", tz="UTC")
    slices = pd.DataFrame({"team": names, "measure": ids[0], "period": pd.Timestamp("2026-10-01"),
                           "upload_id": range(1, len(names) + 1),
                           "uploaded_at": pd.Timestamp("2026-11-01"), "rolled_back_at": pd.NaT,
                           "uploaded_by": by})  # fmt: skip
    ctx = types.SimpleNamespace(
        catalogue=pd.DataFrame({"name": measure_names}, index=ids),
        month=pd.Timestamp("2026-10-01"), rules="mdc", phases="none",
        data=types.SimpleNamespace(upload_slices=slices, as_of=at),
        groups=None, reference="White", collaborative=lambda: "Collaborative",
    )  # fmt: skip
    sections = report._appendix("Pack", ctx, names, ids, "", "me", at)
    doc = report.PackDocument(title="Pack", sections=sections, charts=0, period=at, as_of=at,
                              css=report._css("Pack", at))  # fmt: skip
    return sections, [page_words(p) for p in PdfReader(io.BytesIO(doc.pdf())).pages]


@pytest.mark.parametrize(
    ("teams", "name_chars", "measures", "measure_chars", "planned"),
    [
        (10, 188, 1, 20, [1, 1, 1, 1]),  # names at the store's limit wrap in their column
        (10, 41, 16, 70, [1, 1, 1]),  # sixteen long measure names push the uploads on
        (5, 41, 16, 70, [1]),  # with five teams they still fit
        (150, 41, 1, 20, [1] * 7 + [1]),  # a command of 6,600 characters is one page
        (200, 41, 1, 20, [1] * 9 + [2]),  # and one of 8,800 two
    ],
)
def test_the_appendix_prints_as_planned_whatever_the_names(
    teams, name_chars, measures, measure_chars, planned
):
    """Long team names wrap in the uploads table instead of pushing its other columns
    off the page; the measures' names count in the first page's plan; the rebuild
    command's pages are counted on its text, not its escaped markup."""
    names = [(f"Team {i:03d} " + "Westhaven Community " * 12)[:name_chars] for i in range(teams)]
    measure_names = [(f"Measure {i:02d} " + "of the wards " * 8)[:measure_chars]
                     for i in range(measures)]  # fmt: skip
    sections, pages = _appendix_of(names, measure_names)
    assert [s.pages for s in sections] == planned
    assert len(pages) == sum(planned)
    assert pages[0].startswith("Appendix: how this pack was made")
    # every team's upload is listed whole: its name, its latest upload and who made it
    text = "".join("".join(p.split()) for p in pages)
    assert text.count("01Nov202600:00,someone@example.org") == teams
    assert all("".join(name.split()) in text for name in names)
