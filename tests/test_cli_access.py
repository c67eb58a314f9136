"""Access through the ``qi`` command line: the same refusals as through Python.

Each command runs through :func:`qi.cli.main` as the console script does, with the
session in ``QI_SESSION`` or the saved-session file, and passwords on standard
input. A refusal prints ``qi: <why>`` (or ``FILE:ROW:COLUMN: message`` for an upload's
rows), exits 1, and leaves the store as it was; so does any other error of a command
(one line, not a traceback).
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

from qi.access import SIGN_IN_REFUSED
from qi.cli import main
from tests.conftest import HEADER, assert_unchanged
from tests.test_access import (  # noqa: F401 (people is the fixture)
    COLLAB,
    HTML,
    PASSWORDS,
    SQL,
    assert_unchanged_but_refusals,
    before,
    people,
)


@pytest.fixture
def cli(people, store, monkeypatch, tmp_path, capsys):
    """Run ``qi`` as someone: ``cli(["import", ...], as_="willow", stdin="...")`` →
    (exit code, stdout, stderr)."""
    url = store.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("QI_SESSION_FILE", str(tmp_path / "sessions.json"))

    def run(args, *, as_=None, stdin="", token=None):
        if as_ is not None:
            token = people[as_].token
        if token is None:
            monkeypatch.delenv("QI_SESSION", raising=False)
        else:
            monkeypatch.setenv("QI_SESSION", token)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(["--db", url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def write(tmp_path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return str(path)


def test_a_team_member_may_not_import_another_teams_rows(cli, people, tmp_path):
    fac = people["fac"]
    snap = before(fac)
    path = write(tmp_path, "mixed.csv", "Willow Ward,detained,2025-05,Black,1,4\n"
                 "Oak Ward,detained,2025-05,Black,2,8\n")  # fmt: skip
    code, out, _ = cli(["import", path], as_="willow")
    assert code == 1
    assert out == (
        f"{path}:3:team: willow (team member for team Willow Ward) may not upload or roll "
        "back data for Oak Ward\n"
    )
    assert_unchanged(fac, snap)
    own = write(tmp_path, "own.csv", "Willow Ward,detained,2025-05,Black,1,4\n")
    code, out, _ = cli(["import", own], as_="willow")
    assert code == 0 and out.startswith("upload ")
    assert fac.uploads().iloc[0]["uploaded_by"] == "willow"


def test_a_board_viewer_may_not_import_roll_back_or_load_cycles(cli, people, tmp_path):
    fac = people["fac"]
    snap = before(fac)
    path = write(tmp_path, "w.csv", "Willow Ward,detained,2025-05,Black,1,4\n")
    cycles = tmp_path / "pdsa.csv"
    cycles.write_text("team,measure,group,change_idea,cycle,stage,start,end,learning,"
                      "lived_experience\nWillow Ward,detained,Black,x,1,plan,2025-01-01,,,"
                      "consulted\n")  # fmt: skip
    for args in (["import", path], ["import", "--dry-run", path], ["rollback", "1"],
                 ["pdsa", "import", str(cycles)]):  # fmt: skip
        code, out, err = cli(args, as_="board")
        assert code == 1 and out == ""
        assert err.startswith("qi: board (board viewer for trust Vale Trust) may not "), err
        assert err.rstrip().endswith("nothing was changed")
    assert_unchanged(fac, snap)


def test_no_session_forged_or_expired_sessions_are_refused(cli, people, store, tmp_path):
    fac = people["fac"]
    short = store.sign_in("willow", PASSWORDS["willow"], hours=-1)  # born expired
    snap = before(fac)
    path = write(tmp_path, "w.csv", "Willow Ward,detained,2025-05,Black,1,4\n")
    code, _, err = cli(["import", path])
    assert code == 1 and err.startswith("qi: sign in first")
    for token in ("forged", people["willow"].token[::-1], "' OR 1=1 --"):
        code, _, err = cli(["import", path], token=token)
        assert (code, err) == (1, "qi: this session is not recognised: sign in again; "
                                  "nothing was changed\n")  # fmt: skip
    code, _, err = cli(["import", path], token=short.token)
    assert code == 1 and "session expired at" in err
    code, _, err = cli(["export", "--output", str(tmp_path / "x.csv")], token=short.token)
    assert code == 1 and "session expired" in err and not (tmp_path / "x.csv").exists()
    assert_unchanged(fac, snap)


def test_login_saves_a_private_session_and_logout_ends_it(cli, people, tmp_path):
    code, out, err = cli(["login", "willow"], stdin=PASSWORDS["willow"] + "\n")
    assert code == 0, err
    assert out.startswith("signed in as willow (team member for team Willow Ward) until ")
    saved = tmp_path / "sessions.json"
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert PASSWORDS["willow"] not in saved.read_text()
    code, out, _ = cli(["whoami"])
    assert (code, out) == (0, "willow (team member for team Willow Ward)\n")
    assert cli(["logout"])[:2] == (0, "signed out\n")
    assert cli(["whoami"])[:2] == (0, "no one is signed in (qi login USER)\n")
    code, _, err = cli(["uploads"])
    assert code == 1 and "sign in first" in err  # the saved session is gone
    code, _, err = cli(["login", "willow"], stdin="not the password\n")
    assert (code, err) == (1, f"qi: {SIGN_IN_REFUSED}\n")
    code, out, _ = cli(["login", "oak", "--print-token"], stdin=PASSWORDS["oak"] + "\n")
    assert code == 0 and people["anonymous"].with_session(out.strip()).whoami().username == "oak"


def test_only_a_facilitator_may_change_roles_from_the_command_line(cli, people):
    fac = people["fac"]
    snap, accounts = before(fac), fac.people()
    for who in ("willow", "board", "oak"):
        for args in (["users", "grant", who, "facilitator", "collaborative", COLLAB],
                     ["users", "revoke", "fac", "facilitator", "collaborative", COLLAB],
                     ["users", "disable", "fac"], ["users", "list"], ["audit"]):  # fmt: skip
            code, out, err = cli(args, as_=who)
            assert code == 1 and out == "", (args, out)
            assert err.startswith(f"qi: {who} (") and " may not " in err, err
        code, _, err = cli(["users", "add", "eve", "--role", "facilitator", "--scope",
                            "collaborative", "--name", COLLAB], as_=who,
                           stdin="eve's password 1\n")  # fmt: skip
        assert code == 1 and "may not manage people" in err
    assert_unchanged(fac, snap)
    pd.testing.assert_frame_equal(fac.people(), accounts)
    code, out, _ = cli(["users", "grant", "board", "board_viewer", "team", "Willow Ward"],
                       as_="fac")  # fmt: skip
    assert (code, out) == (0, "granted: board board_viewer for team Willow Ward\n")
    code, out, _ = cli(["audit"], as_="fac")
    last = out.strip().splitlines()[-1].split()
    assert last[3:7] == ["fac", "grant", "user", "board"]


def test_passwords_never_reach_the_output_or_the_store(cli, people, store):
    new = "a new password typed once"
    code, out, err = cli(["users", "add", "nina", "--role", "team_member", "--scope", "team",
                          "--name", "Oak Ward"], as_="fac", stdin=new + "\n")  # fmt: skip
    assert (code, out) == (0, "account nina added\n"), err
    code, out, err = cli(["users", "password", "nina"], as_="fac", stdin="nina's second one\n")
    assert code == 0
    texts = [out, err]
    for args in (["audit"], ["users", "list"]):
        texts += cli(args, as_="fac")[1:]
    assert store.sign_in("nina", "nina's second one").whoami().username == "nina"
    with store.engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM app_user"))
    for text_ in (*texts, dump):
        assert new not in text_ and "nina's second one" not in text_
        assert PASSWORDS["fac"] not in text_


@pytest.mark.parametrize("payload", [SQL, HTML])
def test_sql_and_html_typed_on_the_command_line_stay_data(cli, people, payload, tmp_path):
    fac = people["fac"]
    snap = before(fac)
    code, _, err = cli(["users", "add", payload, "--role", "board_viewer", "--scope", "team",
                        "--name", "Oak Ward"], as_="fac", stdin="some password 1\n")  # fmt: skip
    assert code == 1 and "is not allowed" in err
    code, _, err = cli(["users", "grant", "willow", "board_viewer", "team", payload], as_="fac")
    assert code == 1 and "there is no team called" in err
    bad = write(tmp_path, "bad.csv", f"{payload},detained,2025-05,{payload},1,4\n")
    code, out, _ = cli(["import", bad], as_="willow")
    assert code == 1 and ":2:team: unknown team" in out
    assert_unchanged(fac, snap)
    code, _, err = cli(["login", payload], stdin=payload + "\n")
    assert code == 1 and err == f"qi: {SIGN_IN_REFUSED}\n"
    assert_unchanged_but_refusals(fac, snap)
    code, _, _ = cli(["users", "add", "mallory", "--display-name", payload, "--role",
                      "board_viewer", "--scope", "team", "--name", "Oak Ward"], as_="fac",
                     stdin="mallory's password\n")  # fmt: skip
    assert code == 0
    assert fac.people().set_index("username").loc["mallory", "display_name"] == payload


def test_exports_hide_small_numbers_from_roles_not_allowed_them(cli, tmp_path):
    out = tmp_path / "board.csv"
    code, _, err = cli(["export", "--output", str(out), "--small-numbers", "show"], as_="board")
    assert code == 1 and "may not see unsuppressed small numbers" in err and not out.exists()
    code, _, _ = cli(["export", "--output", str(out)], as_="hillfac")
    assert code == 0
    assert pd.read_csv(out, dtype=str)["numerator"].tolist() == ["2", "3"]
    code, _, _ = cli(["export", "--output", str(out), "--small-numbers", "hide"], as_="hillfac")
    assert pd.read_csv(out, dtype=str)["numerator"].tolist() == ["*", "*"]


def test_the_installed_command_refuses_a_board_viewer(people, store, tmp_path):
    """The console script itself, in a child process, with the session in QI_SESSION."""
    path = write(tmp_path, "w.csv", "Willow Ward,detained,2025-05,Black,1,4\n")
    url = store.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "QI_SESSION": people["board"].token}
    qi = os.path.join(os.path.dirname(sys.executable), "qi")
    done = subprocess.run([qi, "--db", url, "import", path], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("qi: board (board viewer for trust Vale Trust) may not upload")


def test_with_no_accounts_the_command_acts_for_the_local_user(empty_store, monkeypatch, capsys):
    monkeypatch.setenv("QI_USER", "ward-manager")
    monkeypatch.delenv("QI_SESSION", raising=False)
    url = empty_store.engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "whoami"]) == 0
    assert capsys.readouterr().out == "ward-manager (single-user local mode)\n"


def test_command_line_errors_are_one_line_not_a_traceback(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(False)
    assert main(["--db", url, "export", "--output", str(tmp_path / "x.json")]) == 1
    assert "must end in .csv or .xlsx" in capsys.readouterr().err
    assert main(["--db", url, "export", "--output", str(tmp_path / "no" / "x.csv")]) == 1
    assert capsys.readouterr().err.startswith("qi: ")
    assert main(["--db", url, "groups", str(tmp_path / "missing.csv")]) == 1
    assert "cannot open the file" in capsys.readouterr().out
