"""People: accounts and their roles (facilitators). Every change goes through the store,
which checks that the facilitator's own scope covers it, and is in the audit log."""

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import session
from qi.access import PERMISSIONS, ROLES, AccessDenied

store = session.store()
who = session.principal()
st.title("People and roles")
session.refusal(who, "manage_people")
st.caption(
    "A role holds over a scope: the whole collaborative, one trust or one team. "
    "Facilitators manage people and read the audit log; team members upload and edit "
    "the change log; board viewers read, with small numbers suppressed. You can manage "
    "only people wholly within your own scope."
)

teams = store.teams()
places = (
    [f"collaborative: {n}" for n in sorted(teams["collaborative"].unique())]
    + [f"trust: {n}" for n in sorted(teams["trust"].unique())]
    + [f"team: {n}" for n in sorted(teams["team"].unique())]
)
roles = list(ROLES)


def role_label(role: str) -> str:
    return role.replace("_", " ")


def scope_of(place: str) -> tuple[str, str]:
    scope, name = place.split(": ", 1)
    return scope, name


def attempt(action, done: str) -> None:
    """Call the store; say what was done, or the store's refusal, as text."""
    try:
        action()
    except (AccessDenied, ValueError) as exc:  # ValueError: StoreError and bad input
        st.error(f"Nothing was changed: {ui.literal(exc)}")
    else:
        st.success(ui.literal(done))


if who.local:
    st.info(
        "Single-user local mode: there are no accounts yet. The first account must be a "
        "facilitator of the collaborative; once it exists, everyone signs in (you too)."
    )

people = store.people()
accounts = sorted(people["username"].unique())
active = sorted(people.loc[people["active"].astype(bool), "username"].unique())

add, change, other = st.columns(3)
with add.form("people_add", clear_on_submit=True):
    st.subheader("Add an account")
    username = st.text_input("User name", help="lower-case letters, digits and . _ @ -")
    display_name = st.text_input("Full name")
    email = st.text_input("E-mail (to sign in with your organisation)")
    password = st.text_input(
        "Password (at least 12 characters; leave empty to sign in with your organisation)",
        type="password",
    )
    role = st.selectbox("First role", roles, format_func=role_label, key="people_add_role")
    place = st.selectbox("Over", places, key="people_add_place")
    if st.form_submit_button("Add account"):
        attempt(
            lambda: store.add_user(
                username, password=password or None, display_name=display_name,
                email=email or None, role=role, scope=scope_of(place)[0],
                name=scope_of(place)[1], user=who.username,
            ),
            f"Account {username.strip().lower()} added as {role_label(role)} for {place}.",
        )  # fmt: skip

with change.form("people_role", clear_on_submit=True):
    st.subheader("Give or take away a role")
    account = st.selectbox("Account", accounts, key="people_role_account")
    role = st.selectbox("Role", roles, format_func=role_label, key="people_role_role")
    place = st.selectbox("Over", places, key="people_role_place")
    give = st.radio("Change", ["Give", "Take away"], horizontal=True) == "Give"
    if st.form_submit_button("Save role") and account:
        scope, name = scope_of(place)
        call = store.grant if give else store.revoke
        attempt(
            lambda: call(account, role, scope, name, user=who.username),
            f"{account}: {'given' if give else 'no longer'} {role_label(role)} for {place}.",
        )

with other.form("people_password", clear_on_submit=True):
    st.subheader("Set a password")
    account = st.selectbox("Account", active, key="people_password_account")
    new_password = st.text_input("New password (at least 12 characters)", type="password")
    current = st.text_input("Your current password (only for your own)", type="password")
    if st.form_submit_button("Set password") and account:
        attempt(
            lambda: store.set_password(
                account, new_password, current=current or None, user=who.username
            ),
            f"Password of {account} set; their open sessions have ended.",
        )
with other.form("people_disable"):
    st.subheader("Disable an account")
    account = st.selectbox("Account", active, key="people_disable_account")
    if st.form_submit_button("Disable account") and account:
        attempt(
            lambda: store.disable_user(account, user=who.username),
            f"{account} can no longer sign in; their open sessions have ended.",
        )

st.subheader("Accounts and roles")
st.dataframe(
    store.people(),
    hide_index=True,
    column_config={
        "username": st.column_config.TextColumn("User name"),
        "display_name": st.column_config.TextColumn("Full name"),
        "email": st.column_config.TextColumn("E-mail"),
        "active": st.column_config.CheckboxColumn("Active"),
        "role": st.column_config.TextColumn("Role"),
        "scope": st.column_config.TextColumn("Over"),
        "name": st.column_config.TextColumn("Name"),
    },
)

st.subheader("What each role may do")
st.dataframe(
    pd.DataFrame(
        [[role_label(r)] + [p in ROLES[r] for p in PERMISSIONS] for r in roles],
        columns=["role", *PERMISSIONS.values()],
    ),
    hide_index=True,
)
