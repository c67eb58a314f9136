"""Who uses this session, and the store as that person.

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
import getpass
import json
import os
from collections.abc import Mapping

import streamlit as st

from dashboard.components import literal, local_mode_banner
from qi.access import AccessDenied, Principal
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
    """What the cached reads are keyed on besides the store version: the reader's
    grants (role, scope and name of each, in a fixed order), so a changed role is a
    new key. The user name is not in it: what the store lets a person read depends on
    their grants alone, so twenty board viewers of one collaborative share one
    snapshot and one board instead of computing twenty (a test reads the same store
    as two people with the same grants and compares every table)."""
    who = who or principal()
    if who.local:
        return "local"
    # (as JSON: names are free text, so no separator could tell two sets of grants apart)
    return json.dumps(sorted([g.role, g.scope, g.name] for g in who.grants))


def may_see_small_numbers(teams) -> bool:
    """Whether this person's role allows small numbers for every one of ``teams``."""
    teams = list(teams)
    return bool(teams) and bool(store().may_see_small_numbers(teams).all())


def small_numbers(teams, *, key: str) -> bool:
    """Whether to show unsuppressed small numbers for ``teams``: a checkbox (off by
    default) for someone whose role allows it for every one of them; else False."""
    if not may_see_small_numbers(teams):
        return False
    return st.checkbox("Show small numbers (your role allows it)", value=False, key=key)
