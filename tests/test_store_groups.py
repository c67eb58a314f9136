"""What a group value means: NHS ethnic categories (2001 codes and Data Dictionary
labels, 2021-census categories, local spellings), Z and 99 side by side, refusals and
missing values where the Data Dictionary puts them, and groupings other than the six
broad ethnic groups (WRES's White / BME / Unknown) as first-class groupings of a measure."""

from __future__ import annotations

import pandas as pd
import pytest

from qi import equality
from qi.cli import main
from qi.store import StoreError, UploadRejected
from qi.store.groups import GroupMap, seed_aliases, seed_groupings
from tests.conftest import HEADER, assert_unchanged, snapshot

#: The NHS Data Dictionary's ETHNIC CATEGORY (2001 census): code, label, broad group.
DATA_DICTIONARY = [
    ("A", "White - British", "White"),
    ("B", "White - Irish", "White"),
    ("C", "White - Any other White background", "White"),
    ("D", "Mixed - White and Black Caribbean", "Mixed"),
    ("E", "Mixed - White and Black African", "Mixed"),
    ("F", "Mixed - White and Asian", "Mixed"),
    ("G", "Mixed - Any other mixed background", "Mixed"),
    ("H", "Asian or Asian British - Indian", "Asian"),
    ("J", "Asian or Asian British - Pakistani", "Asian"),
    ("K", "Asian or Asian British - Bangladeshi", "Asian"),
    ("L", "Asian or Asian British - Any other Asian background", "Asian"),
    ("M", "Black or Black British - Caribbean", "Black"),
    ("N", "Black or Black British - African", "Black"),
    ("P", "Black or Black British - Any other Black background", "Black"),
    ("R", "Other Ethnic Groups - Chinese", "Other"),
    ("S", "Other Ethnic Groups - Any other ethnic group", "Other"),
    ("Z", "Not stated", "Not stated"),
    ("99", "Not known", "Not stated"),
]


def _rows(groups, *, team="Willow Ward", measure="restraint", period="2024-03") -> bytes:
    body = "".join(f'{team},{measure},{period},"{g}",1,100\n' for g in groups)
    return (HEADER + body).encode()


def _stored(store, **kw) -> dict[str, str]:
    data = store.observations(**kw)
    return dict(zip(data["group"], data["broad_group"], strict=True))


@pytest.mark.parametrize("form", ["code", "label", "upper", "lower"])
def test_every_data_dictionary_category_by_code_or_label(store, form):
    """The error message's own example, "Black or Black British - African", among them."""
    spelled = {
        "code": [c for c, _, _ in DATA_DICTIONARY],
        "label": [lab for _, lab, _ in DATA_DICTIONARY],
        "upper": [lab.upper() for _, lab, _ in DATA_DICTIONARY],
        "lower": [c.lower() for c, _, _ in DATA_DICTIONARY],
    }[form]
    result = store.import_file(_rows(spelled), "all.csv")
    assert result.ok, result.problems
    assert _stored(store) == {lab: broad for _, lab, broad in DATA_DICTIONARY}


def test_the_refusal_message_offers_a_label_that_is_accepted(store):
    refused = store.import_file(_rows(["Blak"]), "typo.csv").problems[0].message
    example = refused.split("such as '")[1].rstrip("')")
    assert store.import_file(_rows([example]), "example.csv").ok


CENSUS_2021 = [
    ("White: English, Welsh, Scottish, Northern Irish or British", "White - British", "White"),
    ("White: Irish", "White - Irish", "White"),
    ("White: Gypsy or Irish Traveller", "White - Gypsy or Irish Traveller", "White"),
    ("White: Roma", "White - Roma", "White"),
    ("White: Other White", "White - Any other White background", "White"),
    ("Mixed or Multiple ethnic groups: White and Black Caribbean",
     "Mixed - White and Black Caribbean", "Mixed"),
    ("Mixed or Multiple ethnic groups: Other Mixed or Multiple ethnic groups",
     "Mixed - Any other mixed background", "Mixed"),
    ("Asian, Asian British or Asian Welsh: Indian", "Asian or Asian British - Indian", "Asian"),
    ("Asian, Asian British or Asian Welsh: Other Asian",
     "Asian or Asian British - Any other Asian background", "Asian"),
    ("Black, Black British, Black Welsh, Caribbean or African: African",
     "Black or Black British - African", "Black"),
    ("Black, Black British, Black Welsh, Caribbean or African: Other Black",
     "Black or Black British - Any other Black background", "Black"),
    ("Other ethnic group: Arab", "Other Ethnic Groups - Arab", "Other"),
    ("Other ethnic group: Any other ethnic group",
     "Other Ethnic Groups - Any other ethnic group", "Other"),
]  # fmt: skip


def test_2021_census_categories(store):
    """Those the 2001 codes also have are that category (one series); Roma, Gypsy or
    Irish Traveller and Arab are categories of their own."""
    result = store.import_file(_rows([c for c, _, _ in CENSUS_2021]), "census.csv")
    assert result.ok, result.problems
    assert _stored(store) == {label: broad for _, label, broad in CENSUS_2021}
    local = store.import_file(_rows(["Roma", "Gypsy/Traveller", "Arab"], period="2024-04"), "l.csv")
    assert local.ok, local.problems


def test_z_and_99_both_for_one_team_measure_and_month(store):
    """The issue: refused as "broad group and its categories" because Z's label is the
    broad group's name; that is how NHS data arrive."""
    for spelling in (["Z", "99"], ["Not stated", "Not known"], ["Not Stated", "Not Known"]):
        result = store.import_file(_rows([*spelling, "White"]), f"{spelling[0]}.csv")
        assert result.ok, result.problems
        assert _stored(store) == {
            "Not stated": "Not stated", "Not known": "Not stated", "White": "White",
        }  # fmt: skip
        store.rollback(result.upload_id)


@pytest.mark.parametrize(
    ("value", "label"),
    [("Refused", "Not stated"), ("Patient declined", "Not stated"),
     ("Prefer not to say", "Not stated"), ("Not known", "Not known"), ("NULL", "Not known"),
     ("null", "Not known"), ("Unknown", "Not known"), ("Not recorded", "Not known"),
     ("Missing / invalid", "Not known"), ("Not stated/Not known", "Not stated")],
)  # fmt: skip
def test_refusals_are_z_and_missing_values_are_99(store, value, label):
    """The Data Dictionary: Z for someone asked who chose not to say, 99 for someone not
    asked or not able to answer."""
    assert store.import_file(_rows([value]), "u.csv").ok
    assert _stored(store) == {label: "Not stated"}


def test_recording_completeness_counts_refusals_and_missing_values(store):
    body = (
        HEADER
        + "Willow Ward,restraint,2024-03,White,2,300\n"
        + "Willow Ward,restraint,2024-03,Refused,1,40\n"
        + "Willow Ward,restraint,2024-03,NULL,0,60\n"
        + "Willow Ward,restraint,2024-03,N,3,100\n"
    )
    assert store.import_file(body.encode(), "m.csv").ok
    data = store.observations()
    for column in ("group", "broad_group"):
        done = equality.recording_completeness(data, by="period", group=column, count="denominator")
        assert done[["numerator", "denominator"]].values.tolist() == [[100.0, 500.0]]
    raw = pd.DataFrame({"month": ["m"] * 5, "group": ["A", "Refused", "NULL", "Patient declined",
                                                       "Not stated"]})  # fmt: skip
    assert equality.recording_completeness(raw, by="month", group="group")["numerator"][0] == 4


def test_a_broad_group_and_its_categories_are_still_refused_together(store):
    before = snapshot(store)
    problems = store.import_file(_rows(["Black", "N", "Z", "99"]), "mixed.csv").problems
    assert [(p.row, p.column) for p in problems] == [(3, "group")]
    assert "'Black or Black British - African' is part of 'Black'" in problems[0].message
    assert_unchanged(store, before)


# ---------------------------------------------------------------- groupings


def _wres(store, *, groups: str = "") -> None:
    store.load_measures(
        pd.DataFrame(
            {
                "id": ["disciplinary"], "name": ["Staff entering a formal disciplinary process"],
                "definition": [""], "numerator_definition": ["staff entering"],
                "denominator_definition": ["headcount"], "unit": ["%"], "multiplier": ["100"],
                "chart": ["p"], "improvement": ["decrease"], "target": [""], "groups": [groups],
                "grouping": ["wres"], "frequency": ["year"],
            }
        )
    )  # fmt: skip


def test_a_wres_measure_reports_white_bme_and_unknown(store):
    _wres(store)
    measure = store.measures().set_index("id").loc["disciplinary"]
    assert measure["groups"] == ("White", "BME", "Unknown")
    assert (measure["grouping"], measure["frequency"]) == ("wres", "year")
    body = (
        HEADER
        + "Willow Ward,disciplinary,2024/25,White,2,400\n"
        + "Willow Ward,disciplinary,2024/25,BME,3,150\n"
        + "Willow Ward,disciplinary,2024/25,Unknown,0,20\n"
        + "Oak Ward,disciplinary,2024/25,A,1,300\n"
        + "Oak Ward,disciplinary,2024/25,White - Irish,0,40\n"
        + "Oak Ward,disciplinary,2024/25,N,1,50\n"
        + "Oak Ward,disciplinary,2024/25,Asian,0,60\n"
        + "Oak Ward,disciplinary,2024/25,Black and minority ethnic (BME),0,0\n"
        + "Oak Ward,disciplinary,2025/26,BAME,2,120\n"
        + "Oak Ward,disciplinary,2025/26,Z,0,9\n"
        + "Oak Ward,disciplinary,2025/26,Not known,0,3\n"
    )
    result = store.import_file(body.encode(), "wres.csv", today=pd.Timestamp("2026-06-01").date())
    # BME given whole (row 9) and in parts (rows 7 and 8) for the same team and year
    assert [(p.row, p.column) for p in result.problems] == [(7, "group"), (8, "group")]
    assert "'Asian' is part of 'BME'" in result.problems[1].message
    good = body.replace("Oak Ward,disciplinary,2024/25,Black and minority ethnic (BME),0,0\n", "")
    result = store.import_file(good.encode(), "wres.csv", today=pd.Timestamp("2026-06-01").date())
    assert result.ok, result.problems
    data = store.observations(measures=["disciplinary"])
    oak = data[data["team"] == "Oak Ward"].set_index(["period", "group"])["broad_group"]
    assert oak.to_dict() == {
        (pd.Timestamp("2024-04-01"), "White - British"): "White",
        (pd.Timestamp("2024-04-01"), "White - Irish"): "White",
        (pd.Timestamp("2024-04-01"), "Black or Black British - African"): "BME",
        (pd.Timestamp("2024-04-01"), "Asian"): "BME",
        (pd.Timestamp("2025-04-01"), "BME"): "BME",
        (pd.Timestamp("2025-04-01"), "Not stated"): "Unknown",
        (pd.Timestamp("2025-04-01"), "Not known"): "Unknown",
    }
    unknown = equality.recording_completeness(
        data, by=["team", "period"], group="broad_group", count="denominator"
    )
    assert unknown["numerator"].tolist() == [0.0, 12.0, 20.0]


def test_a_wres_group_and_its_own_parts_are_refused_together(store):
    _wres(store)
    today = pd.Timestamp("2026-06-01").date()
    for groups, part, whole in (
        (["BME", "Black"], "Black", "BME"),
        (["Black", "N"], "Black or Black British - African", "Black"),
        (["Unknown", "Z"], "Not stated", "Unknown"),
    ):
        body = _rows(groups, measure="disciplinary", period="2024/25")
        problems = store.import_file(body, "w.csv", today=today).problems
        assert len(problems) == 1, problems
        assert f"'{part}' is part of '{whole}'" in problems[0].message
    # a group WRES does not have is refused with the groups it has
    problem = store.import_file(
        _rows(["Mixed or multiple"], measure="disciplinary", period="2024/25"), "x.csv", today=today
    ).problems[0]
    assert "use one of White, BME, Unknown" in problem.message


def test_the_board_equality_and_charts_work_with_a_wres_grouping(store):
    from qi import screens
    from qi.snapshot import Snapshot

    _wres(store)
    today = pd.Timestamp("2026-06-01").date()
    rows = []
    for i, fy in enumerate(["2020/21", "2021/22", "2022/23", "2023/24", "2024/25", "2025/26"]):
        for team in ("Willow Ward", "Oak Ward"):
            rows += [
                f"{team},disciplinary,{fy},A,{1 + i % 2},{300 + i}",
                f"{team},disciplinary,{fy},N,{2 + i % 3},{90 + i}",
                f"{team},disciplinary,{fy},H,{1},{60}",
                f"{team},disciplinary,{fy},Z,0,{10}",
            ]
    body = (HEADER + "\n".join(rows) + "\n").encode()
    assert store.import_file(body, "wres.csv", today=today).ok
    snap = Snapshot.from_store(store)
    board = screens.board(snap, today=today)
    groups = set(board.rows.loc[board.rows["measure"] == "disciplinary", "group"])
    assert groups == {"All", "White", "BME", "Unknown"}
    view = screens.equality_view(snap, unit="Willow Ward", measure="disciplinary")
    assert view.reference == "White" and view.groups == ("BME", "Unknown", "White")
    assert set(view.latest["group"]) == {"BME", "Unknown"}
    chart = screens.team_chart(snap, unit="Willow Ward", measure="disciplinary",
                               groups=["All", "BME", "White"])  # fmt: skip
    figure = chart.figure()
    hover = [t for trace in figure.data for t in (trace.hovertext or ())]
    assert any(t.startswith("2025/26<br>") for t in hover)  # periods as financial years


def test_a_facilitator_adds_a_grouping_from_the_command_line(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    path = tmp_path / "groupings.csv"
    path.write_text(
        "grouping,group,members,aliases\n"
        "white_british,White British,A,\n"
        'white_british,Everyone else,"B;C;White - Roma;White - Gypsy or Irish Traveller;'
        'Asian;Black;Mixed;Other",Other than White British\n'
        "white_british,Not recorded,Not stated,\n"
    )
    assert main(["--db", url, "groupings", str(path)]) == 0
    assert "3 grouping rows set" in capsys.readouterr().out
    catalogue = tmp_path / "measures.csv"
    catalogue.write_text(
        "id,name,definition,numerator_definition,denominator_definition,unit,multiplier,"
        "chart,improvement,target,groups,grouping\n"
        "seen,Seen,,,,%,100,p,increase,,,white_british\n"
    )
    assert main(["--db", url, "measures", str(catalogue)]) == 0
    ok = store.import_file(_rows(["A", "B", "N", "Other than White British", "99"],
                                 measure="seen", team="Oak Ward"), "s.csv")  # fmt: skip
    assert not ok.ok  # "Other than White British" is the whole group whose parts B, N are
    assert [p.row for p in ok.problems] == [3, 4]
    ok = store.import_file(_rows(["A", "B", "N", "99"], measure="seen"), "s.csv")
    assert ok.ok, ok.problems
    assert _stored(store) == {
        "White - British": "White British", "White - Irish": "Everyone else",
        "Black or Black British - African": "Everyone else", "Not known": "Not recorded",
    }  # fmt: skip
    # White is split between two of its groups: given whole, it cannot be placed
    split = store.import_file(_rows(["White"], measure="seen", period="2024-04"), "w.csv")
    assert "which this measure divides between Everyone else, White British" in (
        split.problems[0].message
    )


def test_a_grouping_with_an_unknown_member_is_refused_whole(store):
    before = store.groupings()
    table = pd.DataFrame({"grouping": ["x", "x"], "group": ["A", "B"],
                          "members": ["White", "Blak"], "aliases": ["", ""]})  # fmt: skip
    with pytest.raises(UploadRejected) as refused:
        store.set_groupings(table)
    assert [(p.row, p.column) for p in refused.value.problems] == [(3, "members")]
    pd.testing.assert_frame_equal(store.groupings(), before)


def test_a_measure_naming_an_unknown_grouping_or_frequency_is_refused(store):
    bad = pd.DataFrame({"id": ["m"], "name": ["M"], "definition": [""],
                        "numerator_definition": [""], "denominator_definition": [""],
                        "unit": [""], "multiplier": ["1"], "chart": ["p"],
                        "improvement": ["increase"], "target": [""], "groups": [""],
                        "grouping": ["nope"], "frequency": ["fortnightly"]})  # fmt: skip
    with pytest.raises(UploadRejected) as refused:
        store.load_measures(bad)
    assert {p.column for p in refused.value.problems} == {"grouping", "frequency"}


def test_a_category_keeps_one_broad_group(store):
    before = store.group_aliases()
    table = pd.DataFrame({"alias": ["Roma people"], "code": [""], "label": ["White - Roma"],
                          "broad_group": ["Other"]})  # fmt: skip
    with pytest.raises(StoreError, match="'White - Roma' would have two broad groups"):
        store.set_group_aliases(table)
    pd.testing.assert_frame_equal(store.group_aliases(), before)


def test_the_bundled_tables_are_consistent():
    """Every alias of a category names one code and one broad group; every grouping's
    members are broad groups or categories the aliases know."""
    aliases = seed_aliases()
    groups = GroupMap(aliases, seed_groupings())
    for label, cat in groups.categories.items():
        rows = aliases[aliases["label"] == label]
        assert rows["broad_group"].nunique() == 1, label
        assert rows["code"].dropna().nunique() <= 1, label
        assert cat.broad in {"Asian", "Black", "Mixed", "White", "Other", "Not stated"}
    known = set(groups.broads) | set(groups.exact)
    for members in seed_groupings()["members"]:
        assert all(m.lower() in known for m in members.split(";")), members
    assert len([c for c in groups.categories.values() if c.code]) == 18  # A–S, Z, 99


def test_a_measure_with_data_keeps_its_grouping_and_frequency(store):
    """Its stored groups and periods were read by them: changing either is refused."""
    _wres(store)
    body = _rows(["BME"], measure="disciplinary", period="2024/25")
    assert store.import_file(body, "w.csv", today=pd.Timestamp("2026-06-01").date()).ok
    table = store.measures().set_index("id").loc[["disciplinary"]].reset_index()
    table["groups"] = ""
    for column, value in (("grouping", "ethnicity"), ("frequency", "month")):
        changed = table.assign(**{column: value})
        with pytest.raises(UploadRejected) as refused:
            store.load_measures(changed)
        assert [(p.row, p.column) for p in refused.value.problems] == [(2, column)]
    store.load_measures(table.assign(name="Disciplinary (WRES 3)"))  # the rest may change
    assert store.measures().set_index("id").loc["disciplinary", "name"] == "Disciplinary (WRES 3)"
