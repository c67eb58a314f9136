"""Hostile and unlucky files: each refused with one clear problem, the store unchanged.

The files are made here, in memory (``tests/hostile_files.py``): a workbook whose one
cell unpacks to 3 GiB is 3 MB of bytes. Their time and memory are measured by
``benchmarks/bench_hostile.py``, never asserted here.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import pytest

from qi.cli import main
from qi.store import Store, isolated, limits, messages, reading, xlsx
from qi.store.reading import read_table
from tests import hostile_files as hf
from tests.conftest import HEADER, assert_unchanged, snapshot

ROOT = Path(__file__).resolve().parents[1]
GOOD = HEADER + "Willow Ward,restraint,2024-03,Black,3,650\n"

# (case, file name, maker, words the one problem must hold)
HOSTILE = [
    ("one cell unpacks to 3 GiB", "cell-bomb.xlsx", lambda: hf.one_cell_bomb(3.0),
     "unpacks to 3,072.0 MB; the limit is 512.0 MB"),
    ("one cell bomb with lying sizes", "liar.xlsx", lambda: hf.one_cell_bomb(3.0, lie=True),
     "cannot be unpacked"),
    ("ten million rows packed in 12 MB", "rows-bomb.xlsx", lambda: hf.rows_bomb(10_000_000),
     "unpacks to 2,565.4 MB"),
    ("rows packed a thousand times", "dense.xlsx", lambda: hf.rows_bomb(1_500_000),
     "times its packed size; the limit is 200 times"),
    ("sixty thousand parts", "parts.xlsx", lambda: hf.many_parts(60_000),
     "parts; the limit is 10,000"),
    ("billion laughs", "laughs.xlsx", lambda: hf.dtd_workbook("laughs"),
     "document type declaration"),
    ("external entity", "xxe.xlsx", lambda: hf.dtd_workbook("xxe"), "document type declaration"),
    ("a row of 5,000 cells", "wide.xlsx", lambda: hf.wide_row_workbook(5_000),
     "the limit is 1,000 columns"),
    ("49 MB of tiny rows", "tiny.csv", lambda: hf.tiny_rows_csv(49),
     "more than 1,000,000 rows of data (reading stopped at row 1,000,002)"),
    ("two million bad rows", "bad.csv", lambda: hf.bad_rows_csv(2_000_000),
     "more than 1,000,000 rows of data"),
    ("49 MB of blank lines", "blank.csv", lambda: hf.blank_lines_csv(49),
     "more than 2,000,001 lines"),
    ("one cell of 40 million characters", "long.csv", lambda: hf.long_cell_csv(40 * 2**20),
     "more than 32,767 characters"),
    ("a row of 100,000 cells", "wide.csv", lambda: hf.wide_csv(100_000),
     "the limit is 1,000 columns"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "name", "make", "words"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_a_hostile_file_is_refused_with_one_problem_and_the_store_unchanged(
    store, case, name, make, words
):
    store.import_file(GOOD.encode(), "good.csv")
    before = snapshot(store)
    result = store.import_file(make(), name)
    assert result.upload_id is None
    assert len(result.problems) == 1, result.problems[:3]  # no row problems after a limit
    problem = result.problems[0]
    assert words in problem.message, problem.message
    assert problem.file == name
    assert_unchanged(store, before)


def test_every_limit_says_how_to_split_the_file():
    for _, name, make, _ in HOSTILE:
        if name in ("laughs.xlsx", "xxe.xlsx", "liar.xlsx"):
            continue  # not a limit: the file is not a workbook that can be read
        _, problems = read_table(make(), name)
        message = problems[0].message
        said = message.lower()
        assert any(w in said for w in ("split", "delete", "shorten", "save the sheet as csv")), said


def test_the_command_line_prints_one_line_and_exits_1_for_a_zip_bomb(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    bomb = tmp_path / "bomb.xlsx"
    bomb.write_bytes(hf.one_cell_bomb(3.0))
    assert main(["--db", url, "import", str(bomb)]) == 1
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and "unpacks to 3,072.0 MB" in out and not err
    with Store.open(url) as store:
        assert store.counts()["upload"] == 0


# ---------------------------------------------------------------------- at the limits
def test_a_file_of_exactly_the_row_limit_is_read_and_one_more_row_is_not(monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROWS", 100)
    teams = ["Willow Ward"]
    table, problems = read_table(hf.valid_csv(100, teams), "at.csv")
    assert not problems and len(table.data) == 100
    table, problems = read_table(hf.valid_csv(101, teams), "over.csv")
    assert table is None and "more than 100 rows" in problems[0].message
    for rows in (100, 101):
        content = hf.workbook([hf.header_row(), *hf.valid_rows(rows, teams)])
        table, problems = read_table(content, "at.xlsx")
        assert (
            (table is not None and len(table.data) == 100)
            if rows == 100
            else (table is None and "reading stopped at row 102" in problems[0].message)
        )


def test_the_cell_limit_counts_filled_cells(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CELLS", 600)
    table, _ = read_table(hf.valid_csv(99, ["Willow Ward"]), "ok.csv")  # 100 rows × 6
    assert table is not None
    table, problems = read_table(hf.valid_csv(100, ["Willow Ward"]), "over.csv")
    assert table is None and "more than 600 cells" in problems[0].message


def test_a_file_that_needs_more_memory_than_the_ceiling_is_refused():
    # In a fresh interpreter: memory is the process's resident memory, and a process
    # that has run other tests holds freed memory that reading may reuse unseen.
    script = textwrap.dedent(
        """
        from qi.store import limits
        from qi.store.reading import read_table
        from tests import hostile_files as hf

        limits.MAX_MEMORY, limits.REPORT_EVERY = 2**20, 1_000  # 1 MB, measured often
        content = hf.valid_csv(200_000, [f"Team {i}" for i in range(100)])
        table, problems = read_table(content, "heavy.csv")
        print(table is None)
        print(problems[0].message if problems else "")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    refused, message = done.stdout.splitlines()[:2]
    assert refused == "True"
    assert message.startswith("reading this file needs more than 1 MB of memory")


def test_a_workbook_cell_over_the_length_limit_is_refused_by_name():
    row = f'<row r="2"><c r="C2" t="inlineStr"><is><t>{"x" * 40_000}</t></is></c></row>'
    table, problems = read_table(hf.workbook([hf.header_row(), row.encode()]), "long.xlsx")
    assert table is None
    assert problems[0].row == 2 and "cell C2 has more than 32,767 characters" in problems[0].message


@pytest.mark.parametrize(
    ("method", "flags"), [(zipfile.ZIP_LZMA, 0), (zipfile.ZIP_BZIP2, 0), (8, 0x1)]
)
def test_a_workbook_packed_as_excel_never_packs_is_refused_unread(method, flags):
    sheet = hf.part("xl/worksheets/sheet1.xml", hf.SHEET_HEAD + hf.header_row() + hf.SHEET_TAIL)
    sheet.method = method
    content = hf.zip_bytes(hf._frame_parts(sheet))
    if flags:
        content = content.replace(
            b"PK\x01\x02\x14\x00\x14\x00\x00\x00", b"PK\x01\x02\x14\x00\x14\x00\x01\x00"
        )
    table, problems = read_table(content, "odd.xlsx")
    assert table is None and "packed or encrypted in a way Excel never uses" in problems[0].message


def test_a_damaged_workbook_is_refused_not_raised():
    good = hf.workbook([hf.header_row(), *hf.valid_rows(50, ["Willow Ward"])])
    for broken in (good[: len(good) // 2], good[:200], b"PK\x03\x04" + b"\x00" * 100):
        table, problems = read_table(broken, "broken.xlsx")
        assert (
            table is None and "not an Excel .xlsx workbook that can be read" in problems[0].message
        )


# ---------------------------------------------------------------------- the reader
def _openpyxl_rows(content: bytes) -> list[list]:
    from openpyxl import load_workbook

    with warnings.catch_warnings():  # a hand-made workbook has no styles part
        warnings.simplefilter("ignore", UserWarning)
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        rows = [
            [reading._cell(v) for v in r] for r in book.worksheets[0].iter_rows(values_only=True)
        ]
    finally:
        book.close()
    return _trimmed(rows)


def _trimmed(rows: list[list]) -> list[list]:
    out = []
    for r in rows:
        r = list(r)
        while r and r[-1] == "":
            r.pop()
        out.append(r)
    while out and not out[-1]:
        out.pop()
    return out


def _streamed_rows(content: bytes) -> list[list]:
    return _trimmed(list(xlsx.Sheet(content, "x.xlsx")))


def test_the_streaming_reader_reads_what_openpyxl_reads():
    import datetime as dt

    from openpyxl import Workbook
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    book = Workbook()
    sheet = book.active
    sheet.append(["team", "measure", "period", "group", "numerator", "denominator"])
    sheet.append(["Willow Ward", "restraint", dt.datetime(2024, 3, 1), "Black", 3, 650.0])
    sheet.append(["Oak & <Ward>", "detained", dt.date(2024, 4, 1), "White", 2.5, True])
    sheet["A5"] = "after a gap"
    sheet["H5"] = "far right"
    sheet["B6"] = dt.time(10, 30)
    sheet["C6"] = 1e20
    sheet["D6"] = "  spaced  "
    sheet["E6"] = dt.datetime(2024, 5, 6, 7, 8, 9)
    sheet["A7"] = CellRichText([TextBlock(InlineFont(b=True), "Bold"), " and plain"])
    sheet["B7"] = "=1+1"  # no cached value: empty, as openpyxl reads it
    sheet["C7"] = "Ω ünïcödé ✓"
    sheet["D7"] = -0.000125
    sheet["E7"] = 12345678901234
    book.create_sheet("second")["A1"] = "never read"
    buffer = io.BytesIO()
    book.save(buffer)
    content = buffer.getvalue()
    assert _streamed_rows(content) == _openpyxl_rows(content)


def test_the_reader_reads_hand_written_sheets_as_openpyxl_does():
    cases = [
        # cached formula results, an error, a formula's text, prefixed elements
        '<row r="1"><c r="A1"><f>1+1</f><v>2</v></c><c r="B1" t="e"><v>#N/A</v></c>'
        '<c r="C1" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="D1" t="b"><v>0</v></c></row>',
        # cells without r, a row without r, escaped text, character references
        '<row><c t="inlineStr"><is><t>a &amp; b &lt;c&gt; &#65;&#x42;</t></is></c><c><v>7</v></c>'
        '</row><row r="4"/><row><c r="C5" t="inlineStr"><is><r><t>run </t></r><r><t>two</t></r>'
        '<rPh sb="0" eb="1"><t>phonetic</t></rPh></is></c></row>',
        # attributes in another order, single quotes, spaces around =
        "<row r='2'><c t='inlineStr' r='B2'><is><t xml:space='preserve'> x </t></is></c>"
        '<c s="0" r="C2" t = "n"><v>1.50</v></c></row>',
    ]
    for body in cases:
        content = hf.workbook([body.encode()])
        assert _streamed_rows(content) == _openpyxl_rows(content), body
    prefixed = hf.zip_bytes(hf._frame_parts(hf.part(
        "xl/worksheets/sheet1.xml",
        f'<?xml version="1.0"?><x:worksheet xmlns:x="{hf.MAIN}"><x:sheetData><x:row r="1">'
        '<x:c r="A1" t="inlineStr"><x:is><x:t>prefixed</x:t></x:is></x:c><x:c r="B1"><x:v>3</x:v>'
        "</x:c></x:row></x:sheetData></x:worksheet>",
    )))  # fmt: skip
    assert _streamed_rows(prefixed) == _openpyxl_rows(prefixed) == [["prefixed", 3]]


def test_shared_strings_and_date_styles_are_read():
    rows, shared = hf.valid_rows_shared(20, ["Willow Ward"])
    content = hf.workbook_shared(rows, shared)
    assert _streamed_rows(content) == _openpyxl_rows(content)
    table, problems = read_table(content, "shared.xlsx")
    assert not problems and len(table.data) == 20
    assert table.data["period"].iloc[0] == "1990-01"


# ---------------------------------------------------------------------- invisible characters
def test_an_invisible_character_is_shown_in_the_problem(store):
    body = "Willow\u00adWard,restraint,2024-03,Black,1,100\n"  # a soft hyphen: not a space
    result = store.import_file((HEADER + body).encode(), "shy.csv")
    (problem,) = result.problems
    assert "unknown team 'Willow<U+00AD>Ward'" in problem.message
    assert "<U+00AD> is a soft hyphen" in problem.message
    assert "\u00ad" not in problem.message


def test_a_zero_width_space_inside_a_name_is_read_as_a_space_and_said(store):
    body = "Willow\u200bWard,restraint,2024-03,Black,1,100\n"
    result = store.import_file((HEADER + body).encode(), "zw.csv")
    assert result.ok, result.problems
    assert "'Willow<U+200B>Ward' as 'Willow Ward'" in "; ".join(result.notes)


@pytest.mark.parametrize(
    "team", ["Willow\u00a0Ward", "\ufeffWillow Ward", "Willow Ward\u200b", "Willow\u202fWard"]
)
def test_a_non_breaking_space_or_a_leading_mark_in_a_name_is_read_as_meant(store, team):
    body = f"{team},restraint,2024-03,Black,1,100\n"
    assert store.import_file((HEADER + body).encode(), "nbsp.csv").ok
    content = hf.workbook([hf.header_row(), *hf.valid_rows(1, [team])])
    result = store.import_file(content, "nbsp.xlsx")
    assert result.ok, result.problems
    assert set(store.observations()["team"]) == {"Willow Ward"}


def test_a_byte_order_mark_in_the_middle_of_joined_files_is_dropped(store):
    first = HEADER + "Willow Ward,restraint,2024-03,Black,1,100\n"
    second = "\ufeffWillow Ward,restraint,2024-04,Black,2,100\n"
    assert store.import_file((first + second).encode(), "joined.csv").ok


def test_a_control_character_in_a_file_name_is_shown_escaped(store):
    result = store.import_file(b"", "evil\x1b[2J.csv")
    assert result.problems[0].file == "evil<U+001B>[2J.csv"


# ---------------------------------------------------------------------- the worker
def test_the_worker_checks_as_the_store_does_and_reports_progress(store):
    if not isolated.separable(store):
        pytest.skip("an in-memory store is checked in this process")
    content = hf.bad_rows_csv(100_000)  # read in the worker past 16,384 rows
    seen = []
    clean, problems = isolated.validate(
        store, content, "big.csv", progress=lambda *a: seen.append(a)
    )
    here_clean, here_problems = store.validate(content, "big.csv")
    assert problems == here_problems
    assert len(clean) == len(here_clean) == 100_000
    assert len(seen) >= 2 and all(0 <= f <= 1 for f, _ in seen)
    assert seen[-1] == (1.0, 100_001) and seen[-1][1] > seen[0][1] > 0


def test_the_worker_refuses_a_hostile_file_as_the_store_does(store):
    bomb = hf.one_cell_bomb(3.0)
    _, problems = isolated.validate(store, bomb, "bomb.xlsx")
    assert problems == store.validate(bomb, "bomb.xlsx")[1]


def test_the_layout_maker_looks_at_the_top_of_a_file_only(monkeypatch):
    from qi.store.intake import SHAPE_LINES, file_shape

    monkeypatch.setattr(limits, "MAX_ROWS", 2 * SHAPE_LINES)  # the files below are over it
    teams = [f"Team {i}" for i in range(10)]
    count = 3 * SHAPE_LINES
    files = {
        "big.xlsx": hf.workbook([hf.header_row(), *hf.valid_rows(count, teams)]),
        "big.csv": hf.valid_csv(count, teams),
    }
    for name, content in files.items():
        assert "more than 10,000 rows" in read_table(content, name)[1][0].message
        shape = file_shape(content, name)
        assert shape is not None and shape.header_row == 1, name
        assert set(shape.columns) == set(hf.HEADER)
        assert "Team 0" in shape.values["team"]


def test_the_worker_finds_a_files_shape_as_this_process_does(store):
    from qi.store.intake import file_shape

    content = hf.workbook([hf.header_row(), *hf.valid_rows(50, ["Willow Ward", "Oak Ward"])])
    there = isolated.file_shape(store, content, "shape.xlsx", header_row=1)
    assert there == file_shape(content, "shape.xlsx", header_row=1)
    assert there.guessed and there.values["team"] == ("Willow Ward",)
    assert isolated.file_shape(store, hf.one_cell_bomb(3.0), "bomb.xlsx") is None


def test_a_worker_past_its_memory_ceiling_costs_the_worker_not_the_caller(store, monkeypatch):
    if not isolated.separable(store):
        pytest.skip("an in-memory store is checked in this process")
    store.import_file(GOOD.encode(), "good.csv")
    before = snapshot(store)
    monkeypatch.setattr(isolated, "WORKER_MEMORY", 32 * 2**20)  # too little for this file
    result = isolated.import_file(store, hf.bad_rows_csv(1_000_000), "big.csv", user="someone")
    (problem,) = result.problems
    assert problem.message.startswith(
        "this file could not be checked: it needed more than the 32 MB"
    ), problem.message
    assert_unchanged(store, before)
    monkeypatch.setattr(isolated, "WORKER_MEMORY", 2 * 2**30)
    again = HEADER + "Oak Ward,restraint,2024-03,Black,3,650\n"
    assert isolated.import_file(store, again.encode(), "again.csv", user="someone").ok


def test_the_worker_stores_an_upload_as_the_signed_in_person(empty_store):
    from qi.access import AccessDenied
    from tests.conftest import MEASURES, TEAMS

    empty_store.register_teams(TEAMS)
    empty_store.load_measures(MEASURES)
    empty_store.add_user("fac", password="a long password 1", role="facilitator",
                         scope="collaborative", name="Test Collaborative")  # fmt: skip
    signed = empty_store.sign_in("fac", "a long password 1")
    signed.add_user("viewer", password="a long password 2", role="board_viewer",
                    scope="collaborative", name="Test Collaborative")  # fmt: skip
    result = isolated.import_file(signed, GOOD.encode(), "good.csv", user="fac")
    assert result.ok and signed.uploads()["uploaded_by"].tolist() == ["fac"]
    viewer = empty_store.sign_in("viewer", "a long password 2")
    with pytest.raises(AccessDenied):
        isolated.import_file(viewer, GOOD.encode(), "again.csv", user="viewer")


def test_a_million_bad_rows_build_a_bounded_list_and_count_the_rest(store, monkeypatch):
    monkeypatch.setattr(limits, "MAX_PROBLEMS", 10_000)  # 30,000 rows stand for a million
    result = store.import_file(hf.bad_rows_csv(30_000), "bad.csv")
    assert 1 < len(result.problems) <= messages.LIMIT  # alike rows summarised (qi.store.messages)
    (counted,) = [p for p in result.problems if "more problems were found after" in p.message]
    assert counted.row is None
    found = int(counted.message.split(" more problems")[0].replace(",", ""))
    assert found + limits.MAX_PROBLEMS == 30_000 * 5  # team, measure, period, group, numerator...
    said = "; ".join(p.message for p in result.problems)
    assert "10,000 rows like this" in said  # the first check's rows, up to the bound


# ---------------------------------------------------------------------- the web app
def _page(db_url: str, page: str):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import APP

    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_a_hostile_upload_is_refused_and_another_session_is_still_answered(
    sample_copy, monkeypatch
):
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    with Store.open(sample_copy) as store:
        before = snapshot(store)
    uploader = _page(sample_copy, "app_pages/upload.py")
    uploader.file_uploader[0].upload("bomb.xlsx", hf.one_cell_bomb(3.0), hf.XLSX).run()
    assert not uploader.exception, uploader.exception
    assert "1 problem(s)" in uploader.error[0].value
    assert "unpacks to 3,072.0 MB" in uploader.dataframe[0].value["message"].iloc[0]
    # a worker past its memory ceiling: that worker ends, the server does not
    monkeypatch.setattr(isolated, "WORKER_MEMORY", 32 * 2**20)
    uploader.file_uploader[0].upload("heavy.csv", hf.bad_rows_csv(1_000_000), "text/csv").run()
    assert not uploader.exception, uploader.exception
    tables = [d.value for d in uploader.dataframe if "message" in d.value.columns]
    messages = " ".join(m for t in tables for m in t["message"])
    assert "could not be checked: it needed more than the 32 MB of memory" in messages
    reader = _page(sample_copy, "app_pages/board.py")  # another person's session
    assert len(reader.dataframe[0].value) >= 40
    with Store.open(sample_copy) as store:
        assert_unchanged(store, before)
