"""The Streamlit app, run with AppTest (no server, no browser) on generated, published data:
login, every page for every role it belongs to, figures against the serving files, isolation."""
from __future__ import annotations

import re
import sqlite3
import time
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboards.conftest import (PAGES_DIR, TIMEOUT, dataframes, default_period, login, metric, new_app,
                                       open_page, page_text, serving_sql)

TENANT_PAGES = ("consumption", "stock", "tools", "insights")


def no_problem(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [e.value for e in at.warning]


# -- logged out, login ------------------------------------------------------------------------------

def test_logged_out_sees_only_the_login(dash):
    at = new_app().run()
    no_problem(at)
    assert at.text_input(key="login_email") is not None
    assert not at.dataframe and not at.metric and not at.get("vega_lite_chart")
    assert [b.label for b in at.button] == ["Log in"]
    for page in (*TENANT_PAGES, "operations"):
        with pytest.raises(ValueError):          # not in the navigation: no way to switch to it
            at.switch_page(f"app_pages/{page}.py")
    # A page file run on its own (as if reached by URL) refuses without a session.
    direct = AppTest.from_file(str(PAGES_DIR / "consumption.py"), default_timeout=TIMEOUT).run()
    assert [e.value for e in direct.error] == ["Please log in first."]
    assert not direct.dataframe and not direct.metric


@pytest.mark.parametrize("who", ["unknown", "wrong_password"])
def test_failed_login_shows_one_generic_error(dash, who):
    email = "nobody@example.com" if who == "unknown" else dash.manager_a
    at = login(email, "not-the-password-at-all")
    assert [e.value for e in at.error] == ["Invalid email or password."]
    assert not at.dataframe and not at.metric
    assert at.text_input(key="login_email") is not None
    assert not any(b.label == "Log out" for b in at.button)


def test_repeated_failures_lock_the_login(dash):
    at = new_app().run()
    for _ in range(5):
        at.text_input(key="login_email").input("locked.out@example.com")
        at.text_input(key="login_password").input("wrong-password-again")
        at.button[0].click().run()
    at.text_input(key="login_email").input("locked.out@example.com")
    at.text_input(key="login_password").input("wrong-password-again")
    at.button[0].click().run()
    assert at.error and at.error[0].value.startswith("Too many failed attempts")


def test_logout_returns_to_the_login(dash):
    at = login(dash.manager_a)
    assert at.metric
    at.button(key="logout").click().run()
    no_problem(at)
    assert not at.metric and not at.dataframe
    assert at.text_input(key="login_email") is not None


# -- manager: every page, figures against their own serving file ----------------------------------------

def test_manager_consumption_matches_the_marts(dash):
    t = dash.tenant_a
    at = login(dash.manager_a)
    no_problem(at)
    assert at.title[0].value == "Consumption"
    start, end = default_period(t)
    truth = serving_sql(t, """SELECT sum(consumed_value) v, sum(consumed_quantity) q, sum(movement_count) n
        FROM marts.fct_material_usage_daily WHERE tenant_id = ? AND usage_date BETWEEN ? AND ?""", [t, start, end]).iloc[0]
    assert metric(at, "Consumption value") == pytest.approx(round(truth.v, 2), abs=0.006)
    assert metric(at, "Quantity (mixed units)") == pytest.approx(round(truth.q, 2), abs=0.006)
    assert metric(at, "Movements") == truth.n
    series, breakdown, drill, project, top = dataframes(at)
    assert series["value"].sum() == pytest.approx(truth.v)
    assert breakdown["value"].sum() == pytest.approx(truth.v)          # by category
    assert len(at.get("vega_lite_chart")) == 3
    # every table has its CSV and Excel download, plus the monthly PDF
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("CSV") == labels.count("Excel") == len(at.dataframe)
    assert "Monthly report (PDF)" in labels

    # another period and grain: still the marts' sum; a whole month compares with the month before
    at.date_input[0].set_value((date(2026, 10, 1), date(2026, 10, 31)))
    at.radio(key="cons_grain@en").set_value("week").run()
    no_problem(at)
    truth = serving_sql(t, """SELECT
        sum(consumed_value) FILTER (usage_date >= DATE '2026-10-01') v,
        sum(consumed_value) FILTER (usage_date < DATE '2026-10-01') p
        FROM marts.fct_material_usage_daily WHERE tenant_id = ? AND usage_date BETWEEN DATE '2026-09-01' AND DATE '2026-10-31'""",
                        [t]).iloc[0]
    assert metric(at, "Consumption value") == pytest.approx(round(truth.v, 2), abs=0.006)
    assert f"value €{truth.p:,.2f}" in at.caption[0].value
    assert dataframes(at)[0]["period_start"].nunique() == 5         # ISO weeks touching October 2026

    # breakdown by person: pseudonymous labels, same total
    at.selectbox(key="cons_dimension@en").set_value("user").run()
    no_problem(at)
    people = dataframes(at)[1]
    assert people["value"].sum() == pytest.approx(truth.v)
    assert all(re.fullmatch(r"[A-Z][a-z ]+ [0-9A-F]{4,8}", p) for p in people["person"])

    # drill down: the chosen category's materials add up to the category's total
    category = at.selectbox(key="cons_category@en").options[1]
    at.selectbox(key="cons_category@en").set_value(category).run()
    no_problem(at)
    category_total = serving_sql(t, """SELECT sum(f.consumed_value) FROM marts.fct_material_usage_daily f
        JOIN marts.dim_materials m USING (tenant_id, material_id)
        WHERE f.tenant_id = ? AND m.category = ? AND usage_date BETWEEN DATE '2026-10-01' AND DATE '2026-10-31'""",
                                 [t, category]).iloc[0, 0]
    assert dataframes(at)[2]["value"].sum() == pytest.approx(category_total)


def test_empty_period_says_widen_the_dates(dash):
    at = login(dash.manager_a)
    at.date_input[0].set_value((date(2020, 1, 1), date(2020, 1, 31))).run()
    no_problem(at)
    assert any("widen the dates" in i.value for i in at.info)
    assert not at.dataframe


def test_manager_stock_tools_insights_match_the_marts(dash):
    t = dash.tenant_a
    at = open_page(login(dash.manager_a), "stock")
    no_problem(at)
    value = serving_sql(t, "SELECT sum(value_on_hand) FROM marts.rpt_stock_on_hand WHERE tenant_id = ?", [t]).iloc[0, 0]
    below = serving_sql(t, "SELECT count(*) FROM marts.rpt_reorder_suggestions WHERE tenant_id = ? AND is_below_minimum",
                        [t]).iloc[0, 0]
    assert metric(at, "Stock value") == pytest.approx(round(value, 2), abs=0.006)
    assert metric(at, "Below minimum stock") == below
    by_location = dataframes(at)[0]
    assert by_location["value_on_hand"].sum() == pytest.approx(value)
    assert {s.value for s in at.subheader} >= {"On hand per location", "Below reorder level: suggested orders",
                                                "Days of cover and predicted stock-outs", "Stock ageing",
                                                "Count accuracy and shrinkage"}

    open_page(at, "tools")
    no_problem(at)
    c = serving_sql(t, "SELECT sum(open_quantity) q, count(*) FILTER (is_overdue) o, count(*) FILTER (is_lost) l "
                       "FROM marts.rpt_tool_custody WHERE tenant_id = ?", [t]).iloc[0]
    assert (metric(at, "Tools out"), metric(at, "Overdue"), metric(at, "Lost")) == (c.q, c.o, c.l)
    custody = dataframes(at)[0]
    assert "user_pseudonym" not in custody.columns
    assert all(re.fullmatch(r"[A-Z][a-z ]+ [0-9A-F]{4,8}", h) for h in custody["holder"])

    open_page(at, "insights")
    no_problem(at)
    n = serving_sql(t, "SELECT count(*) FROM marts.rpt_abc_xyz WHERE tenant_id = ?", [t]).iloc[0, 0]
    abc, *unusual = dataframes(at)
    assert len(abc) == n
    for table in unusual:
        assert (table["recent_people"] >= 5).all()


# -- analyst: the same pages over the pseudonymised file, tenant chosen in the sidebar --------------------

def test_analyst_sees_every_tenant_pseudonymised_and_no_names(dash):
    from pipelines.serving import files as serving
    from pipelines.accounts.tenants import set_names_visible

    t = dash.tenant_b
    set_names_visible(t, True)         # a tenant's choice concerns its managers, never analysts
    try:
        at = login(dash.analyst)
        no_problem(at)
        at.selectbox(key="analyst_tenant").set_value(t).run()
        no_problem(at)
        start, end = default_period(t, analyst=True)
        v = serving_sql(None, "SELECT sum(consumed_value) FROM marts.fct_material_usage_daily "
                              "WHERE tenant_id = ? AND usage_date BETWEEN ? AND ?", [t, start, end]).iloc[0, 0]
        assert metric(at, "Consumption value") == pytest.approx(round(v, 2), abs=0.006)
        at.selectbox(key="cons_dimension@en").set_value("user").run()
        pseudonyms = serving_sql(None, "SELECT user_pseudonym FROM marts.dim_users WHERE tenant_id = ?", [t])
        names = serving.lookup_names(t, list(pseudonyms.user_pseudonym))
        assert names
        texts = [page_text(at)]
        for page in ("stock", "tools", "insights"):
            open_page(at, page)
            no_problem(at)
            texts.append(page_text(at))
        text = "\n".join(texts)
        leaked = [n for n in names.values() if n and n in text]
        assert not leaked
        assert not any(p in text for p in pseudonyms.user_pseudonym)   # labels only, never the full pseudonym
        with pytest.raises(ValueError):
            at.switch_page("app_pages/operations.py")
    finally:
        set_names_visible(t, False)


# -- ops and privacy officer -------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["ops", "privacy_officer"])
def test_operations_page_counts(dash, role):
    from pipelines.serving import files as serving

    at = login(dash.ops if role == "ops" else dash.privacy_officer)
    con = serving.open_ops()
    try:
        tenants = con.execute("SELECT count(*) FROM ops.tenant_freshness").fetchone()[0]
        quarantined = con.execute("SELECT sum(rows) FROM ops.quarantine_by_rule").fetchone()[0]
        runs = con.execute("SELECT count(*) FROM ops.runs").fetchone()[0]
        failures = con.execute("SELECT count(*) FROM ops.failures").fetchone()[0]
    finally:
        con.close()
    # the only error the page may show is the failed runs the ops file lists (the shared build has
    # its own: tests/dashboards/test_operations.py makes one on purpose)
    assert not at.exception and not at.warning
    assert [e.value for e in at.error] == ([f"{failures} failed run{'s' if failures != 1 else ''} among the runs "
                                            "recorded."] if failures else [])
    assert at.title[0].value == "Operations"
    assert metric(at, "Tenants") == tenants
    tables = dataframes(at)
    [freshness] = [df for df in tables if "files_loaded" in df.columns]
    [quarantine] = [df for df in tables if "rule_id" in df.columns]
    [run_table] = [df for df in tables if "status" in df.columns]
    assert quarantine["rows"].sum() == quarantined
    assert set(quarantine.columns) >= {"tenant_id", "entity", "rule_id", "reason", "rows"}
    assert len(run_table) == min(runs, 20)
    assert all(link.startswith("http://") and "/runs/" in link for link in run_table["link"])
    assert any("/overview" in m.value for m in at.markdown)
    for page in TENANT_PAGES:
        with pytest.raises(ValueError):
            at.switch_page(f"app_pages/{page}.py")


def test_manager_cannot_open_operations(dash):
    from dashboards import auth

    at = login(dash.manager_a)
    with pytest.raises(ValueError):                      # not in the manager's navigation
        at.switch_page("app_pages/operations.py")
    # and the page itself refuses a genuine manager session
    account = at.session_state[auth.SESSION_KEY]["account"]
    direct = AppTest.from_file(str(PAGES_DIR / "operations.py"), default_timeout=TIMEOUT)
    issued = time.time()
    direct.session_state[auth.SESSION_KEY] = {"account": account, "issued": issued, "mac": auth._mac(account, issued)}
    direct.run()
    assert [e.value for e in direct.error] == ["Your account does not have access to this page."]
    assert not direct.dataframe and not direct.metric


# -- isolation ------------------------------------------------------------------------------------------

def _tenant_strings(tenant: str) -> set[str]:
    """What would betray a tenant on a page: its id and name, its locations, projects and
    materials by name, its people's labels and pseudonyms."""
    from dashboards.data.common import user_label

    q = lambda sql: serving_sql(tenant, sql, [tenant])  # noqa: E731
    out = {tenant}
    out |= set(q("SELECT tenant_name FROM marts.dim_tenants WHERE tenant_id = ?").iloc[:, 0].dropna())
    for sql in ("SELECT location_name FROM marts.dim_locations WHERE tenant_id = ?",
                "SELECT project_name FROM marts.dim_projects WHERE tenant_id = ?",
                "SELECT material_name FROM marts.dim_materials WHERE tenant_id = ?"):
        out |= set(q(sql).iloc[:, 0].dropna())
    users = q("SELECT user_pseudonym, role FROM marts.dim_users WHERE tenant_id = ?")
    out |= set(users.user_pseudonym) | {user_label(r, p) for p, r in zip(users.user_pseudonym, users.role)}
    return {s for s in out if len(s) >= 4}


@pytest.fixture(scope="module")
def b_only(dash) -> set[str]:
    only = _tenant_strings(dash.tenant_b) - _tenant_strings(dash.tenant_a)
    assert len(only) > 20
    return only


@pytest.mark.parametrize("page", TENANT_PAGES)
def test_manager_of_a_never_receives_tenant_b(dash, b_only, page):
    from dashboards import auth

    at = login(dash.manager_a)
    if page != "consumption":
        open_page(at, page)
    honest = page_text(at)
    # Try to point the session at B through every door a user could push on.
    at.query_params["tenant"] = dash.tenant_b
    at.query_params["tenant_id"] = dash.tenant_b
    for key in ("tenant", "tenant_id", "analyst_tenant", "role"):
        at.session_state[key] = dash.tenant_b if key != "role" else "analyst"
    at.run()
    no_problem(at)
    for text in (honest, page_text(at)):
        leaked = sorted(s for s in b_only if s in text)
        assert not leaked, leaked[:5]
    assert dash.tenant_b not in page_text(at)
    assert at.session_state[auth.SESSION_KEY]["account"].tenant_id == dash.tenant_a
    if page == "consumption":
        start, end = default_period(dash.tenant_a)
        v = serving_sql(dash.tenant_a, "SELECT sum(consumed_value) FROM marts.fct_material_usage_daily "
                                       "WHERE tenant_id = ? AND usage_date BETWEEN ? AND ?",
                        [dash.tenant_a, start, end]).iloc[0, 0]
        assert metric(at, "Consumption value") == pytest.approx(round(v, 2), abs=0.006)


def test_a_forged_session_is_dropped(dash):
    """Session state that did not come from a login (here: a manager account for B with a made-up
    signature) is not a session: the visitor sees the login page and nothing of B."""
    from dashboards import auth
    from pipelines.accounts.users import Account

    at = new_app()
    forged = Account(1, dash.manager_b, "manager", dash.tenant_b)
    at.session_state[auth.SESSION_KEY] = {"account": forged, "issued": time.time(), "mac": "0" * 64}
    at.run()
    no_problem(at)
    assert not at.metric and not at.dataframe
    assert at.text_input(key="login_email") is not None

    # A genuine session whose account is swapped for another tenant's afterwards is dropped too.
    at = login(dash.manager_a)
    entry = dict(at.session_state[auth.SESSION_KEY])
    entry["account"] = Account(entry["account"].id, entry["account"].email, "manager", dash.tenant_b)
    at.session_state[auth.SESSION_KEY] = entry
    at.run()
    assert not at.metric and at.text_input(key="login_email") is not None


def test_caches_are_per_tenant(dash):
    """Both managers open the same page with the same filters: each gets their own figures."""
    figures = {}
    for email, tenant in ((dash.manager_a, dash.tenant_a), (dash.manager_b, dash.tenant_b)):
        at = login(email)
        at.date_input[0].set_value((date(2026, 10, 1), date(2026, 10, 31))).run()
        v = serving_sql(tenant, "SELECT sum(consumed_value) FROM marts.fct_material_usage_daily "
                                "WHERE tenant_id = ? AND usage_date BETWEEN DATE '2026-10-01' AND DATE '2026-10-31'",
                        [tenant]).iloc[0, 0]
        figures[tenant] = metric(at, "Consumption value")
        assert figures[tenant] == pytest.approx(round(v, 2), abs=0.006)
    assert figures[dash.tenant_a] != figures[dash.tenant_b]


# -- names: a tenant's choice, its own managers only, audited ------------------------------------------

def test_names_only_for_the_tenants_managers_when_allowed_and_audited(dash):
    from pipelines.serving import files as serving
    from pipelines.accounts.tenants import set_names_visible
    from pipelines.accounts.store import accounts_path

    t = dash.tenant_a
    at = open_page(login(dash.manager_a), "tools")
    holders = dataframes(at)[0]["holder"]
    assert all(re.fullmatch(r"[A-Z][a-z ]+ [0-9A-F]{4,8}", h) for h in holders)   # default: no names

    def audits() -> int:
        with sqlite3.connect(accounts_path()) as con:
            return con.execute("SELECT count(*) FROM auth_events WHERE event = 'names_view'").fetchone()[0]

    before = audits()
    set_names_visible(t, True)
    try:
        at.run()
        no_problem(at)
        custody = serving_sql(t, "SELECT user_pseudonym FROM marts.rpt_tool_custody WHERE tenant_id = ?", [t])
        names = serving.lookup_names(t, list(custody.user_pseudonym))
        shown = set(dataframes(at)[0]["holder"])
        assert shown and shown <= set(names.values())
        assert audits() == before + 1
        # the other tenant's manager sees their own tenant with labels only: B did not opt in
        other = open_page(login(dash.manager_b), "tools")
        if other.dataframe:
            assert all(re.fullmatch(r"[A-Z][a-z ]+ [0-9A-F]{4,8}", h) for h in dataframes(other)[0]["holder"])
    finally:
        set_names_visible(t, False)


# -- empty and unavailable states -------------------------------------------------------------------------

def test_nothing_published_yet_says_run_mira(mira_home):
    from pipelines.accounts.users import add_user

    add_user("fresh.manager@example.com", "manager", "fresh-tenant", password="fresh-password-123")
    at = login("fresh.manager@example.com", "fresh-password-123")
    assert not at.exception
    assert any("mira run" in w.value for w in at.warning)
    assert not at.dataframe
    assert "Traceback" not in page_text(at)


def test_tenant_b_file_does_not_open_with_tenant_a_key(dash):
    from pipelines.serving import files as serving
    from pipelines.warehouse import CannotOpen, connect

    ring = serving.read_keyring()
    with pytest.raises(CannotOpen):
        with connect(serving.tenant_path(dash.tenant_b), read_only=True, key=ring[dash.tenant_a]):
            pass
