"""Versions end to end: upload, correction, rollback, as-of reads, export, migrations,
and two imports at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, inspect

from qi.access import AccessDenied
from qi.cli import main
from qi.store import Store, StoreError, load, schema
from qi.store.core import as_utc
from tests.conftest import HEADER


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


MARCH = _csv(
    "Willow Ward,restraint,2024-03,Black,3,650",
    "Willow Ward,restraint,2024-03,White,2,900",
)
APRIL = _csv(
    "Willow Ward,restraint,2024-04,Black,4,640",
    "Willow Ward,restraint,2024-04,White,1,910",
)
MARCH_CORRECTED = _csv("Willow Ward,restraint,2024-03,Black,5,655")


def _shown(store: Store, **kw) -> dict[tuple[str, str], float]:
    data = store.observations(**kw)
    return {
        (p.strftime("%Y-%m"), g): n
        for p, g, n in zip(data.period, data.group, data.numerator, strict=True)
    }


def test_a_correction_replaces_the_rows_it_holds_and_keeps_the_earlier_version(store):
    first = store.import_file(MARCH, "march.csv", user="ward manager")
    store.import_file(APRIL, "april.csv")
    t_before_fix = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    fix = store.import_file(MARCH_CORRECTED, "march-fixed.csv", user="analyst")
    assert fix.replaced == 1
    # the correction replaces exactly its one row: White of March is still shown
    assert _shown(store) == {
        ("2024-03", "Black"): 5, ("2024-03", "White"): 2,
        ("2024-04", "Black"): 4, ("2024-04", "White"): 1,
    }  # fmt: skip
    # ...but the earlier version is kept, and is what was shown before the fix
    assert _shown(store, as_of=t_before_fix) == {
        ("2024-03", "Black"): 3, ("2024-03", "White"): 2,
        ("2024-04", "Black"): 4, ("2024-04", "White"): 1,
    }  # fmt: skip
    assert store.counts()["observation"] == 5
    history = store.uploads()
    assert list(history["id"]) == [fix.upload_id, 2, first.upload_id]
    assert history.set_index("id").loc[first.upload_id, "uploaded_by"] == "ward manager"


def test_rollback_shows_again_what_an_upload_replaced(store):
    store.import_file(MARCH, "march.csv")
    fix = store.import_file(MARCH_CORRECTED, "march-fixed.csv")
    t_fixed = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    assert store.rollback(fix.upload_id, user="facilitator") == 1  # one value shown again
    assert _shown(store) == {("2024-03", "Black"): 3, ("2024-03", "White"): 2}
    assert _shown(store, as_of=t_fixed) == {("2024-03", "Black"): 5, ("2024-03", "White"): 2}
    uploads = store.uploads().set_index("id")
    assert uploads.loc[fix.upload_id, "rolled_back_by"] == "facilitator"
    log = store.audit_log()
    assert list(log["action"].tail(1)) == ["rollback"]
    with pytest.raises(StoreError, match="already rolled back"):
        store.rollback(fix.upload_id)
    with pytest.raises(StoreError, match="there is no upload 99"):
        store.rollback(99)
    # after a rollback the same file may be uploaded again
    assert store.import_file(MARCH_CORRECTED, "march-fixed.csv").ok


def test_what_the_board_saw_on_a_date(store):
    store.import_file(MARCH, "march.csv", uploaded_at="2024-04-10T09:00:00")
    store.import_file(APRIL, "april.csv", uploaded_at="2024-05-12T09:00:00")
    store.import_file(MARCH_CORRECTED, "fix.csv", uploaded_at="2024-05-20T15:30:00")
    assert _shown(store, as_of="2024-04-09") == {}
    assert _shown(store, as_of="2024-04-30") == {("2024-03", "Black"): 3, ("2024-03", "White"): 2}
    assert _shown(store, as_of="2024-05-20T15:29:59")[("2024-03", "Black")] == 3
    assert _shown(store, as_of="2024-05-20T15:30:00")[("2024-03", "Black")] == 5
    # an aware instant is converted to UTC: 16:29 in London summer time is 15:29 UTC
    assert (
        _shown(store, as_of=pd.Timestamp("2024-05-20T16:29:59", tz="Europe/London"))[
            ("2024-03", "Black")
        ]
        == 3
    )


def test_load_returns_a_tidy_frame_ready_for_spc(store):
    import qi

    store.import_file(MARCH, "march.csv")
    store.import_file(APRIL, "april.csv")
    store.import_file(_csv("Oak Ward,detained,2024-03,N,2,9"), "oak.csv")
    data = load(store=store, measures=["restraint"], groups=["Black"], periods=("2024-04", None))
    assert list(data.columns) == [
        "collaborative", "ics", "trust", "team", "measure", "period", "group", "broad_group",
        "numerator", "denominator", "upload_id",
    ]  # fmt: skip
    assert data[["team", "period", "numerator"]].values.tolist() == [
        ["Willow Ward", pd.Timestamp("2024-04-01"), 4.0]
    ]
    # broad groups match detailed categories
    assert load(store=store, groups=["Black"], teams=["Oak Ward"])["group"].tolist() == [
        "Black or Black British - African"
    ]
    every = load(store=store, measures=["restraint"])
    result = qi.spc(every, x="period", y="numerator", n="denominator", chart="u",
                    multiply=1000, by=["team", "group"])  # fmt: skip
    assert set(result.summary["group"]) == {"Black", "White"}


def test_load_reads_the_url_in_the_environment(store_url, monkeypatch):
    with Store.open(store_url) as store:
        from tests.conftest import MEASURES, TEAMS

        store.register_teams(TEAMS)
        store.load_measures(MEASURES)
        store.import_file(MARCH, "march.csv")
    monkeypatch.setenv("QI_DATABASE_URL", store_url)
    assert len(load()) == 2
    import qi

    assert len(qi.load(measures=["restraint"], groups=["Black"])) == 1


def test_export_now_and_as_of_with_formula_cells_neutralised(store, tmp_path):
    evil_team = '=HYPERLINK("x") Team'
    store.import_file(MARCH, "march.csv", uploaded_at="2024-04-10T09:00:00")
    store.import_file(
        _csv(f'"{evil_team.replace(chr(34), chr(34) * 2)}",detained,2024-03,Black,1,4'),
        "evil.csv", uploaded_at="2024-04-11T09:00:00",
    )  # fmt: skip
    store.import_file(MARCH_CORRECTED, "fix.csv", uploaded_at="2024-05-20T15:30:00")
    url = store.engine.url.render_as_string(False)

    csv_now = tmp_path / "now.csv"
    assert main(["--db", url, "export", "--output", str(csv_now)]) == 0
    now = pd.read_csv(csv_now, encoding="utf-8-sig")
    assert list(now.columns) == ["team", "measure", "period", "group", "numerator", "denominator"]
    assert ("'" + evil_team) in set(now["team"])  # shown as text by a spreadsheet
    # Black corrected to 5; White, which the correction does not hold, still 2
    assert now.loc[now.team == "Willow Ward", "numerator"].tolist() == [5, 2]

    csv_then = tmp_path / "then.csv"
    assert main(["--db", url, "export", "--output", str(csv_then),
                 "--as-of", "2024-04-30T00:00:00"]) == 0  # fmt: skip
    then = pd.read_csv(csv_then, encoding="utf-8-sig")
    assert sorted(then.loc[then.team == "Willow Ward", "numerator"]) == [2, 3]

    xlsx = tmp_path / "now.xlsx"
    assert main(["--db", url, "export", "--output", str(xlsx)]) == 0
    sheet = load_workbook(xlsx).active
    cells = {c.value: c.data_type for row in sheet.iter_rows() for c in row if c.value}
    assert cells[evil_team] == "s"  # a string cell, not a formula
    assert "2024-03" in cells


def test_export_refuses_a_bad_instant(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    out = str(tmp_path / "x.csv")
    assert main(["--db", url, "export", "--output", out, "--as-of", "soon"]) == 1
    assert "'soon' is not a date and time" in capsys.readouterr().err


def test_migrations_build_the_schema_from_empty_and_tear_it_down(store_url):
    engine = create_engine(store_url)
    assert inspect(engine).get_table_names() == []
    schema.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"observation", "upload", "measure", "team", "trust", "ics", "collaborative",
            "change_idea", "pdsa_cycle", "annotation", "audit_log", "group_alias",
            "alembic_version"} <= tables  # fmt: skip
    assert schema.current_revision(engine) == schema.head_revision()
    schema.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    schema.upgrade(engine)
    with Store.open(store_url) as store:
        assert store.counts()["group_alias"] > 50
    engine.dispose()


def test_any_command_on_an_empty_database_creates_the_schema(store_url, tmp_path, capsys):
    assert main(["--db", store_url, "uploads"]) == 0
    engine = create_engine(store_url)
    assert "observation" in inspect(engine).get_table_names()
    engine.dispose()


def test_two_imports_at_once_both_land_whole(store):
    url = store.engine.url.render_as_string(False)
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    files = {
        team: _csv(*[f"{team},restraint,{m},{g},1,100" for m in months
                     for g in ("Asian", "Black", "Mixed", "White", "Other", "Not stated")])
        for team in ("Willow Ward", "Oak Ward")
    }  # fmt: skip
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def run(team: str) -> None:
        with Store.open(url) as own:
            barrier.wait()
            results[team] = own.import_file(files[team], f"{team}.csv")

    threads = [threading.Thread(target=run, args=(t,)) for t in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in results.values()), results
    data = store.observations()
    assert len(data) == 2 * 12 * 6
    assert not data.duplicated(["team", "measure", "period", "group"]).any()
    assert sorted(store.uploads()["id"]) == [1, 2]


def test_a_busy_store_refuses_with_a_clear_message(store_url):
    from tests.conftest import MEASURES, TEAMS

    with Store.open(store_url) as holder:
        holder.register_teams(TEAMS)
        holder.load_measures(MEASURES)
        before = holder.counts()
        with Store.open(store_url, lock_timeout=0.3) as other, holder._write():
            result_error = None
            try:
                other.import_file(MARCH, "march.csv")
            except StoreError as exc:
                result_error = exc
        assert result_error is not None and "busy" in str(result_error)
        assert holder.counts() == before


def test_pdsa_cycles_and_annotations_are_stored_as_typed(store, tmp_path):
    path = tmp_path / "pdsa.csv"
    pd.DataFrame(
        {
            "team": ["Willow Ward", "Willow Ward"],
            "measure": ["restraint", "restraint"],
            "group": ["Black", "Black"],
            "change_idea": ["Culturally informed de-escalation"] * 2,
            "cycle": [1, 1],
            "stage": ["plan", "do"],
            "start": ["2024-05-01", "2024-06-01"],
            "end": ["2024-05-31", ""],
            "learning": ["<script>alert(1)</script>", "=1+1"],
            "lived_experience": ["co-designed", "co-designed"],
        }
    ).to_csv(path, index=False)
    assert store.import_pdsa(path) == 2
    cycles = store.pdsa()
    assert cycles["learning"].tolist() == ["<script>alert(1)</script>", "=1+1"]
    assert cycles["end"].isna().tolist() == [False, True]
    # loading again updates, it does not double
    store.import_pdsa(path)
    assert len(store.pdsa()) == 2
    store.add_annotation(team="Willow Ward", measure="restraint", period="2024-03-17",
                         text="**bold** <b>x</b>", author="ward manager")  # fmt: skip
    notes = store.annotations(team="Willow Ward")
    assert notes["text"].tolist() == ["**bold** <b>x</b>"]
    assert notes["period"].tolist() == [pd.Timestamp("2024-03-01")]


def test_the_version_moves_with_every_change_shown_and_not_with_sign_ins(store):
    """Store.version() keys the dashboard's cached reads: an upload, a rollback, a
    change-log edit or a role change moves it on; signing in or out (or a refused
    sign-in) changes nothing shown, so leaves it, and the caches are kept."""
    seen = [store.version()]

    def moved() -> bool:
        seen.append(store.version())
        return seen[-1] > seen[-2]

    upload = store.import_file(MARCH, "march.csv")
    assert moved()
    store.rollback(upload.upload_id)
    assert moved()
    cycle = pd.DataFrame({"team": ["Willow Ward"], "measure": ["restraint"], "group": [""],
                          "change_idea": ["Safety huddle"], "cycle": ["1"], "stage": ["plan"],
                          "start": ["2024-05-01"], "end": [""], "learning": [""],
                          "lived_experience": ["consulted"]})  # fmt: skip
    store.import_pdsa(cycle)
    assert moved()
    store.add_annotation(team="Willow Ward", measure="restraint", period="2024-03",
                         text="new rota", author="analyst")  # fmt: skip
    assert moved()
    store.add_user("fac", password="a long enough passphrase", role="facilitator",
                   scope="collaborative", name="Test Collaborative")  # fmt: skip
    assert moved()
    fac = store.sign_in("fac", "a long enough passphrase")
    with pytest.raises(AccessDenied):
        store.sign_in("fac", "not the passphrase")
    assert not moved()
    assert fac.version() == seen[-1]  # the same number, whoever asks (it needs no rights)
    fac.sign_out()
    assert not moved()
    again = store.sign_in("fac", "a long enough passphrase")
    again.import_file(APRIL, "april.csv")
    assert moved()


def test_bad_pdsa_rows_are_refused_whole(store, tmp_path):
    from qi.store import UploadRejected

    path = tmp_path / "pdsa.csv"
    path.write_text(
        "team,measure,group,change_idea,cycle,stage,start,end,learning,lived_experience\n"
        "Willow Ward,restraint,,Idea,1,plan,2024-05-01,,,consulted\n"
        "Nowhere Ward,restraint,,Idea,x,dance,2024-13-01,2024-01-01,,maybe\n"
    )
    before = store.counts()
    with pytest.raises(UploadRejected) as err:
        store.import_pdsa(path)
    found = {(p.row, p.column) for p in err.value.problems}
    assert {(3, "team"), (3, "cycle"), (3, "stage"), (3, "start"), (3, "lived_experience")} <= found
    assert store.counts() == before


def test_the_console_script_imports_and_prints_the_upload_id(tmp_path):
    """The installed ``qi`` command, as a user or a scheduled job runs it."""
    import os
    import shutil
    import subprocess
    import sys

    from tests.conftest import MEASURES, TEAMS

    exe = shutil.which("qi", path=os.path.dirname(sys.executable)) or shutil.which("qi")
    assert exe, "the qi console script is not installed"
    env = {**os.environ, "QI_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    TEAMS.to_csv(tmp_path / "teams.csv", index=False)
    MEASURES.to_csv(tmp_path / "measures.csv", index=False)
    (tmp_path / "march.csv").write_bytes(MARCH)

    def qi(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=False)

    assert qi("teams", str(tmp_path / "teams.csv")).returncode == 0
    assert qi("measures", str(tmp_path / "measures.csv")).returncode == 0
    done = qi("import", str(tmp_path / "march.csv"))
    assert (done.returncode, done.stdout) == (0, "upload 1\n")
    again = qi("import", str(tmp_path / "march.csv"))
    assert again.returncode == 1
    assert again.stdout.startswith(f"{tmp_path / 'march.csv'}::: this file was already uploaded")
    assert qi("rollback", "1").stdout == "upload 1 rolled back\n"


def test_upload_time_not_import_order_decides_what_is_shown(store):
    newer = HEADER + "Willow Ward,restraint,2024-03,Black,10,100\n"
    older = HEADER + "Willow Ward,restraint,2024-03,Black,99,100\n"
    store.import_file(newer.encode(), "newer.csv", uploaded_at="2024-04-20T09:00:00")
    store.import_file(older.encode(), "older.csv", uploaded_at="2024-04-10T09:00:00")
    assert store.observations()["numerator"].tolist() == [10]
    assert store.observations(as_of="2024-04-15")["numerator"].tolist() == [99]


def test_instants_are_iso_8601_only():
    assert as_utc("2026-01-31") == dt.datetime(2026, 1, 31, 23, 59, 59, 999999)
    assert as_utc("2026-11-25T10:15:30Z") == dt.datetime(2026, 11, 25, 10, 15, 30)
    for ambiguous in ("01/02/2026", "next week"):
        try:
            as_utc(ambiguous)
        except ValueError as exc:
            assert "is not a date and time" in str(exc)
        else:  # pragma: no cover
            raise AssertionError(ambiguous)
