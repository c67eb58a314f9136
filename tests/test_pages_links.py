"""Pages people share and act on (issue 18): a link restores every control of every
page, and what was saved says so after the rerun that shows it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from qi.store import Store
from tests.test_pages import APP


@pytest.fixture
def db_url(sample_copy, monkeypatch) -> str:
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    return sample_copy


def opened(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(query)
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def widget(at: AppTest, label: str):
    for kind in ("selectbox", "multiselect", "radio", "toggle", "checkbox", "text_input"):
        for w in getattr(at, kind):
            if w.label == label or w.label.startswith(label):
                return w
    raise AssertionError(f"no control {label!r}: {[w.label for w in at.selectbox]}")


# page, link, and the value each control must show (by its label)
LINKS = [
    ("board", {"level": "trust", "group": "Black", "measures": "felt_respected", "details": "1"},
     {"Level": "trust", "Group": "Black", "Measure": ["felt_respected"], "Show details": True}),
    ("board", {"level": "team", "trusts": "Southmoor Care NHS Foundation Trust", "risk": "1"},
     {"Trust": ["Southmoor Care NHS Foundation Trust"], "Only improvements at risk": True}),
    ("team", {"level": "trust", "unit": "Southmoor Care NHS Foundation Trust",
              "measure": "rapid_tranq_per_1000_obd", "rules": "anhoej", "group": "All",
              "layout": "One chart", "phase": "2024-11"},
     {"Level": "trust", "Unit": "Southmoor Care NHS Foundation Trust",
      "Measure": "rapid_tranq_per_1000_obd", "Rules": "anhoej", "Groups": ["All"],
      "Layout": "One chart", "New phase from": ["2024-11"]}),
    ("equality", {"level": "team", "unit": "Willow Ward", "measure": "detained_admissions",
                  "reference": "Asian", "rules": "mdc", "funnel": "Black"},
     {"Unit": "Willow Ward", "Measure": "detained_admissions", "Reference group": "Asian",
      "Rules": "mdc", "Group in the funnel": "Black"}),
    ("accountability", {"risk": "1"}, {"Only improvements at risk": True}),
    ("pack", {"team": "Willow Ward", "measure": "restraint_per_1000_obd", "month": "2025-06",
              "rules": "anhoej", "phases": "changes", "title": "June board"},
     {"Teams": ["Willow Ward"], "Measures": ["restraint_per_1000_obd"],
      "Month reported": "2025-06", "Chart rules": "anhoej", "Phases": "changes",
      "Title": "June board"}),
    ("changelog", {"team": "Rowan Ward"}, {"Teams": ["Rowan Ward"]}),
    ("completeness", {"due": "20"}, {"Data due by day": 20}),
    ("workshop", {"team": "Cedar Ward", "measure": "restraint_per_1000_obd", "group": "White",
                  "rules": "mdc", "month": "2025-05", "value": "40"},
     {"Team": "Cedar Ward", "Measure": "restraint_per_1000_obd", "Group": "White",
      "Rules": "mdc", "Change the count of month": "2025-05"}),
    ("audit", {"action": "import"}, {"What": ["import"]}),
]  # fmt: skip


@pytest.mark.parametrize(("page", "link", "expected"), LINKS,
                         ids=[f"{p}-{i}" for i, (p, *_) in enumerate(LINKS)])  # fmt: skip
def test_a_shared_link_restores_every_control(db_url, page, link, expected):
    at = opened(page, link)
    for label, value in expected.items():
        assert widget(at, label).value == value, (page, label)
    # and the page writes them back into its own address
    for key, value in link.items():
        assert at.query_params.get(key) in (value, [value]), (page, key, at.query_params)
    if page == "workshop":
        assert at.number_input[0].value == 40.0


def test_a_saved_cycle_says_so_after_the_rerun(db_url):
    at = opened("changelog", {})
    fields = {t.label: t for t in at.text_input}
    fields["Change idea"].input("Ask about culture at admission")
    next(b for b in at.button if b.label == "Save cycle").click().run()
    assert not at.exception, at.exception
    assert any("Ask about culture at admission" in s.value and "saved" in s.value
               for s in at.success), [s.value for s in at.success]  # fmt: skip
    assert "Ask about culture at admission" in set(Store.open(db_url).pdsa()["change_idea"])
    at.run()  # the message is shown once, not on every later run
    assert not any("saved" in s.value for s in at.success)


def test_a_note_and_an_action_can_be_changed_in_place(db_url):
    store = Store.open(db_url)
    store.add_annotation(team="Willow Ward", measure="restraint_per_1000_obd", period="2026-10",
                         text="first words", author="x")  # fmt: skip
    at = opened("team", {"unit": "Willow Ward", "measure": "restraint_per_1000_obd"})
    new = next(t for t in at.text_input if t.label == "New text")
    new.input("better words")
    next(b for b in at.button if b.label == "Save the change").click().run()
    assert not at.exception, at.exception
    assert "better words" in set(store.annotations()["text"])
    assert "first words" not in set(store.annotations()["text"])
    assert any("Note changed" in s.value for s in at.success)
    at = opened("accountability", {})
    first = store.actions()["id"].iloc[0]
    owner = [t for t in at.text_input if t.label == "Owner (a role)"][-1]
    owner.input("Deputy director")
    [b for b in at.button if b.label == "Save the change"][-1].click().run()
    assert not at.exception, at.exception
    assert store.actions().set_index("id").loc[first, "owner"] == "Deputy director"


def test_the_workshop_refuses_a_count_above_its_denominator(db_url):
    at = opened("workshop", {"team": "Willow Ward", "measure": "detained_admissions",
                             "group": "All", "month": "2026-10", "value": "999"})  # fmt: skip
    assert any("cannot count more people than there are" in e.value for e in at.error)
    assert not at.warning  # nothing changed, so no signal changed
    assert at.metric[0].label.startswith("out of")


@pytest.mark.parametrize(
    ("page", "defaults"),
    [("board", ["details", "page", "risk"]), ("team", ["layout"]),
     ("pack", ["rules", "phases", "title", "team", "measure"]),
     ("completeness", ["due"]), ("accountability", ["risk"])],
)  # fmt: skip
def test_a_page_leaves_its_defaults_out_of_the_address(db_url, page, defaults):
    """Each change of the address is a step in the browser's history: a page that wrote its
    defaults on arrival would make Back seem to do nothing."""
    at = opened(page, {})
    assert not set(defaults) & set(at.query_params), (page, dict(at.query_params))
    # a control changed from its default is written
    if page == "team":
        widget(at, "Layout").set_value("One chart").run()
        assert at.query_params["layout"] in ("One chart", ["One chart"])
