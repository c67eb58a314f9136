"""Access through the Python interface: roles and scopes enforced by the store.

Every refusal is checked three ways: it raises (or reports) with a message that says
who asked and what for, and the store is exactly as it was (row counts of every
table, the observations shown, the upload history). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import inspect, select, text, update

from qi.access import SIGN_IN_REFUSED, AccessDenied, Principal
from qi.store import Store, StoreError
from qi.store.models import Session, User
from tests.conftest import HEADER, assert_unchanged

COLLAB = "Test Collaborative"
PASSWORDS = {
    "fac": "facilitator pass 1",
    "hillfac": "hill trust facilitator",
    "willow": "willow ward member",
    "oak": "oak ward member pass",
    "board": "board viewer pass 1",
}
WILLOW_FILE = (HEADER + "Willow Ward,detained,2025-01,Black,3,9\n").encode()
OAK_FILE = (HEADER + "Oak Ward,detained,2025-01,Black,2,8\n").encode()
MIXED_FILE = (
    HEADER + "Willow Ward,detained,2025-02,Black,3,9\nOak Ward,detained,2025-02,Black,2,8\n"
).encode()


@pytest.fixture
def people(store: Store) -> dict[str, Store]:
    """Five accounts on the three-team store, each signed in; Willow and Oak hold one
    upload each, made before the accounts existed (in local mode)."""
    assert store.import_file(WILLOW_FILE, "willow.csv", user="set-up").upload_id
    assert store.import_file(OAK_FILE, "oak.csv", user="set-up").upload_id
    store.add_user("fac", password=PASSWORDS["fac"], role="facilitator",
                   scope="collaborative", name=COLLAB, user="set-up")  # fmt: skip
    fac = store.sign_in("fac", PASSWORDS["fac"])
    fac.add_user("hillfac", password=PASSWORDS["hillfac"], role="facilitator",
                 scope="trust", name="Hill Trust")  # fmt: skip
    fac.add_user("willow", password=PASSWORDS["willow"], role="team_member",
                 scope="team", name="Willow Ward")  # fmt: skip
    fac.add_user("oak", password=PASSWORDS["oak"], role="team_member",
                 scope="team", name="Oak Ward")  # fmt: skip
    fac.add_user("board", password=PASSWORDS["board"], role="board_viewer",
                 scope="trust", name="Vale Trust")  # fmt: skip
    signed = {name: store.sign_in(name, pw) for name, pw in PASSWORDS.items() if name != "fac"}
    return {"anonymous": store, "fac": fac, **signed}


def before(store: Store):
    """What must not change (read as the facilitator, who sees everything)."""
    return store.counts(), store.observations(), store.uploads()


def assert_unchanged_but_refusals(store: Store, snap) -> None:
    """Unchanged, except that refused sign-ins were written to the audit log."""
    counts, observations, uploads = snap
    log = store.audit_log()
    added = log.iloc[counts["audit_log"] :]
    assert set(added["action"]) <= {"sign_in_refused"}, added
    assert store.counts() == {**counts, "audit_log": len(log)}
    pd.testing.assert_frame_equal(store.observations(), observations)
    pd.testing.assert_frame_equal(store.uploads(), uploads)


def refused(call, *words: str) -> str:
    with pytest.raises(AccessDenied) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


# ---------------------------------------------------------------------- local mode
def test_with_no_accounts_the_local_user_may_do_everything(store):
    who = store.whoami("ward-manager")
    assert who.local and who.label == "ward-manager (single-user local mode)"
    result = store.import_file(WILLOW_FILE, "w.csv", user="ward-manager")
    assert result.upload_id is not None
    assert store.uploads()["uploaded_by"].tolist() == ["ward-manager"]
    assert store.has_accounts() is False


def test_the_first_account_must_be_a_collaborative_facilitator(store):
    snap = before(store)
    refused(
        lambda: store.add_user("willow", password=PASSWORDS["willow"], role="team_member",
                               scope="team", name="Willow Ward"),
        "first account must be a facilitator of the collaborative",
    )  # fmt: skip
    assert_unchanged(store, snap)
    assert not store.has_accounts()


def test_with_accounts_no_one_signed_in_reads_or_writes_nothing(people):
    anonymous, fac = people["anonymous"], people["fac"]
    snap = before(fac)
    for call in (
        anonymous.observations,
        anonymous.teams,
        anonymous.uploads,
        anonymous.pdsa,
        anonymous.audit_log,
        lambda: anonymous.import_file(WILLOW_FILE, "again.csv"),
        lambda: anonymous.rollback(1),
        lambda: anonymous.add_annotation(team="Willow Ward", measure="detained",
                                         period="2025-01", text="note", author="x"),
        lambda: anonymous.register_teams(pd.DataFrame({"collaborative": [COLLAB], "ics": ["i"],
                                                       "trust": ["t"], "team": ["New"]})),
    ):  # fmt: skip
        refused(call, "sign in first")
    assert_unchanged(fac, snap)


# ---------------------------------------------------------------------- writing data
def test_a_team_member_may_not_upload_another_teams_data(people):
    willow, fac = people["willow"], people["fac"]
    snap = before(fac)
    result = willow.import_file(MIXED_FILE, "mixed.csv")
    assert result.upload_id is None
    [problem] = result.problems
    assert (problem.file, problem.row, problem.column) == ("mixed.csv", 3, "team")
    assert "willow (team member for team Willow Ward) may not upload" in problem.message
    assert problem.message.endswith("for Oak Ward")
    assert_unchanged(fac, snap)
    # the dry run (and validate) say the same
    _, problems = willow.validate(MIXED_FILE, "mixed.csv")
    assert [(p.row, p.column) for p in problems] == [(3, "team")]
    # their own team's data is fine, and recorded under their name whatever `user` says
    own = (HEADER + "Willow Ward,detained,2025-03,Black,1,5\n").encode()
    done = willow.import_file(own, "own.csv", user="fac")
    assert done.upload_id is not None
    assert fac.uploads().iloc[0]["uploaded_by"] == "willow"
    assert fac.audit_log().iloc[-1][["actor", "action"]].tolist() == ["willow", "import"]


def test_a_team_member_may_not_roll_back_or_annotate_another_team(people):
    willow, fac = people["willow"], people["fac"]
    oak_upload = int(fac.uploads().set_index("file_name").loc["oak.csv", "id"])
    snap = before(fac)
    refused(lambda: willow.rollback(oak_upload), "willow", "may not upload or roll back",
            "Oak Ward", "nothing was changed")  # fmt: skip
    refused(
        lambda: willow.add_annotation(team="Oak Ward", measure="detained", period="2025-01",
                                      text="not mine", author="willow"),
        "may not change the change log", "Oak Ward",
    )  # fmt: skip
    cycles = pd.DataFrame([{"team": "Oak Ward", "measure": "detained", "group": "Black",
                            "change_idea": "x", "cycle": "1", "stage": "plan",
                            "start": "2025-01-05", "end": "", "learning": "",
                            "lived_experience": "consulted"}])  # fmt: skip
    with pytest.raises(StoreError) as info:
        willow.import_pdsa(cycles)
    [problem] = info.value.problems
    assert (problem.row, problem.column) == (2, "team") and "Oak Ward" in problem.message
    assert_unchanged(fac, snap)


def test_a_board_viewer_may_not_upload_or_change_anything(people):
    board, fac = people["board"], people["fac"]
    snap = before(fac)
    for call in (
        lambda: board.import_file(WILLOW_FILE, "w.csv"),
        lambda: board.import_file(WILLOW_FILE, "w.csv", dry_run=True),
        lambda: board.validate(WILLOW_FILE, "w.csv"),
        lambda: board.rollback(1),
    ):
        refused(call, "board (board viewer for trust Vale Trust) may not upload or roll back")
    refused(lambda: board.add_annotation(team="=HYPERLINK(\"x\") Team", measure="detained",
                                         period="2025-01", text="hi", author="board"),
            "may not change the change log")  # fmt: skip
    refused(lambda: board.complete_action(1), "may not change the change log")
    refused(lambda: board.load_measures(pd.DataFrame()), "may not change the teams, measures")
    assert_unchanged(fac, snap)


# ---------------------------------------------------------------------- sessions
def test_a_forged_session_is_refused(people):
    fac = people["fac"]
    snap = before(fac)
    real = fac.token
    for forged in ("", "x" * 43, real[:-1] + ("A" if real[-1] != "A" else "B"),
                   "' OR '1'='1", f"{real}' --"):  # fmt: skip
        with pytest.raises(AccessDenied, match="session is not recognised: sign in again"):
            people["anonymous"].with_session(forged)
    # a store handed a made-up token is refused at its first request, too
    forged = people["anonymous"]._bound("made-up-token", None)
    refused(lambda: forged.import_file(WILLOW_FILE, "w.csv"), "not recognised")
    refused(forged.observations, "not recognised")
    assert_unchanged(fac, snap)


def test_an_expired_or_ended_session_is_refused(people, store):
    willow, fac = people["willow"], people["fac"]
    with store.engine.begin() as conn:  # the clock moves on 13 hours
        conn.execute(
            update(Session)
            .where(Session.token_sha256 == __import__("qi").access.token_digest(willow.token))
            .values(expires_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)
                    - dt.timedelta(hours=1))
        )  # fmt: skip
    snap = before(fac)
    refused(lambda: willow.import_file(WILLOW_FILE, "w.csv"), "session expired at", "sign in")
    refused(lambda: store.with_session(willow.token), "session expired")
    oak = people["oak"]
    oak.sign_out()
    refused(lambda: oak.import_file(OAK_FILE, "o.csv"), "session ended (signed out)")
    fac.disable_user("board")
    refused(people["board"].observations, "session ended")
    refused(lambda: store.sign_in("board", PASSWORDS["board"]), "not recognised")
    assert fac.counts()["upload"] == snap[0]["upload"]
    pd.testing.assert_frame_equal(fac.observations(), snap[1])


def test_a_wrong_password_gets_the_same_answer_as_an_unknown_user_and_then_a_wait(people):
    anonymous = people["anonymous"]
    a = refused(lambda: anonymous.sign_in("willow", "wrong password here"))
    b = refused(lambda: anonymous.sign_in("nobody", "wrong password here"))
    assert a == b == SIGN_IN_REFUSED
    for _ in range(4):
        refused(lambda: anonymous.sign_in("willow", "wrong again, sorry"))
    # the right password now waits too, with the same answer (it says nothing more)
    assert refused(lambda: anonymous.sign_in("willow", PASSWORDS["willow"])) == SIGN_IN_REFUSED
    # another account is not held up
    assert anonymous.sign_in("oak", PASSWORDS["oak"]).whoami().username == "oak"


# ---------------------------------------------------------------------- roles
def test_only_a_facilitator_over_the_scope_may_change_roles(people):
    fac, hillfac = people["fac"], people["hillfac"]
    snap = before(fac)
    people_before = fac.people()
    for who in ("willow", "board", "oak"):
        refused(lambda who=who: people[who].grant(who, "facilitator", "collaborative", COLLAB),
                f"{who} (", "may not manage people")  # fmt: skip
        refused(lambda who=who: people[who].revoke("fac", "facilitator", "collaborative", COLLAB),
                "may not manage people")  # fmt: skip
        refused(lambda who=who: people[who].add_user(
            "eve", password="eve's password 1", role="facilitator", scope="collaborative",
            name=COLLAB), "may not manage people")  # fmt: skip
        refused(lambda who=who: people[who].set_password("fac", "new password 123"),
                "may not manage people")  # fmt: skip
        refused(people[who].people, "may not manage people")
    # a trust's facilitator manages their trust's teams, not the rest
    refused(lambda: hillfac.grant("board", "board_viewer", "collaborative", COLLAB),
            "hillfac (facilitator for trust Hill Trust) may not manage people",
            "collaborative Test Collaborative")  # fmt: skip
    refused(lambda: hillfac.grant("willow", "team_member", "trust", "Vale Trust"), "Vale Trust")
    refused(lambda: hillfac.disable_user("fac"), "may not manage people")
    assert_unchanged(fac, snap)
    pd.testing.assert_frame_equal(fac.people(), people_before)
    hillfac.grant("willow", "team_member", "team", "Oak Ward")
    assert people["willow"].teams()["team"].tolist() == ["Oak Ward", "Willow Ward"]
    log = fac.audit_log().iloc[-1]
    assert (log["actor"], log["action"], log["entity_id"]) == ("hillfac", "grant", "willow")
    assert log["detail"] == "team_member for team Oak Ward"
    # never the last facilitator of the collaborative
    with pytest.raises(StoreError, match="no facilitator of the collaborative"):
        fac.revoke("fac", "facilitator", "collaborative", COLLAB)
    assert fac.whoami().grants[0].role == "facilitator"


def test_reads_are_limited_to_the_scope(people):
    assert people["willow"].teams()["team"].tolist() == ["Willow Ward"]
    assert set(people["willow"].observations()["team"]) == {"Willow Ward"}
    assert people["willow"].uploads()["file_name"].tolist() == ["willow.csv"]
    assert people["board"].observations().empty  # Vale Trust has no data yet
    assert people["board"].teams()["team"].tolist() == ['=HYPERLINK("x") Team']
    assert set(people["hillfac"].observations()["team"]) == {"Willow Ward", "Oak Ward"}
    assert people["willow"].observations(teams=["Oak Ward"]).empty
    refused(people["willow"].audit_log, "may not read the audit log")
    refused(lambda: people["hillfac"].load_measures(pd.DataFrame()),
            "it needs a role over the collaborative")  # fmt: skip
    assert len(people["fac"].audit_log()) > 0


def test_unsuppressed_small_numbers_only_for_roles_allowed(people, tmp_path):
    fac, willow = people["fac"], people["willow"]
    fac.grant("board", "board_viewer", "trust", "Hill Trust")
    board = people["board"]
    assert board.may_see_small_numbers(["Willow Ward"]).tolist() == [False]
    assert willow.may_see_small_numbers(["Willow Ward", "Oak Ward"]).tolist() == [True, False]
    board.export(tmp_path / "board.csv")
    shown = pd.read_csv(tmp_path / "board.csv", dtype=str)
    # numerators 3 and 2 hidden; denominators 9 and 8 are above 7 and shown
    assert shown[["team", "numerator", "denominator"]].values.tolist() == [
        ["Oak Ward", "*", "8"],
        ["Willow Ward", "*", "9"],
    ]
    refused(lambda: board.export(tmp_path / "x.csv", small_numbers=True),
            "may not see unsuppressed small numbers")  # fmt: skip
    willow.export(tmp_path / "willow.csv")
    own = pd.read_csv(tmp_path / "willow.csv", dtype=str)
    assert own[["numerator", "denominator"]].values.tolist() == [["3", "9"]]
    fac.export(tmp_path / "fac.csv", small_numbers=False)
    assert set(pd.read_csv(tmp_path / "fac.csv", dtype=str)["numerator"]) == {"*"}


# ---------------------------------------------------------------------- passwords
def test_passwords_are_stored_only_as_argon2_hashes(people, store):
    fac = people["fac"]
    fac.set_password("willow", "a brand new password")
    people["oak"].set_password("oak", "oak's next password", current=PASSWORDS["oak"])
    with pytest.raises(AccessDenied, match="current password is not right"):
        people["hillfac"].set_password("hillfac", "whatever password", current="wrong one")
    with store.engine.connect() as conn:
        hashes = dict(conn.execute(select(User.username, User.password_hash)).all())
        everything = []
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                everything.extend(str(v) for v in row)
    assert all(h.startswith("$argon2id$") for h in hashes.values())
    dump = "\n".join(everything)
    for password in [*PASSWORDS.values(), "a brand new password", "oak's next password",
                     "whatever password", "wrong password here"]:  # fmt: skip
        assert password not in dump
    # the session tokens are not stored either, only their digests
    assert people["willow"].token not in dump
    # the old password no longer opens the account; the new one does, and the
    # change ended willow's sessions
    refused(lambda: store.sign_in("willow", PASSWORDS["willow"]), "not recognised")
    refused(people["willow"].observations, "session ended")
    assert store.sign_in("willow", "a brand new password").whoami().username == "willow"
    with pytest.raises(ValueError, match="at least 12 characters"):
        fac.set_password("willow", "short")


# ---------------------------------------------------------------------- text as data
SQL = "'); DROP TABLE observation; --"
HTML = "<script>alert('x')</script><b>bold</b>"


@pytest.mark.parametrize("payload", [SQL, HTML])
def test_sql_and_html_in_every_text_field_stay_data(people, store, payload):
    fac, willow = people["fac"], people["willow"]
    tables = set(inspect(store.engine).get_table_names())
    snap = before(fac)
    # identifiers: refused with a clear message, nothing stored
    with pytest.raises(ValueError, match=r"user name .* is not allowed"):
        fac.add_user(payload, password="a fine password", role="board_viewer",
                     scope="team", name="Willow Ward")  # fmt: skip
    with pytest.raises(ValueError, match="unknown role"):
        fac.grant("willow", payload, "team", "Willow Ward")
    with pytest.raises(ValueError, match="unknown scope"):
        fac.grant("willow", "board_viewer", payload, "Willow Ward")
    with pytest.raises(StoreError, match="there is no team called"):
        fac.grant("willow", "board_viewer", "team", payload)
    with pytest.raises(ValueError, match="is not an e-mail address"):
        fac.add_user("mallory", email=payload, role="board_viewer", scope="team",
                     name="Willow Ward")  # fmt: skip
    refused(lambda: store.sign_in(payload, payload), "not recognised")
    refused(lambda: store.with_session(payload), "not recognised")
    refused(lambda: store.sign_in_identity(payload), "has no account here")
    bad = (HEADER + f"{payload},detained,2025-01,{payload},1,2\n").encode()
    assert willow.import_file(bad, payload).upload_id is None
    assert_unchanged_but_refusals(fac, snap)
    # free text: stored exactly as typed, as data
    fac.add_user("mallory", password="mallory's password", display_name=payload,
                 role="board_viewer", scope="team", name="Willow Ward")  # fmt: skip
    note = willow.add_annotation(team="Willow Ward", measure="detained", period="2025-01",
                                 text=payload, author=payload)  # fmt: skip
    notes = fac.annotations()
    assert notes.set_index("id").loc[note, ["text", "author"]].tolist() == [payload, "willow"]
    assert fac.people().set_index("username").loc["mallory", "display_name"] == payload
    assert set(inspect(store.engine).get_table_names()) == tables
    pd.testing.assert_frame_equal(fac.observations(), snap[1])


def test_a_principal_is_never_taken_from_the_caller(people):
    """The store decides who acts: a signed-in store ignores `user=`, and there is no
    way to hand it a Principal."""
    willow = people["willow"]
    willow.add_annotation(team="Willow Ward", measure="detained", period="2025-01",
                          text="ok", author="fac")  # fmt: skip
    assert people["fac"].annotations()["author"].tolist() == ["willow"]
    assert not any("principal" in name.lower() for name in dir(willow) if not name.startswith("_"))
    assert Principal.local_user("x").local  # only ever used when there are no accounts


def test_text_longer_than_its_column_is_refused_before_anything_is_written(people):
    """On PostgreSQL an over-long value used to fail inside the transaction with a
    database error; now it is a problem with its row and column, and nothing is stored."""
    fac, willow = people["fac"], people["willow"]
    snap = before(fac)
    cycles = pd.DataFrame([{"team": "Willow Ward", "measure": "detained", "group": "Black",
                            "change_idea": "x" * 501, "cycle": "1", "stage": "plan",
                            "start": "2025-01-05", "end": "", "learning": "y" * 5000,
                            "lived_experience": "consulted"}])  # fmt: skip
    with pytest.raises(StoreError) as info:
        willow.import_pdsa(cycles)
    assert [(p.row, p.column, p.message) for p in info.value.problems] == [
        (2, "change_idea", "change_idea is longer than 500 characters")
    ]
    owners = pd.DataFrame([{"team": "Willow Ward", "measure": "detained", "owner": "o" * 201,
                            "sponsor": "s", "review_every_months": "1"}])  # fmt: skip
    with pytest.raises(StoreError, match="owner"):
        willow.load_owners(owners)
    assert_unchanged(fac, snap)
    cycles["change_idea"] = "x" * 500  # the longest that fits, with long learning, is stored
    assert willow.import_pdsa(cycles) == 1
    assert fac.pdsa()["learning"].str.len().tolist() == [5000]


# ---------------------------------------------------------------------- from the review
def test_a_role_revoked_while_a_request_runs_stops_its_write(people, monkeypatch):
    """The rights are checked again under the write lock, not only before validating."""
    import qi.store.uploads as store_module

    fac, willow = people["fac"], people["willow"]
    snap = before(fac)
    real = store_module.validate_observations

    def revoke_meanwhile(*args, **kwargs):
        fac.revoke("willow", "team_member", "team", "Willow Ward")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "validate_observations", revoke_meanwhile)
    own = (HEADER + "Willow Ward,detained,2025-03,Black,1,5\n").encode()
    refused(lambda: willow.import_file(own, "own.csv"), "willow (no role) may not upload")
    assert fac.counts()["upload"] == snap[0]["upload"]
    pd.testing.assert_frame_equal(fac.observations(), snap[1])


def test_a_trust_name_names_one_trust(people):
    """Roles are granted on a trust by name: a second trust of that name elsewhere would
    fall under the first one's grants."""
    fac = people["fac"]
    snap = before(fac)
    moved = pd.DataFrame({"collaborative": [COLLAB], "ics": ["South ICS"],
                          "trust": ["Hill Trust"], "team": ["Birch Ward"]})  # fmt: skip
    with pytest.raises(StoreError) as info:
        fac.register_teams(moved)
    [problem] = info.value.problems
    assert (problem.row, problem.column) == (2, "trust")
    assert "a trust called Hill Trust is in another ICS" in problem.message
    assert_unchanged(fac, snap)


def test_a_trust_facilitator_sees_only_their_trust_in_people_and_not_the_audit_log(people):
    hillfac = people["hillfac"]
    shown = hillfac.people()
    assert set(shown["username"]) == {"hillfac", "willow", "oak"}  # Hill Trust's roles
    assert set(shown["scope"] + " " + shown["name"]) <= {
        "trust Hill Trust", "team Willow Ward", "team Oak Ward"}  # fmt: skip
    refused(hillfac.audit_log, "may not read the audit log",
            "it needs a role over the collaborative")  # fmt: skip


def test_an_account_without_a_role_is_managed_only_from_the_collaborative(people):
    fac, hillfac = people["fac"], people["hillfac"]
    fac.revoke("oak", "team_member", "team", "Oak Ward")
    snap = before(fac)
    refused(lambda: hillfac.set_password("oak", "taken over, maybe"), "it has no role yet")
    refused(lambda: hillfac.disable_user("oak"), "it has no role yet")
    assert_unchanged(fac, snap)
    fac.set_password("oak", "set by the collaborative")


def test_an_unknown_user_name_is_not_kept_in_the_audit_log(people):
    """It may be a password typed into the wrong box."""
    fac = people["fac"]
    refused(lambda: people["anonymous"].sign_in("my secret password", "whatever it is"))
    last = fac.audit_log().iloc[-1]
    assert last["action"] == "sign_in_refused"
    assert last["entity_id"].startswith("(unknown user name ")
    assert "my secret password" not in fac.audit_log().to_string()
