"""The Board made again after a change (``dashboard.warm``), for the scopes that read it.

The warmer's rules with a counter for a store and a list for its work (when it makes,
for whom, what it forgets, its thread); then on the sample through the dashboard
(AppTest): after an upload, a board viewer's colleague (same grants) opens the Board
and finds it made, with the new upload in it, while nothing is made for a person who
signed out.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import reads
from dashboard.session import TOKEN, scope_key
from dashboard.warm import MOST, Warmer, every_from_environment
from qi.access import AccessDenied
from qi.snapshot import Snapshot
from qi.store import Store
from tests.conftest import counting_snapshots

APP = Path(__file__).resolve().parents[1] / "dashboard" / "streamlit_app.py"
COLLAB = "Advancing Equality Sample Collaborative"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeStore:
    """A stand-in for a bound store: its version, and whether it still acts for anyone."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.signed_out = False


def warmer(version: list[int], made: list[tuple[int, str]], **kwargs) -> Warmer:
    def warm(v: int, store: FakeStore) -> str:
        if store.signed_out:
            raise AccessDenied("this session has ended")
        made.append((v, store.scope))
        return store.scope

    kwargs.setdefault("every", 3600.0)  # (the tests call step() themselves)
    return Warmer(lambda: version[0], warm, **kwargs)


def test_nothing_is_made_until_the_version_changes_then_once_per_scope():
    version, made = [7], []
    w = warmer(version, made)
    w.seen("board", FakeStore("board"), 7)
    w.seen("willow", FakeStore("willow"), 7)
    assert w.step() == [] and made == []
    version[0] = 8
    assert sorted(w.step()) == ["board", "willow"]
    assert sorted(made) == [(8, "board"), (8, "willow")]
    assert w.step() == []  # the same version again: nothing more
    assert len(made) == 2
    w.stop()


def test_a_change_made_before_the_first_look_is_still_made():
    """The version a reader read is what the first look compares with, not the version
    at that look (an upload a second after the page was read is not missed)."""
    version, made = [3], []
    w = warmer(version, made)
    w.seen("board", FakeStore("board"), 3)
    version[0] = 4  # an upload before the thread looks for the first time
    assert w.step() == ["board"]
    w.stop()


def test_a_scope_not_read_for_a_while_is_forgotten():
    clock, version, made = Clock(), [1], []
    w = warmer(version, made, idle=600.0, clock=clock)
    w.seen("board", FakeStore("board"), 1)
    clock.now = 500.0
    w.seen("willow", FakeStore("willow"), 1)
    clock.now = 700.0  # board last read 700 s ago, willow 200 s ago
    version[0] = 2
    assert w.step() == ["willow"]
    assert w.scopes() == ["willow"]
    w.stop()


def test_a_session_the_store_no_longer_accepts_drops_its_scope():
    version, made = [1], []
    w = warmer(version, made)
    gone, kept = FakeStore("board"), FakeStore("willow")
    w.seen("board", gone, 1)
    w.seen("willow", kept, 1)
    gone.signed_out = True
    version[0] = 2
    assert w.step() == ["willow"]
    assert w.scopes() == ["willow"]
    w.stop()


def test_a_failure_for_one_scope_does_not_stop_the_others(caplog):
    version = [1]

    def warm(v, store):
        if store.scope == "broken":
            raise RuntimeError("a page would show this")
        return store.scope

    w = Warmer(lambda: version[0], warm, every=3600.0)
    w.seen("broken", FakeStore("broken"), 1)
    w.seen("board", FakeStore("board"), 1)
    version[0] = 2
    assert w.step() == ["board"]
    assert "making the Board again for scope 'broken' failed" in caplog.text
    assert w.scopes() == ["board", "broken"]  # (kept: a store briefly unreadable)
    w.stop()


def test_at_most_the_scopes_read_last_are_made_newest_first():
    clock, version, made = Clock(), [1], []
    w = warmer(version, made, clock=clock)
    for i in range(MOST + 3):
        clock.now = float(i)
        w.seen(f"scope{i:02d}", FakeStore(f"scope{i:02d}"), 1)
    version[0] = 2
    newest = [f"scope{i:02d}" for i in range(MOST + 2, 2, -1)]
    assert w.step() == newest
    w.stop()


def test_a_change_while_it_works_stops_it_and_the_next_look_starts_again():
    version, made = [1], []

    def warm(v, store):
        made.append((v, store.scope))
        version[0] = v + 1  # another upload lands while this scope is made
        return store.scope

    clock = Clock()
    w = Warmer(lambda: version[0], warm, every=3600.0, clock=clock)
    for i, name in enumerate(("a", "b", "c")):
        clock.now = float(i)
        w.seen(name, FakeStore(name), 1)
    version[0] = 2
    assert len(w.step()) == 1  # the first made, then the version moved: stopped
    assert w.step() == ["c"]  # made for the newest version, from the newest scope
    assert made[-1] == (3, "c")
    w.stop()


def test_a_changed_role_makes_under_the_new_key_and_forgets_the_old():
    version = [1]
    w = Warmer(lambda: version[0], lambda v, store: "viewer:trust:Hill", every=3600.0)
    w.seen("viewer:collaborative:X", FakeStore("x"), 1)
    version[0] = 2
    assert w.step() == ["viewer:trust:Hill"]
    assert w.scopes() == []
    w.stop()


def test_the_thread_makes_it_by_itself_and_ends_when_everyone_is_gone():
    clock, version, made = Clock(), [1], []
    w = warmer(version, made, every=0.01, idle=60.0, clock=clock)
    w.seen("board", FakeStore("board"), 1)
    version[0] = 2
    deadline = time.monotonic() + 10
    while not made and time.monotonic() < deadline:
        time.sleep(0.01)
    assert made == [(2, "board")]
    clock.now = 120.0  # no one read for longer than idle: forgotten, the thread ends
    version[0] = 3
    deadline = time.monotonic() + 10
    while w.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not w.running
    assert made == [(2, "board")]
    w.seen("board", FakeStore("board"), 3)  # a reader again: the thread starts again
    assert w.running
    w.stop()
    deadline = time.monotonic() + 10
    while w.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not w.running  # stopped: the thread ended at its next look


def test_off_when_qi_warm_seconds_is_0_or_not_a_number(monkeypatch):
    monkeypatch.setenv("QI_WARM_SECONDS", "0")
    assert every_from_environment() == 0
    for wrong in ("five", "inf", "nan"):
        monkeypatch.setenv("QI_WARM_SECONDS", wrong)
        assert every_from_environment() == 0
    monkeypatch.delenv("QI_WARM_SECONDS")
    assert every_from_environment() == 5
    version, made = [1], []
    w = warmer(version, made, every=0)
    w.seen("board", FakeStore("board"), 1)
    assert w.scopes() == [] and not w.running  # off: nothing kept, no thread


# ---------------------------------------------------------------------- the dashboard
@pytest.fixture
def site(sample_copy, monkeypatch):
    """The sample with accounts: a facilitator and two board viewers of the whole
    collaborative; the warmer's thread off (the test looks for it itself)."""
    monkeypatch.setenv("QI_DATABASE_URL", sample_copy)
    monkeypatch.setenv("QI_WARM_SECONDS", "3600")
    store = Store.open(sample_copy)
    store.add_user("fac", password="facilitator pass 1", role="facilitator",
                   scope="collaborative", name=COLLAB, user="set-up")  # fmt: skip
    fac = store.sign_in("fac", "facilitator pass 1")
    for name in ("board1", "board2"):
        fac.add_user(name, password=f"{name} viewer pass", role="board_viewer",
                     scope="collaborative", name=COLLAB)  # fmt: skip
    yield sample_copy, store, fac
    reads._warmer(sample_copy).stop()
    store.close()


def board_page(token: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state[TOKEN] = token
    at.run()
    assert not at.exception, at.exception
    return at


def counting_boards(monkeypatch) -> list[str]:
    """The levels of the boards computed (a list growing with each)."""
    from qi import screens

    made: list[str] = []
    board = screens.board

    def counted(snap, **kwargs):
        made.append(kwargs["level"])
        return board(snap, **kwargs)

    monkeypatch.setattr(screens, "board", counted)
    return made


DECEMBER = (
    "team,measure,period,group,numerator,denominator\n"
    "Willow Ward,restraint_per_1000_obd,2026-12,All,3,900\n"
)


def willow_months(at: AppTest) -> set[pd.Timestamp]:
    rows = at.dataframe[0].value
    return set(rows.loc[rows["unit"] == "Willow Ward", "period"])


def test_after_an_upload_the_board_is_made_before_the_next_reader_comes(site, monkeypatch):
    url, store, fac = site
    made, boards = counting_snapshots(monkeypatch), counting_boards(monkeypatch)
    viewer = store.sign_in("board1", "board1 viewer pass")
    first = board_page(viewer.token)
    viewers = scope_key(viewer.whoami())
    assert made == ["board1"] and boards == ["team"]
    w = reads._warmer(url)
    assert w.scopes() == [viewers]
    assert w.step() == []  # nothing changed yet
    assert fac.import_file(DECEMBER.encode(), "december.csv").upload_id
    assert w.step() == [viewers]
    assert made == ["board1", "board1"] and boards == ["team", "team"]  # as board1
    # the other viewer (same grants) finds it made: nothing read or computed again,
    # and the page shows the new month
    second = board_page(store.sign_in("board2", "board2 viewer pass").token)
    assert made == ["board1", "board1"] and boards == ["team", "team"]
    assert pd.Timestamp("2026-12-01") not in willow_months(first)
    assert pd.Timestamp("2026-12-01") in willow_months(second)


def test_nothing_is_made_for_someone_who_signed_out(site, monkeypatch):
    url, store, fac = site
    made = counting_snapshots(monkeypatch)
    viewer = store.sign_in("board1", "board1 viewer pass")
    board_page(viewer.token)
    w = reads._warmer(url)
    viewer.sign_out()
    fac.add_user("later", password="a later viewer", role="board_viewer",
                 scope="trust", name="Riverside Mental Health NHS Foundation Trust")  # fmt: skip
    assert w.step() == []  # the version changed, but the only reader's session ended
    assert w.scopes() == []
    assert made == ["board1"]


def test_a_snapshot_read_while_a_role_changes_is_not_kept(site, monkeypatch):
    """Each table is read with the grants of its moment: a snapshot read while the
    reader's role changed is not kept under the key of the grants it started with (it
    could hold what others with those grants may not read)."""
    url, store, fac = site
    viewer = store.sign_in("board1", "board1 viewer pass")
    viewers = scope_key(viewer.whoami())
    read = Snapshot.from_store.__func__
    widened: list[bool] = []

    def read_then_widen(cls, store, **kwargs):
        snap = read(cls, store, **kwargs)
        if not widened:  # a facilitator grants board1 more while the tables are read
            fac.grant("board1", "facilitator", "collaborative", COLLAB)
            widened.append(True)
        return snap

    monkeypatch.setattr(Snapshot, "from_store", classmethod(read_then_widen))
    version = store.version()
    with pytest.raises(AccessDenied, match="a role changed while this page was being read"):
        reads._snapshot(url, version, viewers, viewer)
    made = counting_snapshots(monkeypatch)
    board2 = store.sign_in("board2", "board2 viewer pass")  # the grants board1 started with
    snap = reads._snapshot(url, version, viewers, board2)  # nothing was kept: read again
    assert made == ["board2"]
    assert len(snap.observations) == len(Snapshot.from_store(board2).observations)


def test_a_newer_version_lets_go_of_what_the_older_one_cached(site, monkeypatch):
    """Every read asks for the current version: once a scope reads a newer one, the
    older snapshot and screens of that scope are dropped from the cache (a national
    snapshot is hundreds of megabytes), and those of other scopes are kept."""
    url, store, fac = site
    made, boards = counting_snapshots(monkeypatch), counting_boards(monkeypatch)
    viewer = store.sign_in("board1", "board1 viewer pass")
    board_page(viewer.token)
    board_page(fac.token)  # another scope, at the same version
    assert made == ["board1", "fac"]
    old = store.version()
    viewers, facilitators = scope_key(viewer.whoami()), scope_key(fac.whoami())
    kwargs = {"level": "team", "today": reads._today()}
    assert fac.import_file(DECEMBER.encode(), "december.csv").upload_id
    board_page(store.sign_in("board2", "board2 viewer pass").token)  # the viewers, newer
    assert made == ["board1", "fac", "board2"] and boards == ["team"] * 3
    new = store.version()
    reads._snapshot(url, new, viewers, viewer)  # kept: not read again
    reads._screen(url, new, viewers, "board", kwargs, None)
    assert made == ["board1", "fac", "board2"] and len(boards) == 3
    snap = reads._snapshot(url, old, viewers, viewer)  # let go: read again
    assert made == ["board1", "fac", "board2", "board1"]
    reads._screen(url, old, viewers, "board", kwargs, snap)
    assert len(boards) == 4
    # the facilitator's scope read nothing newer: its entries at the old version stay
    reads._snapshot(url, old, facilitators, fac)
    assert made == ["board1", "fac", "board2", "board1"]
    # a page that looked at the version before the newer one was read gets the newer
    # key (the store reads what is there now either way), so nothing old is cached again
    assert reads._snapshot_at(url, old, viewers, viewer)[0] == new
    assert made == ["board1", "fac", "board2", "board1"]
