"""Corrections replace exactly the rows they hold (team × measure × period × group):
nothing a file does not hold disappears, every version is kept, a rollback shows again
what was shown before, and the command line says before and after which stored values a
file replaces, old → new. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from qi.cli import main
from qi.store import Store, schema
from tests.conftest import HEADER, assert_unchanged, snapshot

GROUPS = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
#: one ward's restraint for March 2024, by its six groups (events, bed days)
MARCH = {
    "Asian": (1, 120),
    "Black": (6, 180),
    "Mixed": (0, 60),
    "White": (4, 420),
    "Other": (2, 90),
    "Not stated": (1, 50),
}


def _file(rows: dict[str, tuple[float, float]], team="Willow Ward", period="2024-03") -> bytes:
    body = "".join(f"{team},restraint,{period},{g},{n},{d}\n" for g, (n, d) in rows.items())
    return (HEADER + body).encode()


def _shown(store: Store, **kw) -> dict[str, tuple[float, float]]:
    data = store.observations(teams=["Willow Ward"], **kw)
    return {g: (n, d) for g, n, d in zip(data.group, data.numerator, data.denominator, strict=True)}


def test_a_one_row_correction_leaves_the_other_five_groups_shown(store, tmp_path):
    """The issue's test: six groups stored, a one-row correction, all six still shown with
    the one value changed; the export holds all six; rollback restores the old value; as of
    before the correction, the old value."""
    first = store.import_file(_file(MARCH), "march.csv", uploaded_at="2024-04-10T09:00:00")
    assert first.ok and first.replaced == 0
    fix = store.import_file(_file({"Black": (9, 180)}), "fix.csv")
    assert fix.ok
    after = _shown(store)
    assert set(after) == set(GROUPS)
    assert after == {**MARCH, "Black": (9, 180)}
    # the one value replaced, old → new
    assert fix.replacements[
        ["group", "numerator", "upload_id", "new_numerator"]
    ].values.tolist() == [["Black", 6.0, first.upload_id, 9.0]]
    out = tmp_path / "now.csv"
    store.export(out)
    exported = pd.read_csv(out, encoding="utf-8-sig")
    assert sorted(exported["group"]) == sorted(GROUPS)
    assert exported.set_index("group").loc["Black", "numerator"] == 9
    # what the board saw before the correction
    assert _shown(store, as_of="2024-04-11") == MARCH
    # rollback: the old value is shown again, and nothing else changed
    assert store.rollback(fix.upload_id) == 1
    assert _shown(store) == MARCH
    assert store.counts()["observation"] == 7  # every version kept


def test_a_correction_shows_its_values_before_and_after_on_the_command_line(
    store, tmp_path, capsys
):
    url = store.engine.url.render_as_string(False)
    (tmp_path / "march.csv").write_bytes(_file(MARCH))
    (tmp_path / "fix.csv").write_bytes(_file({"Black": (9, 180), "White": (4, 400)}))
    assert main(["--db", url, "import", str(tmp_path / "march.csv")]) == 0
    assert capsys.readouterr().out == "upload 1\n"  # nothing replaced: the one line as ever
    before = snapshot(store)
    assert main(["--db", url, "import", "--dry-run", str(tmp_path / "fix.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "2 rows valid; nothing stored (dry run)",
        "this file would replace 2 stored values (old → new):",
        "  Willow Ward · restraint · 2024-03 · Black: 6 / 180 (upload 1) → 9 / 180",
        "  Willow Ward · restraint · 2024-03 · White: 4 / 420 (upload 1) → 4 / 400",
    ]
    assert_unchanged(store, before)  # a dry run stores nothing
    out = tmp_path / "replaced.csv"
    assert main(["--db", url, "import", str(tmp_path / "fix.csv"), "--replaced", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["upload 2", "this file replaces 2 stored values (old → new):"]
    assert lines[-1] == f"all of them written to {out}"
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert list(written.columns) == ["team", "measure", "period", "group", "stored", "new"]
    assert written["stored"].tolist() == ["6 / 180 (upload 1)", "4 / 420 (upload 1)"]
    assert main(["--db", url, "rollback", "2"]) == 0
    assert "2 stored value(s) it had replaced shown again" in capsys.readouterr().out
    assert _shown(store) == MARCH


def test_a_long_list_of_replaced_values_is_cut_short(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    year = b"".join(_file(MARCH, period=m)[len(HEADER) :] for m in months)
    (tmp_path / "year.csv").write_bytes(HEADER.encode() + year)
    (tmp_path / "again.csv").write_bytes(HEADER.encode() + year.replace(b",180\n", b",181\n"))
    assert main(["--db", url, "import", str(tmp_path / "year.csv")]) == 0
    capsys.readouterr()
    assert main(["--db", url, "import", str(tmp_path / "again.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "this file replaces 72 stored values (old → new):"
    assert len(lines) == 2 + 20 + 1 and lines[-1] == "  … and 52 more"


def test_a_correction_in_categories_replaces_its_broad_group_only(store):
    """A broad group re-sent as its categories (or back) is replaced whole, so the same
    people are never counted twice; the other groups stay."""
    store.import_file(_file(MARCH), "march.csv")
    fix = store.import_file(
        _file({"Black or Black British - African": (4, 100), "M": (2, 80)}), "fix.csv"
    )
    assert fix.ok
    shown = _shown(store)
    assert "Black" not in shown
    assert shown["Black or Black British - African"] == (4, 100)
    assert shown["White"] == MARCH["White"] and len(shown) == 7
    # both categories replace the one broad row: the preview says so for each
    assert fix.replacements["group"].tolist() == ["Black", "Black"]
    assert set(fix.replacements["new_group"]) == {
        "Black or Black British - African", "Black or Black British - Caribbean",
    }  # fmt: skip
    series = store.observations().groupby("broad_group")["numerator"].sum()
    assert series["Black"] == 6  # 4 + 2: counted once
    # and back: the broad group replaces both categories
    back = store.import_file(_file({"Black": (7, 185)}), "back.csv")
    assert back.replaced == 2
    assert _shown(store) == {**MARCH, "Black": (7, 185)}


def test_z_and_99_are_corrected_one_by_one(store):
    """Not stated (Z) and Not known (99) are two categories of one broad group."""
    both = {"Z": (1, 30), "99": (2, 40), "White": (3, 300)}
    store.import_file(_file(both), "march.csv")
    store.import_file(_file({"Not known": (5, 45)}), "fix.csv")
    assert _shown(store) == {"Not stated": (1, 30), "Not known": (5, 45), "White": (3, 300)}


def test_an_upload_back_dated_before_a_stored_one_does_not_hide_it(store):
    """Upload time, not the order of import, decides, row by row."""
    store.import_file(_file({"Black": (9, 180)}), "fix.csv", uploaded_at="2024-05-20T10:00:00")
    late = store.import_file(_file(MARCH), "march.csv", uploaded_at="2024-04-10T09:00:00")
    assert late.ok and late.replaced == 0
    assert _shown(store) == {**MARCH, "Black": (9, 180)}
    assert _shown(store, as_of="2024-05-01") == MARCH
    assert _shown(store, as_of="2024-04-01") == {}


def test_rolling_back_the_first_upload_keeps_the_correction(store):
    first = store.import_file(_file(MARCH), "march.csv")
    store.import_file(_file({"Black": (9, 180)}), "fix.csv")
    store.rollback(first.upload_id)
    assert _shown(store) == {"Black": (9, 180)}


def test_a_correction_of_a_correction_and_its_rollback(store):
    store.import_file(_file(MARCH), "march.csv")
    second = store.import_file(_file({"Black": (9, 180)}), "fix.csv")
    t_second = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    third = store.import_file(_file({"Black": (8, 180), "White": (5, 420)}), "fix2.csv")
    assert third.replacements["upload_id"].tolist() == [second.upload_id, 1]
    assert _shown(store) == {**MARCH, "Black": (8, 180), "White": (5, 420)}
    store.rollback(third.upload_id)
    assert _shown(store) == {**MARCH, "Black": (9, 180)}
    assert _shown(store, as_of=t_second) == {**MARCH, "Black": (9, 180)}
    store.rollback(second.upload_id)
    assert _shown(store) == MARCH


def test_the_upload_reads_only_the_versions_of_its_own_slices(store):
    """The work of an upload is proportional to the upload: the versions read for a
    late month are that month's, not every stored month's."""
    from qi.store import uploads

    for m in range(1, 13):
        store.import_file(_file(MARCH, period=f"2024-{m:02d}"), f"m{m}.csv")
    seen = []
    real = uploads._versions

    def spy(conn, rows, at):
        found = real(conn, rows, at)
        seen.append(found)
        return found

    uploads._versions = spy
    try:
        store.import_file(_file({"Black": (9, 180)}, period="2024-06"), "fix.csv")
    finally:
        uploads._versions = real
    (versions,) = seen
    assert set(versions["period"]) == {pd.Timestamp("2024-06-01")}
    assert len(versions) == 6


def test_migration_keeps_what_was_shown_before_row_level_corrections(store_url):
    """Stores written before revision 0006 replaced a whole team × measure × period on a
    correction: upgrading keeps exactly what was shown, now and as of any instant."""
    engine = create_engine(store_url)
    schema.upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO collaborative (id, name) VALUES (1, 'C')"))
        conn.execute(text("INSERT INTO ics (id, collaborative_id, name) VALUES (1, 1, 'I')"))
        conn.execute(text("INSERT INTO trust (id, ics_id, name) VALUES (1, 1, 'T')"))
        conn.execute(text("INSERT INTO team (id, trust_id, name) VALUES (1, 1, 'Willow Ward')"))
        conn.execute(
            text(
                "INSERT INTO measure (id, name, definition, numerator_definition, "
                "denominator_definition, unit, multiplier, chart, improvement, target, groups) "
                "VALUES ('restraint', 'R', '', '', '', '', 1000, 'u', 'decrease', NULL, "
                "'Asian;Black;Mixed;White;Other;Not stated')"
            )
        )
        for uid, at in ((1, "2024-04-10 09:00:00"), (2, "2024-05-20 15:30:00")):
            conn.execute(
                text(
                    "INSERT INTO upload (id, file_name, checksum, row_count, uploaded_by, "
                    "uploaded_at, note) VALUES (:i, 'f.csv', :c, 1, 'x', :at, '')"
                ),
                {"i": uid, "c": f"{uid:064d}", "at": at},
            )
        rows = [(1, "Black", 3), (1, "White", 2), (2, "Black", 5)]
        for i, (uid, group, n) in enumerate(rows, start=1):
            conn.execute(
                text(
                    'INSERT INTO observation (id, upload_id, team_id, measure_id, period, "group", '
                    "broad_group, numerator, denominator) VALUES (:i, :u, 1, 'restraint', "
                    ":p, :g, :g, :n, 100)"
                ),
                {"i": i, "u": uid, "p": dt.date(2024, 3, 1), "g": group, "n": n},
            )
    engine.dispose()
    with Store.open(store_url) as store:
        # under the old rule upload 2 replaced the whole month: White was hidden by it
        assert _shown(store) == {"Black": (5, 100)}
        assert _shown(store, as_of="2024-05-01") == {"Black": (3, 100), "White": (2, 100)}
        assert store.counts()["replacement"] == 2
        assert store.measures()[["grouping", "frequency"]].values.tolist() == [
            ["ethnicity", "month"]
        ]
        # 2021-census labels added to the stored mapping by the migration
        assert "white roma" in set(store.group_aliases()["alias"])


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_preview_and_the_import_agree(store, dry_run):
    store.import_file(_file(MARCH), "march.csv")
    fix = _file({"Black": (9, 180), "Asian": (1, 120)})
    clean, problems = store.validate(fix, "fix.csv")
    assert not problems
    preview = store.replacements(clean)
    result = store.import_file(fix, "fix.csv", dry_run=dry_run)
    pd.testing.assert_frame_equal(preview, result.replacements)
    assert preview["period_label"].tolist() == ["2024-03", "2024-03"]


def test_the_preview_of_replaced_values_needs_the_right_to_upload_for_its_teams(store):
    """The preview shows stored values unsuppressed: a member of another team is refused."""
    from qi.access import AccessDenied

    store.import_file(_file(MARCH), "march.csv", user="set-up")
    store.add_user("fac", password="a long enough passphrase", role="facilitator",
                   scope="collaborative", name="Test Collaborative", user="set-up")  # fmt: skip
    fac = store.sign_in("fac", "a long enough passphrase")
    fac.add_user("oak", password="another long passphrase", role="team_member",
                 scope="team", name="Oak Ward")  # fmt: skip
    oak = store.sign_in("oak", "another long passphrase")
    clean, problems = fac.validate(_file({"Black": (9, 180)}), "fix.csv")
    assert not problems
    with pytest.raises(AccessDenied, match="Willow Ward"):
        oak.replacements(clean)
    assert fac.replacements(clean)[["numerator", "new_numerator"]].values.tolist() == [[6, 9]]
