"""Cached reads: what this session's person may see, and every screen of :mod:`qi.screens`.

Reads are keyed on the *store version* (:meth:`qi.store.Store.version`: it changes with
every upload, rollback, change-log edit or role change) and the reader's *scope* (their
grants: :func:`dashboard.session.scope_key`), so a new upload shows at once, nothing is
recomputed otherwise, and one person's result is never served to someone allowed to
see less. The snapshot and every screen's result are shared between sessions (one
object per version, scope and arguments, never copied per session: twenty readers of
the same board share one), so pages read what they are given and never change it in
place.

After a change, the Board is made again in the background for the scopes that read it
recently (:mod:`dashboard.warm`), so that its next readers do not wait for it.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.session import base_store, database_url, local_user_name, scope_key, store
from dashboard.warm import Warmer, every_from_environment
from qi import screens
from qi.access import AccessDenied
from qi.snapshot import Snapshot
from qi.store import Store


def version() -> int:
    """Changes whenever anything shown is stored (:meth:`qi.store.Store.version`)."""
    return base_store().version()


def current() -> tuple[str, int]:
    """(url, version): what every cached read is keyed on, besides who reads."""
    return database_url(), version()


def _reader() -> tuple[str, Store]:
    bound = store()
    return scope_key(bound.whoami(local_user_name())), bound


def _scope_of(bound: Store) -> str:
    """The scope key of whoever ``bound`` acts for (AccessDenied if no one: accounts
    exist and no one is signed in, or the session has ended)."""
    who = bound.whoami(local_user_name())
    if who is None:
        raise AccessDenied("no one is signed in")
    return scope_key(who)


@st.cache_resource(show_spinner=False, max_entries=32)
def _snapshot(url: str, version: int, scope: str, _store: Store) -> Snapshot:
    snap = Snapshot.from_store(_store)
    # Each table is read with the grants of that moment: a role changed while they were
    # read would leave under this key what its readers may not read (or less), so it is
    # not kept (the readers waiting for it read for themselves; the change moved the
    # version, and the next page reads again)
    if _scope_of(_store) != scope:
        raise AccessDenied("a role changed while this page was being read: open it again")
    return snap


@st.cache_resource(show_spinner=False, max_entries=256)
def _screen(url: str, version: int, scope: str, name: str, kwargs: dict, _snap: Snapshot) -> Any:
    return getattr(screens, name)(_snap, **kwargs)


#: (url, scope) -> the latest version read for it, and the screens cached at it
#: (``repr`` of name and arguments -> name and arguments)
_LATEST: dict[tuple[str, str], tuple[int, dict[str, tuple[str, dict]]]] = {}
_LATEST_LOCK = threading.Lock()


def _snapshot_at(url: str, version: int, scope: str, bound: Store) -> tuple[int, Snapshot]:
    """``(version, snapshot)``: :func:`_snapshot`, after letting go of what an older
    version cached for the same scope. Every read asks for the store's current version,
    so an older entry would only hold memory until the cache's size pushed it out (at a
    national collaborative a snapshot is hundreds of megabytes, and each upload makes
    one). A read asking for a version older than one already read for the scope (it
    looked at the version before another reader did) is given the newer key: the store
    reads what is there now either way."""
    with _LATEST_LOCK:
        known = _LATEST.get((url, scope))
        if known is not None and known[0] > version:
            version, older = known[0], None
        else:
            older = known if known is not None and known[0] < version else None
            if known is None or older is not None:
                _LATEST[(url, scope)] = (version, {})
    if older is not None:  # (a session still running at it keeps what it holds)
        old, made = older
        _snapshot.clear(url, old, scope, None)
        for name, kwargs in made.values():
            _screen.clear(url, old, scope, name, kwargs, None)
    return version, _snapshot(url, version, scope, bound)


def _screen_at(url: str, version: int, scope: str, bound: Store, name: str, kwargs: dict):
    """:func:`_screen` of the snapshot at ``version`` (:func:`_snapshot_at`), noted so
    that a newer version lets go of it."""
    version, snap = _snapshot_at(url, version, scope, bound)
    with _LATEST_LOCK:
        latest = _LATEST.get((url, scope))
        if latest is not None and latest[0] == version and len(latest[1]) < 256:
            latest[1].setdefault(repr((name, kwargs)), (name, kwargs))
    return _screen(url, version, scope, name, kwargs, snap)


def snapshot() -> Snapshot:
    """What this session's person may read of the store now (shared, never modified)."""
    url, ver = current()
    scope, bound = _reader()
    _warmer(url).seen(scope, bound, ver)
    return _snapshot_at(url, ver, scope, bound)[1]


def _call(name: str, **kwargs: Any) -> Any:
    url, ver = current()
    scope, bound = _reader()
    _warmer(url).seen(scope, bound, ver)
    return _screen_at(url, ver, scope, bound, name, kwargs)


#: What the Board page reads first: the team level, and its first selection (group All).
FIRST_BOARD = {"level": "team"}


def _warm_board(url: str, version: int, bound: Store) -> str:
    """Make what the Board page of the person ``bound`` acts for reads first, at
    ``version`` (the snapshot, the board at team level, its first selection), as the
    page would; returns their scope key (raises AccessDenied if the store no longer
    acts for anyone)."""
    scope = _scope_of(bound)
    view = _screen_at(url, version, scope, bound, "board", {**FIRST_BOARD, "today": _today()})
    view.select(others_in_background=True)
    return scope


@st.cache_resource(show_spinner=False, on_release=lambda warmer: warmer.stop())
def _warmer(url: str) -> Warmer:
    """This process's warmer of the store at ``url`` (made in a page's run, where
    :func:`base_store` is the store at ``url``; :mod:`dashboard.warm`); stopped when
    Streamlit lets go of it (its caches cleared)."""
    return Warmer(
        base_store().version,
        lambda version, bound: _warm_board(url, version, bound),
        every=every_from_environment(),
    )


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def board(level: str) -> screens.BoardView:
    """:func:`qi.screens.board` at ``level``, today."""
    with st.spinner("Computing every series…"):
        return _call("board", level=level, today=_today())


def team_chart(**kwargs: Any) -> screens.TeamChart:
    """:func:`qi.screens.team_chart`."""
    return _call("team_chart", **kwargs)


def equality_view(**kwargs: Any) -> screens.EqualityView:
    """:func:`qi.screens.equality_view`."""
    return _call("equality_view", **kwargs)


def team_funnel(*, measure: str, group: str) -> screens.FunnelView | None:
    """:func:`qi.screens.team_funnel`."""
    return _call("team_funnel", measure=measure, group=group)


def what_if(**kwargs: Any) -> screens.WhatIf:
    """:func:`qi.screens.what_if`."""
    return _call("what_if", **kwargs)


def completeness(*, due_day: int) -> screens.CompletenessView:
    """:func:`qi.screens.completeness` of every team, today."""
    return _call("completeness", due_day=due_day, today=_today())


def accountability() -> screens.AccountabilityView:
    """:func:`qi.screens.accountability`, today."""
    return _call("accountability", today=_today())


def change_log(teams: list[str]) -> screens.ChangeLog:
    """:func:`qi.screens.change_log`."""
    return _call("change_log", teams=teams)


def learning_view(*, tags: list[str], outcomes: list[str]) -> screens.LearningView:
    """:func:`qi.screens.learning_view`."""
    return _call("learning_view", tags=tags, outcomes=outcomes)


def pack_preview(*, teams: list[str], measures: list[str], month: str) -> pd.DataFrame:
    """:func:`qi.screens.pack_preview`."""
    return _call("pack_preview", teams=teams, measures=measures, month=month)
