"""The signed-in session's choices: the language it reads in and, for analysts, the tenant it
looks at; and the sidebar where both are chosen.

The sidebar is drawn by the app shell (dashboards/app.py) before the page runs. Widgets drawn
there keep their value from page to page; drawn inside a page (as the analyst's tenant picker
was), Streamlit forgot them at every page change and the picker went back to the first tenant.

Language: what the user chose, kept with their account (pipelines.accounts, read once per
session); until they choose, the tenant's default (a tenant setting, else its country; in
Belgium the browser's language decides between Dutch and French); logged out, the browser's.
The currency is the tenant's (from its country).
"""
from __future__ import annotations

import logging

import streamlit as st

from dashboards import i18n
from dashboards.i18n import LANGUAGES, Lang, N_, _
from pipelines.accounts.users import Account

log = logging.getLogger(__name__)

CHOICE_KEY = "_mira_lang_choice"        # the account's stored choice ("" when none), read at sign-in
TENANT_DEFAULT_KEY = "_mira_lang_tenant"
PICKER_KEY = "ui_language"
ANALYST_TENANT_KEY = "analyst_tenant"
ROLE_TITLES = {"manager": N_("manager"), "analyst": N_("analyst"), "ops": N_("ops"),
               "privacy_officer": N_("privacy officer")}


def browser_locale() -> str | None:
    try:
        return st.context.locale
    except Exception:
        return None


def _tenant_country(tenant_id: str | None, source: str) -> str | None:
    if not tenant_id:
        return None
    try:
        if source == "analyst":
            from dashboards.data.common import analyst_tenants

            rows = analyst_tenants()
            rows = rows[rows["tenant_id"] == tenant_id]
        else:
            from dashboards.data import consumption

            rows = consumption.cached.tenant_info(tenant_id, "tenant")
        return None if rows.empty else rows.iloc[0]["country_code"]
    except Exception:          # nothing published yet: the page itself says so
        return None


def _stored_choice(account: Account) -> str:
    if CHOICE_KEY not in st.session_state:
        choice = ""
        if account.id:           # a local account (single sign-on users have no row: session only)
            try:
                from pipelines.accounts.users import get_language

                choice = get_language(account.id) or ""
            except Exception:
                log.warning("the account's language could not be read")
        st.session_state[CHOICE_KEY] = choice
    return st.session_state[CHOICE_KEY]


def _tenant_default(account: Account) -> str | None:
    if account.role != "manager" or not account.tenant_id:
        return None
    if TENANT_DEFAULT_KEY not in st.session_state:
        try:
            from pipelines.accounts.tenants import tenant_language

            st.session_state[TENANT_DEFAULT_KEY] = tenant_language(account.tenant_id) or ""
        except Exception:
            st.session_state[TENANT_DEFAULT_KEY] = ""
    return st.session_state[TENANT_DEFAULT_KEY] or None


def language_for(account: Account | None) -> str:
    if account is None:
        return i18n.default_language(None, browser_locale())
    picked = st.session_state.get(PICKER_KEY)
    if picked in LANGUAGES:
        return picked
    choice = _stored_choice(account)
    if choice in LANGUAGES:
        return choice
    country = _tenant_country(account.tenant_id, "tenant") if account.role == "manager" else None
    return i18n.default_language(country, browser_locale(), _tenant_default(account))


def lang_for(account: Account, tenant_id: str | None) -> Lang:
    """The language of this session and the currency of the tenant being looked at."""
    source = "tenant" if account.role == "manager" else "analyst"
    lang = Lang(language_for(account), i18n.currency_for(_tenant_country(tenant_id, source)))
    i18n.set_current(lang)
    return lang


def start(account: Account | None) -> Lang:
    """Each run, before anything is drawn: the session's language for `_`."""
    lang = Lang(language_for(account))
    i18n.set_current(lang)
    return lang


def _save_language(account: Account) -> None:
    """The picker changed: keep the choice with the account, so the next session opens in it."""
    code = st.session_state.get(PICKER_KEY)
    if code not in LANGUAGES:
        return
    st.session_state[CHOICE_KEY] = code
    if account.id:
        try:
            from pipelines.accounts.users import set_language

            set_language(account.id, code)
        except Exception:
            log.warning("the account's language could not be saved")


def analyst_tenant() -> str | None:
    """The tenant an analyst picked in the sidebar (analysts are cross-tenant by design, on the
    pseudonymised file); the first tenant until they pick."""
    from dashboards.data.common import analyst_tenants

    tenants = analyst_tenants()
    if tenants.empty:
        return None
    ids = list(tenants["tenant_id"])
    picked = st.session_state.get(ANALYST_TENANT_KEY)
    return picked if picked in ids else ids[0]


def sidebar(account: Account) -> bool:
    """Who is signed in, the language, the analyst's tenant; True when they asked to log out."""
    with st.sidebar:
        where = f" · {account.tenant_id}" if account.tenant_id else ""
        role = _(ROLE_TITLES.get(account.role, account.role))
        st.caption(_("Signed in as {email}", email=account.email) + f"  \n{role}{where}")
        current = language_for(account)
        st.selectbox(_("Language"), list(LANGUAGES), index=list(LANGUAGES).index(current),
                     format_func=LANGUAGES.get, key=PICKER_KEY, on_change=_save_language, args=(account,))
        if account.role == "analyst":
            _analyst_picker()
        if account.role == "manager":
            _mail_choices(account)
        return st.button(_("Log out"), key="logout", icon=":material/logout:")


MAIL_KEY = "_mira_mail"
MAIL_TOGGLES = {"monthly_report": N_("Monthly report by e-mail"), "stock_alert": N_("Daily low-stock alert by e-mail")}


def _mail_choices(account: Account) -> None:
    """A manager's opt-in to the mails (pipelines/mail), kept with their account. Single sign-on
    users have no account row here, so no address to write to."""
    with st.expander(_("E-mail"), icon=":material/mail:"):
        if not account.id:
            st.caption(_("E-mail reports need an account of this site; single sign-on accounts cannot receive them."))
            return
        if MAIL_KEY not in st.session_state:
            try:
                from pipelines.accounts.mail import subscriptions

                st.session_state[MAIL_KEY] = subscriptions(account.id)
            except Exception:
                log.warning("the account's mail choices could not be read")
                st.session_state[MAIL_KEY] = {}
        choices = st.session_state[MAIL_KEY]
        for kind, label in MAIL_TOGGLES.items():
            st.toggle(_(label), value=bool(choices.get(kind)), key=f"mail_{kind}", on_change=_save_mail,
                      args=(account, kind))
        st.caption(_("Sent to {email}. The mails name materials, places and amounts, never people.",
                     email=account.email))


def _save_mail(account: Account, kind: str) -> None:
    on = bool(st.session_state.get(f"mail_{kind}"))
    try:
        from pipelines.accounts.mail import subscribe

        subscribe(account.id, kind, on)
        st.session_state.setdefault(MAIL_KEY, {})[kind] = on
    except Exception:
        log.warning("the account's mail choice could not be saved")
        st.toast(_("Your choice could not be saved; try again in a minute."))


def _analyst_picker() -> None:
    from dashboards.data.common import analyst_tenants

    try:
        tenants = analyst_tenants()
    except Exception:
        return                   # the page says what is missing
    if tenants.empty:
        return
    names = dict(zip(tenants.tenant_id, tenants.tenant_name))
    picked = st.session_state.get(ANALYST_TENANT_KEY)
    ids = list(names)
    st.selectbox(_("Tenant"), ids, index=ids.index(picked) if picked in ids else 0,
                 format_func=lambda t: f"{names[t]} ({t})", key=ANALYST_TENANT_KEY)
