"""Access through the dashboard (AppTest), on the bundled sample collaborative.

Accounts are set up through the store (a facilitator of the collaborative, a team
member for Willow Ward, a board viewer over the collaborative, a facilitator of one
trust); each test signs in by putting a session token in ``session_state`` (what the
sign-in form does) or through the form itself. Every refusal is checked in the page
(an ``st.error`` with the store's message, no traceback) and in the store, which must
be exactly as it was (row counts of every table, the observations shown, the upload
history, read as the facilitator).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from dashboard.session import TOKEN
from qi import access
from qi.snapshot import Snapshot
from qi.store import Store
from qi.store.models import Session
from tests.conftest import assert_unchanged, counting_snapshots, pressed

APP = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
PAGES = sorted(
    p.relative_to(APP.parent).as_posix() for p in (APP.parent / "app_pages").glob("*.py")
)
COLLAB = "Advancing Equality Sample Collaborative"
RIVERSIDE = "Riverside Mental Health NHS Foundation Trust"
PASSWORDS = {
    "fac": "facilitator pass 1",
    "willow": "willow ward member",
    "board": "board viewer pass 1",
    "riverfac": "riverside facilitator",
}
HEADER = "team,measure,period,group,numerator,denominator\n"
MEASURE = "restraint_per_1000_obd"
SQL = "'); DROP TABLE observation; --"
HTML = "<script>alert('x')</script><b>bold</b>"
#: Elements whose text Streamlit reads as Markdown (or HTML).
MARKUP = ("markdown", "caption", "title", "header", "subheader", "error", "warning",
          "info", "success", "exception", "html", "toast")  # fmt: skip


@dataclass
class Site:
    url: str
    store: Store  # no one signed in: refuses everything
    fac: Store  # the collaborative's facilitator, who sees everything

    def token(self, name: str) -> str:
        return self.store.sign_in(name, PASSWORDS[name]).token


@pytest.fixture
def site(sample_copy, monkeypatch) -> Iterator[Site]:
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    store = Store.open(sample_copy)
    store.add_user(
        "fac", password=PASSWORDS["fac"], email="fac@example.org", role="facilitator",
        scope="collaborative", name=COLLAB, user="set-up",
    )  # fmt: skip
    fac = store.sign_in("fac", PASSWORDS["fac"])
    fac.add_user("willow", password=PASSWORDS["willow"], role="team_member",
                 scope="team", name="Willow Ward")  # fmt: skip
    fac.add_user("board", password=PASSWORDS["board"], role="board_viewer",
                 scope="collaborative", name=COLLAB)  # fmt: skip
    fac.add_user("riverfac", password=PASSWORDS["riverfac"], role="facilitator",
                 scope="trust", name=RIVERSIDE)  # fmt: skip
    yield Site(sample_copy, store, fac)
    store.close()


def before(site: Site):
    """What a refusal must leave as it was (read as the facilitator)."""
    return site.fac.counts(), site.fac.observations(), site.fac.uploads()


def app(token: str | None = None, page: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    if token is not None:
        at.session_state[TOKEN] = token
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def elements(node) -> Iterator:
    """Every element drawn (main, sidebar, inside columns, forms and expanders)."""
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for child in children.values():
        yield from elements(child)


def everything(at: AppTest) -> str:
    """The whole page as sent to the browser: every element's message, as text."""
    return "\n".join(str(el.proto) for el in elements(at._tree) if hasattr(el, "proto"))


def markup(at: AppTest) -> list[str]:
    """The text of every element Streamlit renders as Markdown or HTML."""
    return [
        str(getattr(el, "value", None) or getattr(el.proto, "body", ""))
        for el in elements(at._tree)
        if getattr(el, "type", None) in MARKUP
    ]


def errors(at: AppTest) -> str:
    """Every error message, as the page shows it (Markdown escapes taken out)."""
    return "\n".join(e.value for e in at.error).replace("\\", "")


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def field(at: AppTest, label: str):
    return next(t for t in [*at.text_input, *at.text_area] if t.label.startswith(label))


def choose(at: AppTest, key: str, value) -> None:
    next(s for s in at.selectbox if s.key == key).set_value(value)


def shows_sign_in_form(at: AppTest) -> bool:
    labels = [t.label for t in at.text_input]
    return at.title[0].value == "Sign in" and labels == ["User name", "Password"]


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


@pytest.fixture
def menu(monkeypatch) -> dict:
    """title -> visibility of every page the last run offered (``st.navigation``)."""
    import streamlit

    seen: dict = {}
    original = streamlit.navigation

    def record(pages, *args, **kwargs):
        seen.clear()
        seen.update({p.title: p.visibility for section in pages.values() for p in section})
        return original(pages, *args, **kwargs)

    monkeypatch.setattr(streamlit, "navigation", record)
    return seen


# ---------------------------------------------------------------------- signing in
@pytest.mark.parametrize("page", PAGES)
def test_with_accounts_every_page_asks_to_sign_in_and_shows_no_data(site, page):
    at = app(page=page)
    assert shows_sign_in_form(at), [t.value for t in at.title]
    assert at.text_input[1].proto.type == at.text_input[1].proto.PASSWORD
    assert not at.dataframe and not at.get("plotly_chart") and not at.get("file_uploader")
    assert not at.error  # nothing refused yet: just the form


def test_signing_in_with_the_form_then_out(site, menu):
    at = app()
    field(at, "User name").set_value("willow")
    field(at, "Password").set_value(PASSWORDS["willow"])
    button(at, "Sign in").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Board summary"
    assert set(at.dataframe[0].value["unit"]) == {"Willow Ward"}  # only their team
    signed = [c.value for c in at.sidebar.caption]
    assert any("Signed in as willow \\(team member for team Willow Ward\\)" in c for c in signed)
    token = at.session_state[TOKEN]
    assert [k for k in at.session_state if k.startswith("qi_")] == [TOKEN]
    assert menu["Upload"] == "visible" and menu["People"] == "hidden"
    button(at, "Sign out").click().run()
    assert shows_sign_in_form(at)
    assert TOKEN not in at.session_state
    with pytest.raises(access.AccessDenied, match="session ended"):
        site.store.with_session(token)


def test_a_wrong_password_is_refused_and_never_shown_or_kept(site):
    snap = before(site)
    wrong = "not-the-password-42"
    at = app()
    field(at, "User name").set_value("fac")
    field(at, "Password").set_value(wrong)
    button(at, "Sign in").click().run()
    assert not at.exception, at.exception
    assert "user name or password not recognised" in errors(at)
    assert shows_sign_in_form(at)  # the form is back
    assert not at.text_input[1].proto.HasField("value")  # the page never sends it back
    page = everything(at)
    assert "user name or password not recognised" in page and wrong not in page
    assert all(wrong not in repr(at.session_state[k]) for k in at.session_state)
    assert TOKEN not in at.session_state
    log = site.fac.audit_log()
    assert (log["action"] == "sign_in_refused").sum() == 1
    assert not log.astype(str).apply(lambda c: c.str.contains(wrong)).any().any()
    counts, observations, uploads = snap
    counts["audit_log"] += 1  # the refused sign-in is recorded, without the password
    assert_unchanged(site.fac, (counts, observations, uploads))


@pytest.mark.parametrize("how", ["forged", "expired", "signed out", "disabled"])
def test_a_forged_or_ended_session_is_refused_and_the_form_comes_back(site, how):
    token = site.token("willow")
    if how == "forged":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif how == "expired":
        with site.store.engine.begin() as conn:  # the clock moves on 13 hours
            conn.execute(
                update(Session)
                .where(Session.token_sha256 == access.token_digest(token))
                .values(expires_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)
                        - dt.timedelta(hours=1))
            )  # fmt: skip
    elif how == "signed out":
        site.store.with_session(token).sign_out()
    else:
        site.fac.disable_user("willow")
    snap = before(site)
    for page in ("app_pages/upload.py", "app_pages/board.py"):
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.session_state[TOKEN] = token
        at.run()
        assert not at.exception, at.exception
        message = {
            "forged": "this session is not recognised: sign in again",
            "expired": "this session expired at",
            "signed out": "this session ended (signed out)",
            "disabled": "this session ended",  # disabling ends the sessions
        }[how]
        assert message in errors(at), errors(at)
        assert shows_sign_in_form(at)
        assert TOKEN not in at.session_state
        assert not at.dataframe and not at.get("file_uploader")
        at.switch_page(page).run()  # still nothing without signing in again
        assert shows_sign_in_form(at) and not at.dataframe
    assert_unchanged(site.fac, snap)


def test_the_identity_provider_signs_in_by_e_mail(site):
    auth = {
        "redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "qi", "client_secret": "s",
        "server_metadata_url": "https://login.example.org/.well-known/openid-configuration",
    }  # fmt: skip
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button] == ["Sign in with your organisation"]
    assert not at.dataframe and not at.text_input  # no password form in this mode

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": True, "email": "someone@example.org"}
    at.run()
    assert "someone@example.org has no account here: ask a facilitator" in errors(at)
    assert not at.dataframe and TOKEN not in at.session_state

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": True, "email": "fac@example.org", "email_verified": False}
    at.run()
    assert "has not verified this e-mail address" in errors(at)
    assert not at.dataframe and TOKEN not in at.session_state

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": True, "email": "FAC@example.org"}
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Board summary" and len(at.dataframe[0].value) >= 40
    assert any("Signed in as fac" in c.value for c in at.sidebar.caption)
    assert site.store.with_session(at.session_state[TOKEN]).whoami().username == "fac"


# ---------------------------------------------------------------------- what roles may do
def test_a_board_viewer_gets_no_upload_page_and_is_refused_at_its_address(site, menu):
    token = site.token("board")
    snap = before(site)
    at = app(token)
    assert menu["Upload"] == "hidden"
    assert menu["People"] == "hidden" and menu["Audit log"] == "hidden"
    assert menu["Board"] == "visible" and menu["Change log"] == "visible"
    at.switch_page("app_pages/upload.py").run()
    assert not at.exception, at.exception
    assert "may not upload or roll back data" in errors(at)
    assert "board (board viewer for collaborative" in errors(at)
    assert not at.get("file_uploader") and not at.dataframe
    at.switch_page("app_pages/changelog.py").run()  # reads, with no form to add
    assert len(at.dataframe[0].value) and not at.get("form")
    assert not [b for b in at.button if b.label == "Save cycle"]
    at.switch_page("app_pages/people.py").run()
    assert "may not manage people and their roles" in errors(at)
    at.switch_page("app_pages/audit.py").run()
    assert "may not read the audit log" in errors(at) and not at.dataframe
    assert_unchanged(site.fac, snap)


def test_a_team_member_may_not_upload_another_teams_rows(site):
    token = site.token("willow")
    snap = before(site)
    at = app(token, page="app_pages/upload.py")
    mixed = (HEADER + f"Willow Ward,{MEASURE},2026-10,Black,1,120\n"
             f"Cedar Ward,{MEASURE},2026-10,Black,2,80\n")  # fmt: skip
    at.file_uploader[0].upload("mixed.csv", mixed.encode(), "text/csv").run()
    assert not at.exception, at.exception
    assert "1 problem(s)" in errors(at) and "Nothing from this file will be stored" in errors(at)
    problems = at.dataframe[0].value
    assert problems[["file", "row", "column"]].values.tolist() == [["mixed.csv", 3, "team"]]
    assert "willow (team member for team Willow Ward) may not upload" in problems["message"][0]
    assert "Cedar Ward" in problems["message"][0]
    assert not [b for b in at.button if b.label.startswith("Store")]
    assert_unchanged(site.fac, snap)

    at = app(token, page="app_pages/upload.py")
    own = HEADER + f"Willow Ward,{MEASURE},2026-10,Black,1,120\n"
    at.file_uploader[0].upload("own.csv", own.encode(), "text/csv").run()
    # the sample holds this value already: the page asks before replacing it
    at.checkbox(key="confirm_replace").check().run()
    next(b for b in at.button if b.label.startswith("Store")).click().run()
    assert not at.exception, at.exception
    assert any("stored as upload" in s.value for s in at.success)
    latest = site.fac.uploads().iloc[0]
    assert (latest["file_name"], latest["uploaded_by"]) == ("own.csv", "willow")
    assert site.fac.counts()["upload"] == snap[0]["upload"] + 1


@pytest.mark.parametrize("who", ["willow", "board"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_for_a_narrower_role(site, who, page):
    at = app(site.token(who), page=page)
    refused = {
        "willow": {"app_pages/people.py", "app_pages/audit.py"},
        "board": {"app_pages/people.py", "app_pages/audit.py", "app_pages/upload.py"},
    }[who]
    if page in refused:
        assert " may not " in errors(at), errors(at)
        return
    assert not at.error, errors(at)
    assert len(at.title) == 1
    tables = [d.value for d in at.dataframe]
    assert any(len(t) for t in tables) or plotly_specs(at), f"{page} shows no table or chart"


def test_one_persons_cached_reads_are_never_served_to_a_narrower_scope(site):
    wide = app(site.token("fac"))
    assert len(set(wide.dataframe[0].value["unit"])) == 8
    narrow = app(site.token("willow"))  # same store version, same page, straight after
    assert set(narrow.dataframe[0].value["unit"]) == {"Willow Ward"}
    narrow.switch_page("app_pages/equality.py").run()
    units = next(s for s in narrow.selectbox if s.label == "Unit").options
    assert units == ["Willow Ward"]


def _snapshot_tables(store: Store) -> dict[str, pd.DataFrame]:
    snap = Snapshot.from_store(store)
    return {f.name: getattr(snap, f.name) for f in fields(snap) if f.name != "as_of"}


def test_two_people_with_the_same_grants_read_the_same_snapshot(site):
    """What the dashboard's cache relies on (``dashboard.session.scope_key``): reads
    depend on grants, not on who holds them, even what one of them wrote himself."""
    site.fac.add_user("board2", password="second board viewer", role="board_viewer",
                      scope="collaborative", name=COLLAB)  # fmt: skip
    site.fac.add_user("willow2", password="second willow member", role="team_member",
                      scope="team", name="Willow Ward")  # fmt: skip
    willow = site.store.with_session(site.token("willow"))
    willow.add_annotation(team="Willow Ward", measure=MEASURE, period="2025-03",
                          text="written by willow", author="willow")  # fmt: skip
    willow.record_review("Willow Ward", MEASURE, note="willow's review", user="willow")
    pairs = [("board", "board2", "board viewer pass 1", "second board viewer"),
             ("willow", "willow2", PASSWORDS["willow"], "second willow member")]  # fmt: skip
    for one, other, one_pw, other_pw in pairs:
        first = _snapshot_tables(site.store.sign_in(one, one_pw))
        second = _snapshot_tables(site.store.sign_in(other, other_pw))
        assert first.keys() == second.keys()
        for name, table in first.items():
            pd.testing.assert_frame_equal(table, second[name], obj=f"{one}/{other}: {name}")
    narrow = _snapshot_tables(site.store.sign_in("willow2", "second willow member"))
    assert set(narrow["observations"]["team"]) == {"Willow Ward"}
    assert "written by willow" in set(narrow["annotations"]["text"])
    assert len(_snapshot_tables(site.fac)["observations"]) > len(narrow["observations"])


def test_people_with_the_same_grants_share_one_cached_snapshot(site, monkeypatch):
    """Twenty board viewers at a board meeting compute the snapshot once, not twenty
    times; someone with other grants gets their own."""
    reads = counting_snapshots(monkeypatch)
    site.fac.add_user("board2", password="second board viewer", role="board_viewer",
                      scope="collaborative", name=COLLAB)  # fmt: skip
    first = app(site.token("board"))
    second = app(site.store.sign_in("board2", "second board viewer").token)
    assert reads == ["board"]
    pd.testing.assert_frame_equal(first.dataframe[0].value, second.dataframe[0].value)
    app(site.token("riverfac"))  # a trust's facilitator: other grants, another snapshot
    assert reads == ["board", "riverfac"]


def test_only_a_facilitator_over_the_scope_changes_roles_and_it_is_audited(site, menu):
    willow, riverfac = site.token("willow"), site.token("riverfac")
    snap = before(site)
    at = app(willow, page="app_pages/people.py")
    assert "willow (team member for team Willow Ward) may not manage people" in errors(at)
    assert not [b for b in at.button if b.label in ("Add account", "Save role")]
    assert_unchanged(site.fac, snap)

    # a trust's facilitator sees only their trust's people, and may not give a role
    # over the whole collaborative (not even to themselves)
    at = app(riverfac, page="app_pages/people.py")
    assert menu["People"] == "visible"
    account = next(s for s in at.selectbox if s.key == "people_role_account")
    assert "board" not in account.options and "riverfac" in account.options
    choose(at, "people_role_account", "riverfac")
    choose(at, "people_role_role", "facilitator")
    choose(at, "people_role_place", f"collaborative: {COLLAB}")
    button(at, "Save role").click().run()
    assert not at.exception, at.exception
    assert "Nothing was changed" in errors(at) and "may not manage people" in errors(at)
    assert_unchanged(site.fac, snap)

    # the collaborative's facilitator may, and the audit log shows who and when
    at = app(site.token("fac"), page="app_pages/people.py")
    choose(at, "people_role_account", "board")
    choose(at, "people_role_role", "team_member")
    choose(at, "people_role_place", "team: Willow Ward")
    button(at, "Save role").click().run()
    assert not at.exception and not at.error, errors(at)
    assert any("board: given team member for team: Willow Ward" in s.value.replace("\\", "")
               for s in at.success)  # fmt: skip
    people = at.dataframe[0].value
    assert ["team_member", "team", "Willow Ward"] in people.loc[
        people["username"] == "board", ["role", "scope", "name"]
    ].values.tolist()
    at.switch_page("app_pages/audit.py").run()
    log = at.dataframe[0].value
    assert log["id"].is_monotonic_decreasing  # newest first
    newest = log.iloc[0]
    assert (newest["actor"], newest["action"], newest["entity_id"]) == ("fac", "grant", "board")
    assert newest["detail"] == "team_member for team Willow Ward"
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    assert now - pd.Timedelta(minutes=5) < pd.Timestamp(newest["at"]) <= now  # UTC
    next(m for m in at.multiselect if m.label == "What").set_value(["grant"]).run()
    assert set(at.dataframe[0].value["action"]) == {"grant"}
    # the board viewer's new role takes effect on their next run
    board = app(site.token("board"), page="app_pages/upload.py")
    assert not board.error and board.get("file_uploader")


# ---------------------------------------------------------------------- text stays data
@pytest.mark.parametrize("payload", [SQL, HTML])
def test_sql_and_html_in_every_text_field_are_stored_and_shown_as_typed(site, payload):
    snap = before(site)
    # People: the user name is refused with the message, shown as text
    at = app(site.token("fac"), page="app_pages/people.py")
    field(at, "User name").set_value(payload)
    field(at, "Full name").set_value(payload)
    field(at, "E-mail").set_value(payload)
    field(at, "Password").set_value(payload)
    button(at, "Add account").click().run()
    assert not at.exception, at.exception
    assert "is not allowed" in errors(at)
    assert any("is not allowed" in text for text in markup(at))  # the error is in markup()
    assert all(payload not in text for text in markup(at))
    assert site.fac.counts()["app_user"] == snap[0]["app_user"]
    # a good user name, the bad e-mail: refused
    field(at, "User name").set_value("mallory")
    field(at, "E-mail").set_value(payload)
    field(at, "Password").set_value(payload)
    button(at, "Add account").click().run()
    assert "is not an e-mail address" in errors(at)
    assert all(payload not in text for text in markup(at))
    # free text: full name and password stored as typed
    field(at, "User name").set_value("mallory")
    field(at, "Full name").set_value(payload)
    field(at, "Password").set_value(payload)
    choose(at, "people_add_role", "board_viewer")
    choose(at, "people_add_place", "team: Willow Ward")
    button(at, "Add account").click().run()
    assert not at.error, errors(at)
    assert all(payload not in text for text in markup(at))
    people = at.dataframe[0].value.set_index("username")
    assert people.loc["mallory", "display_name"] == payload  # a table cell: text, as typed
    site.store.sign_in("mallory", payload).sign_out()  # the password is the one typed
    # set a password to the payload, giving the payload as the current one
    at = app(site.token("fac"), page="app_pages/people.py")
    choose(at, "people_password_account", "mallory")
    field(at, "New password").set_value(payload + "!")
    field(at, "Your current password").set_value(payload)
    button(at, "Set password").click().run()
    assert not at.error, errors(at)
    assert all(payload not in text for text in markup(at))
    site.store.sign_in("mallory", payload + "!")

    # the change log, as the team member
    at = app(site.token("willow"), page="app_pages/changelog.py")
    field(at, "Group it targets").set_value(payload)
    field(at, "Change idea").set_value(payload)
    field(at, "What was learnt").set_value(payload)
    button(at, "Save cycle").click().run()
    assert not at.exception and not at.error, errors(at)
    cycles = site.fac.pdsa()
    mine = cycles[cycles["change_idea"] == payload]
    assert len(mine) == 1 and mine.iloc[0]["learning"] == payload
    assert mine.iloc[0]["group"] == payload and mine.iloc[0]["team"] == "Willow Ward"
    assert payload in at.dataframe[0].value["Change idea"].tolist()
    assert all(payload not in text for text in markup(at))

    # a note on a chart, as the team member
    at = app(site.token("willow"), page="app_pages/team.py", unit="Willow Ward",
             measure=MEASURE)  # fmt: skip
    field(at, "Note").set_value(payload)
    button(at, "Save note").click().run()
    assert not at.exception and not at.error, errors(at)
    notes = site.fac.annotations(team="Willow Ward", measure=MEASURE)
    assert notes.iloc[-1][["text", "author"]].tolist() == [payload, "willow"]
    (spec,) = plotly_specs(at)
    labels = json.dumps(spec["layout"].get("annotations", [])) + json.dumps(spec["data"])
    # escaped once for plotly: &, < and > only (plotly shows &quot; and &#x27; as written)
    assert json.dumps(html.escape(payload, quote=False))[1:-1] in labels
    if payload == HTML:
        assert "<script>" not in labels and "<b>bold" not in labels
    assert all(payload not in text for text in markup(at))

    # nothing else changed: no table dropped, the data as they were
    pd.testing.assert_frame_equal(site.fac.observations(), snap[1])
    pd.testing.assert_frame_equal(site.fac.uploads(), snap[2])
    assert site.fac.counts()["observation"] == snap[0]["observation"]


# ---------------------------------------------------------------------- small numbers
EQUALITY = {"unit": "Willow Ward", "measure": MEASURE, "reference": "White"}
SMALL = "Show small numbers (your role allows it)"


def counts_table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[-1].value


def test_a_board_viewer_sees_small_numbers_suppressed_with_no_choice(site, downloads):
    at = app(site.token("board"), page="app_pages/equality.py", **EQUALITY)
    assert not [c for c in at.checkbox if c.label == SMALL]
    table = counts_table(at)
    assert (table == "*").any().any()
    numbers = table.replace("*", None).apply(pd.to_numeric, errors="coerce")
    assert not ((numbers >= 1) & (numbers <= 7)).any().any()
    at = app(site.token("board"), page="app_pages/team.py", unit="Willow Ward", measure=MEASURE)
    assert not [c for c in at.checkbox if c.label == SMALL]
    data = pd.read_csv(io.BytesIO(pressed(downloads, "Data (CSV)")), dtype=str)
    assert (data["numerator"] == "*").any()


def test_a_facilitator_may_choose_to_see_small_numbers(site, downloads):
    at = app(site.token("fac"), page="app_pages/equality.py", **EQUALITY)
    box = next(c for c in at.checkbox if c.label == SMALL)
    assert box.value is False and (counts_table(at) == "*").any().any()  # off by default
    box.check().run()
    assert not at.exception, at.exception
    table = counts_table(at)
    assert not (table.astype(str) == "*").any().any()
    shown = table.apply(pd.to_numeric, errors="coerce")  # (counts shown as text)
    assert ((shown >= 1) & (shown <= 7)).any().any()  # the real small counts
    at = app(site.token("fac"), page="app_pages/team.py", unit="Willow Ward", measure=MEASURE)
    next(c for c in at.checkbox if c.label == SMALL).check().run()
    data = pd.read_csv(io.BytesIO(pressed(downloads, "Data (CSV)")), dtype=str)
    assert not (data["numerator"] == "*").any()
    assert pd.to_numeric(data["numerator"]).between(1, 7).any()


def test_a_team_member_may_choose_small_numbers_for_their_own_team(site):
    at = app(site.token("willow"), page="app_pages/equality.py", **EQUALITY)
    next(c for c in at.checkbox if c.label == SMALL).check().run()
    assert not (counts_table(at).astype(str) == "*").any().any()
    board = app(site.token("board"))  # the board matrix: the viewer gets no choice
    assert not [c for c in board.checkbox if c.label == SMALL]


# ---------------------------------------------------------------------- local mode
def test_with_no_accounts_the_app_runs_as_before_in_local_mode(sample_copy, monkeypatch, menu):
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    monkeypatch.setenv("QI_USER", "ward-manager")
    at = app()
    assert at.title[0].value == "Board summary" and len(at.dataframe[0].value) >= 40
    assert any("Single-user local mode" in c.value for c in at.sidebar.caption)
    assert not [t for t in at.text_input if t.label == "Password"]
    assert all(v == "visible" for v in menu.values()), menu
    at.switch_page("app_pages/upload.py").run()
    own = HEADER + f"Willow Ward,{MEASURE},2026-10,Black,1,120\n"
    at.file_uploader[0].upload("local.csv", own.encode(), "text/csv").run()
    at.checkbox(key="confirm_replace").check().run()  # it replaces the sample's value
    next(b for b in at.button if b.label.startswith("Store")).click().run()
    assert not at.exception and any("stored as upload" in s.value for s in at.success)
    with Store.open(sample_copy) as store:
        assert store.uploads().iloc[0]["uploaded_by"] == "ward-manager"
        assert not store.has_accounts()
