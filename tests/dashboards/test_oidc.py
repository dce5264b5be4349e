"""Optional single sign-on: st.login when an [auth] section is configured; the provider's claims
become an account only when they name a valid role (and, for a manager, a valid tenant)."""
from __future__ import annotations

import pytest

from dashboards import auth
from tests.dashboards.conftest import new_app

SECRETS = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-cookie-secret",
           "client_id": "mira", "client_secret": "test-secret",
           "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def test_claims_map_to_an_account(dash):
    manager = auth.account_from_claims({"email": "m@example.com", "mira_role": "manager", "mira_tenant": dash.tenant_a})
    assert (manager.role, manager.tenant_id, manager.email) == ("manager", dash.tenant_a, "m@example.com")
    analyst = auth.account_from_claims({"email": "a@example.com", "mira_role": "analyst", "mira_tenant": dash.tenant_a})
    assert analyst.tenant_id is None  # only managers belong to a tenant


@pytest.mark.parametrize("claims, problem", [
    ({"mira_role": "analyst"}, "no email"),
    ({"email": "x@example.com", "mira_role": "admin"}, "must be one of"),
    ({"email": "x@example.com", "mira_role": "manager"}, "valid tenant"),
    ({"email": "x@example.com", "mira_role": "manager", "mira_tenant": "../vault"}, "valid tenant"),
])
def test_claims_that_make_no_valid_account_are_refused(dash, claims, problem):
    with pytest.raises(auth.ClaimsRefused, match=problem):
        auth.account_from_claims(claims)


def test_claim_names_come_from_settings(dash, monkeypatch):
    monkeypatch.setenv("MIRA_OIDC_ROLE_CLAIM", "groups_role")
    account = auth.account_from_claims({"email": "o@example.com", "groups_role": "ops"})
    assert account.role == "ops"


def test_login_page_offers_sso_only_when_configured(dash):
    plain = new_app().run()
    assert "Log in with single sign-on" not in [b.label for b in plain.button]
    at = new_app()
    at.secrets["auth"] = SECRETS
    at.run()
    assert "Log in with single sign-on" in [b.label for b in at.button]
    assert at.text_input(key="login_email") is not None  # local accounts stay available


def test_a_provider_signed_manager_sees_only_their_tenant(dash, monkeypatch):
    monkeypatch.setattr(auth, "_oidc_claims", lambda: {"email": "sso@example.com", "mira_role": "manager",
                                                       "mira_tenant": dash.tenant_a})
    at = new_app()
    at.secrets["auth"] = SECRETS
    at.run()
    assert not at.exception
    entry = at.session_state[auth.SESSION_KEY]
    assert (entry["account"].role, entry["account"].tenant_id) == ("manager", dash.tenant_a)
    assert any(dash.tenant_a in c.value for c in at.sidebar.caption)
    assert not any(dash.tenant_b in c.value for c in at.sidebar.caption)


def test_a_provider_user_without_a_valid_role_stays_out(dash, monkeypatch):
    monkeypatch.setattr(auth, "_oidc_claims", lambda: {"email": "sso@example.com", "mira_role": "owner"})
    at = new_app()
    at.secrets["auth"] = SECRETS
    at.run()
    assert auth.SESSION_KEY not in at.session_state
    assert any("cannot be used here" in e.value for e in at.error)
    assert not at.dataframe and not at.metric
