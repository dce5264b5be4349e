"""Login, the signed-in session, which pages a role may open, logout.

The account (and with it the role and the tenant) is put in the server-side session at login and
read from nowhere else: not from a widget, a URL query parameter or a cookie. The session entry
carries a MAC under a secret that exists only in this server process, so nothing that writes
into session state without going through `authenticate` (a widget key chosen to collide, a
test harness, a future bug) can make itself another tenant's manager: a forged or altered entry
is dropped and the visitor sees the login page. Every page calls `require` again, so a page
that a role may not see refuses even when it is reached directly.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import streamlit as st

from dashboards.i18n import Lang, N_, _, n_
from pipelines.accounts.users import ROLES, TENANT_ROLES, Account, LoginFailed, LoginLocked, authenticate

log = logging.getLogger(__name__)

SESSION_KEY = "_mira_session"
SESSION_MAX_AGE_S = 12 * 3600
_PROCESS_SECRET = secrets.token_bytes(32)

# page -> (title, icon, roles allowed); titles are translated where they are shown
PAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "consumption": (N_("Consumption"), ":material/trending_up:", ("manager", "analyst")),
    "stock": (N_("Stock"), ":material/inventory_2:", ("manager", "analyst")),
    "tools": (N_("Tools"), ":material/construction:", ("manager", "analyst")),
    "insights": (N_("Insights"), ":material/insights:", ("manager", "analyst")),
    "operations": (N_("Operations"), ":material/monitor_heart:", ("ops", "privacy_officer")),
}

# What pipelines.serving.files says to a user (ServingUnavailable), for the catalogues.
SERVING_MESSAGES = (
    N_("Nothing has been published yet: run `mira run` (or `make demo`)."),
    N_("Your organisation's data has not been published yet: it appears after the next pipeline run."),
    N_("This serving file cannot be opened with the current keys; ask ops to republish."),
    N_("The serving files cannot be opened with this installation's key: ask ops to check MIRA_MASTER_KEY "
       "and republish."),
    N_("Names are unavailable while the pipeline updates them; pseudonyms are shown instead. Try again in a minute."),
    N_("The published data lacks a report this page needs: it appears after the next `mira run`."),
    N_("The data is being replaced right now: try again in a few seconds."),
    N_("This account has no organisation: ask an administrator."),
)


@dataclass(frozen=True)
class PageContext:
    """What a page renders for: who is looking, which file (`source`), which tenant, and the
    language and currency to show it in."""
    account: Account
    source: str            # "tenant" (the manager's own file) | "analyst" | "ops"
    tenant_id: str | None
    lang: Lang = Lang()

    @property
    def names_allowed_role(self) -> bool:
        """Only a tenant's own manager may ever be shown names (and only if the tenant chose so)."""
        return self.account.role == "manager" and self.source == "tenant" \
            and self.account.tenant_id == self.tenant_id


def pages_for(role: str) -> list[str]:
    return [page for page, (_, _, roles) in PAGES.items() if role in roles]


def _mac(account: Account, issued: float) -> str:
    msg = f"{account.id}|{account.role}|{account.tenant_id or ''}|{issued!r}".encode()
    return hmac.new(_PROCESS_SECRET, msg, hashlib.sha256).hexdigest()


def _sign_in(account: Account) -> None:
    issued = time.time()
    st.session_state[SESSION_KEY] = {"account": account, "issued": issued, "mac": _mac(account, issued)}


# -- optional single sign-on (OIDC through st.login) -----------------------------------------------
# Configured by an [auth] section in .streamlit/secrets.toml (Streamlit's own settings: redirect_uri,
# cookie_secret, client_id, client_secret, server_metadata_url). The identity provider puts the role
# and, for managers, the tenant in two claims (MIRA_OIDC_ROLE_CLAIM, MIRA_OIDC_TENANT_CLAIM); they
# are checked like a local account's. Local accounts stay the default and work beside it.

class ClaimsRefused(ValueError):
    """The provider's claims do not make a valid account; the message says which claim."""


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:   # no secrets file at all
        return False


def _oidc_claims() -> dict | None:
    """The signed-in OIDC user's claims, or None (a seam for tests: no provider runs there)."""
    try:
        return st.user.to_dict() if st.user.is_logged_in else None
    except Exception:
        return None


def account_from_claims(claims: dict) -> Account:
    from pipelines.accounts.users import tenant_id_ok
    from pipelines.settings import get_settings

    settings = get_settings()
    email = str(claims.get("email") or "").strip()
    role = str(claims.get(settings.oidc_role_claim) or "").strip()
    tenant = claims.get(settings.oidc_tenant_claim)
    tenant = str(tenant).strip() if tenant else None
    if not email:
        raise ClaimsRefused("the identity provider sent no email claim")
    if role not in ROLES:
        raise ClaimsRefused(f"the claim {settings.oidc_role_claim!r} must be one of {', '.join(ROLES)}")
    if role in TENANT_ROLES and not (tenant and tenant_id_ok(tenant)):
        raise ClaimsRefused(f"a manager needs a valid tenant id in the claim {settings.oidc_tenant_claim!r}")
    if role not in TENANT_ROLES:
        tenant = None
    return Account(id=0, email=email, role=role, tenant_id=tenant)


def _sign_in_oidc() -> Account | None:
    claims = _oidc_claims()
    if claims is None:
        return None
    try:
        account = account_from_claims(claims)
    except ClaimsRefused as exc:
        st.session_state["_oidc_refused"] = str(exc)
        return None
    _sign_in(account)
    return account


def current_account() -> Account | None:
    """The signed-in account, or None. A session entry that was not written by `_sign_in` in this
    process, or is too old, is removed. A single-sign-on user is signed in from their claims."""
    entry = st.session_state.get(SESSION_KEY)
    if entry is None:
        return _sign_in_oidc() if oidc_configured() else None
    try:
        account, issued, mac = entry["account"], entry["issued"], entry["mac"]
        valid = (isinstance(account, Account) and isinstance(issued, float)
                 and hmac.compare_digest(str(mac), _mac(account, issued))
                 and 0 <= time.time() - issued < SESSION_MAX_AGE_S)
    except (KeyError, TypeError):
        valid = False
    if not valid:
        st.session_state.pop(SESSION_KEY, None)
        return None
    return account


def logout() -> None:
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if oidc_configured() and _oidc_claims() is not None:
        st.logout()   # drops the identity cookie too; otherwise the next run signs them in again


def _client() -> str:
    """Where a login attempt comes from, for the rate limit: the remote address when Streamlit
    knows it, else this browser session."""
    try:
        ip = st.context.ip_address
    except Exception:
        ip = None
    if ip:
        return f"ip:{ip}"
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return f"session:{ctx.session_id if ctx else 'unknown'}"


def login_page() -> None:
    st.title("mira-analytics")
    st.caption(_("Consumption and stock reports. Sign in with the account your administrator created."))
    with st.form("login", clear_on_submit=True):
        email = st.text_input(_("Email"), key="login_email", autocomplete="username")
        password = st.text_input(_("Password"), type="password", key="login_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button(_("Log in"), type="primary")
    if oidc_configured():
        refused = st.session_state.pop("_oidc_refused", None)
        if refused:
            st.error(_("Single sign-on worked, but your account cannot be used here: {reason}. "
                       "Ask your administrator.", reason=refused))
        if st.button(_("Log in with single sign-on"), key="sso", icon=":material/key:"):
            st.login()
    if not submitted:
        return
    if not email.strip() or not password:
        st.error(_("Enter your email and password."))
        return
    try:
        account = authenticate(email.strip(), password, client=_client())
    except LoginLocked as exc:
        st.error(n_("Too many failed attempts: try again in {n} minute.",
                    "Too many failed attempts: try again in {n} minutes.", exc.minutes))
        return
    except LoginFailed:
        st.error(_("Invalid email or password."))
        return
    except Exception:
        log.exception("login failed unexpectedly")
        st.error(_("Login is unavailable right now; try again in a minute or tell your administrator."))
        return
    _sign_in(account)
    st.rerun()


def require(page: str) -> PageContext:
    """The context a page renders for, after checking that the signed-in role may see it;
    otherwise an error and the page stops. Called at the top of every page."""
    from dashboards import session

    account = current_account()
    if account is None:
        st.error(_("Please log in first."))
        st.stop()
    if page not in PAGES or account.role not in PAGES[page][2]:
        st.error(_("Your account does not have access to this page."))
        st.stop()
    if account.role == "manager":
        if not account.tenant_id:
            st.error(_("Your account is not linked to an organisation: ask your administrator."))
            st.stop()
        return PageContext(account, "tenant", account.tenant_id, session.lang_for(account, account.tenant_id))
    if account.role == "analyst":
        tenant = session.analyst_tenant()
        if tenant is None:
            st.info(_("No data yet: run `mira run` to publish the analyst snapshot."))
            st.stop()
        return PageContext(account, "analyst", tenant, session.lang_for(account, tenant))
    return PageContext(account, "ops", None, session.lang_for(account, None))
