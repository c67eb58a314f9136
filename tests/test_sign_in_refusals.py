"""A refused sign-in tells nothing about the account (issue 20).

Whether the user name is unknown, the password wrong, the account disabled, without a
password, or waiting after too many refusals, the answer is the same words and the
same work: exactly one Argon2 verification (counted here, never timed), so neither the
message nor the time says which accounts exist or are locked. An unknown user name is
locked out after 5 refusals like a known one.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from qi import access
from qi.access import SIGN_IN_REFUSED, AccessDenied
from tests.conftest import TEAMS

PASSWORD = "the right password 1"


@pytest.fixture
def accounts(empty_store):
    empty_store.register_teams(TEAMS)
    empty_store.add_user("fac", password=PASSWORD, role="facilitator",
                         scope="collaborative", name="Test Collaborative")  # fmt: skip
    fac = empty_store.sign_in("fac", PASSWORD)
    fac.add_user("willow", password=PASSWORD, role="team_member", scope="team",
                 name="Willow Ward")  # fmt: skip
    fac.add_user("gone", password=PASSWORD, role="team_member", scope="team",
                 name="Willow Ward")  # fmt: skip
    fac.disable_user("gone")
    fac.add_user("sso", email="sso@example.org", role="board_viewer", scope="team",
                 name="Willow Ward")  # fmt: skip
    return empty_store


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """Every Argon2 verification made, by the hash it was made against."""
    made: list[str] = []
    original = PasswordHasher.verify

    def counted(self, hash, password):
        made.append("dummy" if hash == access.DUMMY_HASH else "real")
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    return made


def _refusal(store, name: str, password: str) -> str:
    with pytest.raises(AccessDenied) as info:
        store.sign_in(name, password)
    return str(info.value)


def test_every_kind_of_refusal_says_the_same_and_verifies_once(accounts, verifications):
    for _ in range(5):  # willow waits from now on
        _refusal(accounts, "willow", "a wrong password")
    cases = {
        "unknown user name": ("nobody", "a wrong password"),
        "wrong password": ("fac", "a wrong password"),
        "disabled account, right password": ("gone", PASSWORD),
        "no password (identity provider only)": ("sso", PASSWORD),
        "locked out, right password": ("willow", PASSWORD),
        "locked out, wrong password": ("willow", "a wrong password"),
    }
    for case, (name, password) in cases.items():
        verifications.clear()
        assert _refusal(accounts, name, password) == SIGN_IN_REFUSED, case
        assert len(verifications) == 1, (case, verifications)
    verifications.clear()
    assert accounts.sign_in("fac", PASSWORD).whoami().username == "fac"
    assert verifications == ["real"]


def test_an_unknown_user_name_is_locked_out_like_a_known_one(accounts, verifications):
    fac = accounts.sign_in("fac", PASSWORD)
    for name in ("nobody", "willow"):
        for _ in range(5):
            _refusal(accounts, name, "a wrong password")
    log = fac.audit_log()
    refusals = log[log["action"] == "sign_in_refused"]
    # five for each name: the unknown one under a digest, never the name typed
    assert refusals["entity_id"].value_counts().tolist() == [5, 5]
    assert "nobody" not in log.to_string()
    # the sixth try of each is refused whatever the password; another name is not held up
    assert _refusal(accounts, "willow", PASSWORD) == SIGN_IN_REFUSED
    assert _refusal(accounts, "nobody", "anything at all") == SIGN_IN_REFUSED
    assert accounts.sign_in("fac", PASSWORD).whoami().username == "fac"


def test_a_refusal_while_locked_out_is_recorded_like_any_other(accounts):
    fac = accounts.sign_in("fac", PASSWORD)
    before = (fac.audit_log()["action"] == "sign_in_refused").sum()
    for _ in range(7):
        _refusal(accounts, "nobody", "a wrong password")
    after = (fac.audit_log()["action"] == "sign_in_refused").sum()
    assert after - before == 7  # the same write whether or not the name is waiting
