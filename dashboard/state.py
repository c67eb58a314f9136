"""What every page shares: who is signed in, the store as that person, and cached
reads of it.

Pages call these functions and :mod:`qi`; they compute no statistics themselves.
Reads are cached per *store version* (the latest change: upload, rollback, change-log
edit, role change) and per *scope* (the signed-in person's user name and grants), so a
new upload or rollback shows at once, nothing is recomputed otherwise, and one
person's cached result is never served to someone allowed to see less.

Sign-in is chosen by configuration (:func:`sign_in_mode`):

* ``oidc``: Streamlit's secrets have an ``[auth]`` section, so people sign in with the
  trust's identity provider (``st.login``) and are matched to an account by e-mail;
* ``accounts``: the store has accounts, so people sign in with a user name and
  password (checked by the store against an Argon2id hash);
* ``local``: neither, so the app runs in single-user local mode, and says so.

Only the session token is kept in ``st.session_state``; it is resolved by the store
on every run, so an expired or ended session, a disabled account or a changed role
takes effect at once. Passwords go straight to the store and are never kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import re
from collections.abc import Mapping

import pandas as pd
import streamlit as st

from qi import board, exports
from qi.access import AccessDenied, Principal
from qi.accountability import board_columns
from qi.sample import ensure_sample
from qi.store import Store, default_url

#: The one thing about a sign-in kept in the Streamlit session.
TOKEN = "qi_token"
#: Set when an identity-provider session was refused: sign in at the provider again.
IDENTITY_ENDED = "qi_identity_ended"


def database_url() -> str:
    return os.environ.get("QI_DATABASE_URL") or default_url()


@st.cache_resource(show_spinner="Opening the store (and loading the sample the first time)…")
def _store(url: str) -> Store:
    store = Store.open(url)
    if not store.has_accounts():  # with accounts, loading needs someone signed in
        ensure_sample(store)
    return store


def base_store() -> Store:
    """The store at ``QI_DATABASE_URL`` with no one signed in (the sample is loaded
    into an empty one). With accounts it refuses everything: use :func:`store`."""
    return _store(database_url())


def local_user_name() -> str:
    """Who acts in single-user local mode: ``QI_USER`` or the login name, as the
    ``qi`` command records it."""
    try:
        return os.environ.get("QI_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


# ---------------------------------------------------------------------- sign-in
def auth_settings() -> Mapping | None:
    """The ``[auth]`` section of Streamlit's secrets, or None (no secrets file, or
    no such section). ``st.secrets`` raises when there is no secrets file at all."""
    try:
        return st.secrets.get("auth", None)
    except FileNotFoundError:  # StreamlitSecretNotFoundError: no secrets.toml
        return None


def sign_in_mode() -> str:
    """``oidc``, ``accounts`` or ``local`` (see the module's docstring)."""
    if auth_settings() is not None:
        return "oidc"
    return "accounts" if base_store().has_accounts() else "local"


def _forget() -> None:
    st.session_state.pop(TOKEN, None)


def _session() -> tuple[Store, Principal] | None:
    """(the store bound to this session, who it acts for); None when no one is
    signed in. Raises AccessDenied for a forged, ended or expired session."""
    token = st.session_state.get(TOKEN)
    if not token:
        return None
    bound = base_store().with_session(str(token))
    return bound, bound.whoami()


def sign_in() -> Principal:
    """Who uses this session. Draws the sidebar's "signed in as" and sign-out, or,
    when no one is signed in, the sign-in form, and stops the run there (so no page
    and no data are shown before sign-in)."""
    mode = sign_in_mode()
    refusal = ""
    try:
        session = _session()
    except AccessDenied as exc:
        _forget()
        if mode == "oidc":
            st.session_state[IDENTITY_ENDED] = True
        session, refusal = None, str(exc)
    if session is not None:
        bound, who = session
        _signed_in_sidebar(bound, who, mode)
        return who
    if mode == "local":
        local_mode_banner()
        return base_store().whoami(local_user_name())
    if mode == "oidc":
        _identity_sign_in(refusal)
    else:
        _password_sign_in(refusal)
    st.stop()


def _password_sign_in(refusal: str) -> None:
    st.title("Sign in")
    if refusal:
        st.error(literal(refusal))
    # cleared on submit, so the password does not stay in the widget's state
    with st.form("qi_sign_in", clear_on_submit=True):
        username = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            bound = base_store().sign_in(username, password)
        except (AccessDenied, ValueError) as exc:
            st.error(literal(exc))
        else:
            st.session_state[TOKEN] = bound.token
            st.rerun()
    st.caption("Ask a facilitator of your collaborative for an account.")


def _identity_provider(settings: Mapping) -> str | None:
    """The provider to pass to ``st.login``: None when ``[auth]`` itself names the
    client, else the first named provider (``[auth.microsoft]`` …)."""
    if "client_id" in settings:
        return None
    named = [k for k, v in settings.items() if isinstance(v, Mapping)]
    return named[0] if named else None


def _identity_sign_in(refusal: str) -> None:
    st.title("Sign in")
    if refusal:
        st.error(literal(refusal))
    user = st.user
    if not user.get("is_logged_in") or st.session_state.get(IDENTITY_ENDED):
        if user.get("is_logged_in"):  # the provider's cookie outlived our session
            st.info("Sign in again with your organisation to go on.")
            if st.button("Sign in again"):
                st.session_state.pop(IDENTITY_ENDED, None)
                st.logout()
            return
        if st.button("Sign in with your organisation", type="primary"):
            st.login(_identity_provider(auth_settings() or {}))
        return
    try:
        if user.get("email_verified") is False:  # the provider says so: do not trust it
            raise AccessDenied(
                "your organisation has not verified this e-mail address, so it cannot be "
                "matched to an account here"
            )
        bound = base_store().sign_in_identity(str(user.get("email") or ""))
    except AccessDenied as exc:
        st.error(literal(exc))
        if st.button("Sign out of your organisation account"):
            st.logout()
        return
    st.session_state[TOKEN] = bound.token
    st.rerun()


def _signed_in_sidebar(bound: Store, who: Principal, mode: str) -> None:
    st.sidebar.caption(f"Signed in as {literal(who.label)}")
    if st.sidebar.button("Sign out"):
        with contextlib.suppress(AccessDenied):  # it ended already
            bound.sign_out()
        _forget()
        if mode == "oidc":
            st.logout()
        st.rerun()


def store() -> Store:
    """The store as the person using this session: bound to their session, or the
    local user's store in single-user local mode. A session refused here (it ended
    while the page ran) shows the refusal and stops the page."""
    try:
        session = _session()
    except AccessDenied as exc:
        _forget()
        st.error(literal(exc))
        st.stop()
    if session is not None:
        return session[0]
    if sign_in_mode() != "local":
        st.error("Sign in first.")
        st.stop()
    return base_store()


def principal() -> Principal:
    """Who :func:`store` acts for."""
    return store().whoami(local_user_name())


def user_name() -> str:
    """The name to record a change under (the store records the signed-in person's
    own name whatever it is told)."""
    return principal().username


def refusal(who: Principal, permission: str) -> None:
    """When ``who`` may not ``permission`` anywhere: the store's refusal as an error,
    and the page stops (a page not in someone's menu, opened by its address)."""
    from qi import access

    if not who.may(permission):
        st.error(literal(access.refuse(who, permission)))
        st.stop()


def scope_key(who: Principal | None = None) -> str:
    """What the cached reads are keyed on besides the store version: who reads, and
    over what (so a changed role is a new key)."""
    who = who or principal()
    if who.local:
        return "local"
    grants = ";".join(f"{g.role}:{g.scope}:{g.name}" for g in who.grants)
    return f"{who.username}|{grants}"


def version() -> int:
    """Changes whenever anything is stored: the latest audit-log entry (sign-ins
    aside, which change nothing shown)."""
    return base_store().version()


# ---------------------------------------------------------------------- cached reads
@st.cache_data(show_spinner=False, max_entries=64)
def _read(url: str, version: int, scope: str, what: str, _store: Store) -> pd.DataFrame:
    """``_store.<what>()``, once per store version and per reader's scope."""
    return getattr(_store, what)()


def _observations(url: str, version: int, scope: str, _store: Store) -> pd.DataFrame:
    return _read(url, version, scope, "observations", _store)


def _measures(url: str, version: int, scope: str, _store: Store) -> pd.DataFrame:
    return _read(url, version, scope, "measures", _store)


def _pdsa(url: str, version: int, scope: str, _store: Store) -> pd.DataFrame:
    return _read(url, version, scope, "pdsa", _store)


@st.cache_data(show_spinner="Computing every series…", max_entries=32)
def _matrix(url: str, version: int, scope: str, level: str, _store: Store) -> pd.DataFrame:
    series = board.series_frame(
        _observations(url, version, scope, _store), _measures(url, version, scope, _store),
        level=level,
    )  # fmt: skip
    return board.matrix(series)


def _reader() -> tuple[str, Store]:
    bound = store()
    return scope_key(bound.whoami(local_user_name())), bound


def observations(url: str, version: int) -> pd.DataFrame:
    """What this session's person may read of the observations shown now."""
    scope, bound = _reader()
    return _observations(url, version, scope, bound)


def measures(url: str, version: int) -> pd.DataFrame:
    scope, bound = _reader()
    return _measures(url, version, scope, bound)


def teams(url: str, version: int) -> pd.DataFrame:
    scope, bound = _reader()
    return _read(url, version, scope, "teams", bound)


def pdsa(url: str, version: int) -> pd.DataFrame:
    scope, bound = _reader()
    return _pdsa(url, version, scope, bound)


def matrix(url: str, version: int, level: str) -> pd.DataFrame:
    scope, bound = _reader()
    return _matrix(url, version, scope, level, bound)


def current() -> tuple[str, int]:
    """(url, version): the cache key every page passes to the readers above (which
    add who reads)."""
    return database_url(), version()


def small_numbers(teams, *, key: str) -> bool:
    """Whether to show unsuppressed small numbers for ``teams``: a checkbox (off by
    default) for someone whose role allows it for every one of them; else False."""
    teams = list(teams)
    if not teams or not store().may_see_small_numbers(teams).all():
        return False
    return st.checkbox("Show small numbers (your role allows it)", value=False, key=key)


def query_default(key: str, options: list, fallback=None):
    """The value in the URL for ``key`` if it is one of ``options``, else ``fallback``
    (or the first option; None when there are none)."""
    value = st.query_params.get(key)
    if value in options:
        return value
    if fallback is not None and fallback in options:
        return fallback
    return options[0] if options else None


def require_data(frame: pd.DataFrame) -> None:
    """Stop the page with a note when there is nothing to show yet."""
    if frame is None or len(frame) == 0:
        st.info(
            "No data to show yet: upload a file on the Upload page, or load the sample "
            "collaborative with `qi sample`."
        )
        st.stop()


def query_list(key: str, options: list) -> list:
    return [v for v in st.query_params.get_all(key) if v in options]


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def literal(value: object) -> str:
    """Data (a file name, a group, an error message) made safe inside Markdown text:
    every character Markdown would read as markup is escaped, so it shows as typed."""
    return _MARKDOWN.sub(r"\\\1", str(value))


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table_downloads(table: pd.DataFrame, *, label: str, stem: str, into=None) -> None:
    """"<label> (CSV)" and "<label> (Excel)" buttons for a table from :mod:`qi.exports`
    (formula-like text neutralised on writing), in two columns (``into``, or new ones)."""
    csv_column, xlsx_column = into if into is not None else st.columns(2)
    csv_column.download_button(
        f"{label} (CSV)", data=lambda: exports.table_bytes(table, "csv"),
        file_name=f"{stem}.csv", mime="text/csv",
    )  # fmt: skip
    xlsx_column.download_button(
        f"{label} (Excel)", data=lambda: exports.table_bytes(table, "xlsx"),
        file_name=f"{stem}.xlsx", mime=XLSX_MIME,
    )  # fmt: skip


def local_mode_banner() -> None:
    st.sidebar.caption(
        "Single-user local mode: no sign-in is configured, so every change is recorded "
        "under this computer's user name."
    )


@st.cache_data(show_spinner=False, max_entries=32)
def _accountability(url: str, version: int, scope: str, _store: Store):
    series = board.series_frame(
        _observations(url, version, scope, _store), _measures(url, version, scope, _store)
    )
    return board_columns(
        series, _pdsa(url, version, scope, _store), _store.owners(), _store.actions(),
        today=dt.datetime.now(dt.UTC).date(),
    )  # fmt: skip


def accountability(url: str, version: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per team × measure × group: owner, sponsor, review overdue, overdue actions, and
    the holding-the-gains status of its latest change (what the board matrix adds)."""
    scope, bound = _reader()
    return _accountability(url, version, scope, bound)
