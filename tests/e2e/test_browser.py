"""The dashboards in a real browser: a customer manager logs in, opens Consumption, changes the
period, downloads a table as CSV and logs out, against a Streamlit server this test starts.

AppTest (tests/dashboards) covers every page and role without a browser; this test covers what
only a browser shows: the login form, the navigation, the date picker, the download itself and
the session ending at logout. Figures are checked against the tenant's own serving file, read
directly (not through dashboards/data/), and the downloaded rows against every other tenant's.
"""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import BrowserHome

TIMEOUT_MS = 60_000          # a first render opens encrypted files; 2 shared cores
VIEWPORT = {"width": 1400, "height": 1000}
SERIES_HEADER = ["period_start", "quantity", "value", "movements"]


def tenant_sql(tenant: str, sql: str, params: list) -> list[tuple]:
    from pipelines.serving import files as serving

    con = serving.open_tenant(tenant)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def usage_bounds(tenant: str) -> tuple[date, date]:
    [(first, last)] = tenant_sql(tenant, "SELECT min(usage_date), max(usage_date) FROM marts.fct_material_usage_daily "
                                         "WHERE tenant_id = ?", [tenant])
    assert first is not None, f"tenant {tenant} has no consumption: the e2e data should give it some"
    return first, last


def daily(tenant: str, start: date, end: date) -> dict[str, tuple[float, float, int]]:
    """day -> (quantity, value, movements), as the series table of the Consumption page shows it."""
    rows = tenant_sql(tenant, """
        SELECT usage_date, sum(consumed_quantity), coalesce(sum(consumed_value), 0), sum(movement_count)
        FROM marts.fct_material_usage_daily WHERE tenant_id = ? AND usage_date BETWEEN ? AND ?
        GROUP BY 1 ORDER BY 1""", [tenant, start, end])
    return {d.isoformat(): (float(q), float(v), int(n)) for d, q, v, n in rows}


def movements(tenant: str, start: date, end: date) -> int:
    return sum(n for _, _, n in daily(tenant, start, end).values())


def test_manager_logs_in_changes_the_period_downloads_a_csv_and_logs_out(browser, streamlit_url,
                                                                          browser_home: BrowserHome, artifacts):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    tenant = browser_home.tenant
    first, last = usage_bounds(tenant)
    default_start = max(first, last - timedelta(days=29))
    new_start = max(first, last - timedelta(days=13))
    assert movements(tenant, new_start, last) != movements(tenant, default_start, last), \
        "the e2e data should give the two periods different figures"

    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    console: list[str] = []
    page_errors: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = artifacts / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    nav = page.locator('[data-testid="stSidebarNavLink"]')
    login_button = page.get_by_role("button", name="Log in")
    movements_metric = page.locator('[data-testid="stMetric"]').filter(has_text="Movements") \
        .locator('[data-testid="stMetricValue"]')

    try:
        # Logged out: the login form and nothing else.
        page.goto(streamlit_url)
        expect(login_button).to_be_visible()
        expect(page.get_by_role("textbox", name="Email")).to_be_visible()
        expect(nav).to_have_count(0)
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
        shot("login")

        page.get_by_role("textbox", name="Email").fill(browser_home.email)
        page.get_by_role("textbox", name="Password").fill(browser_home.password)
        login_button.click()
        expect(page.get_by_role("heading", name="Consumption", exact=True)).to_be_visible()
        expect(page.locator('[data-testid="stSidebar"]')).to_contain_text(tenant)
        expect(nav.filter(has_text="Consumption")).to_have_count(1)
        expect(nav.filter(has_text="Operations")).to_have_count(0)     # ops only
        # `mira serve`'s client settings: no developer menu (deploy, rerun, clear cache) for customers
        expect(page.locator('[data-testid="stMainMenu"]')).to_be_visible()
        expect(page.locator('[data-testid="stAppDeployButton"]')).to_have_count(0)

        # Open Consumption from the navigation (after another page, so it is a real switch).
        nav.filter(has_text="Stock").click()
        expect(page.get_by_role("heading", name="Stock", exact=True)).to_be_visible()
        expect(page.locator('[data-testid="stMetric"]').filter(has_text="Stock value")).to_be_visible()
        shot("stock")
        nav.filter(has_text="Consumption").click()
        expect(page.get_by_role("heading", name="Consumption", exact=True)).to_be_visible()
        expect(movements_metric).to_have_text(f"{movements(tenant, default_start, last):,}")
        shot("consumption")

        # Change the period: type the new start date into the picker's start field (year, month
        # and day segments advance by themselves), then close the picker, which applies it.
        page.get_by_role("spinbutton", name="year, Period start date").click()
        page.keyboard.type(new_start.strftime("%Y%m%d"))
        page.keyboard.press("Escape")
        expect(movements_metric).to_have_text(f"{movements(tenant, new_start, last):,}")
        shot("consumption-new-period")

        # Download the first table (consumption per day) as CSV.
        csv_button = page.locator('[data-testid="stDownloadButton"]').filter(has_text="CSV").first
        with page.expect_download() as info:
            csv_button.get_by_role("button").click()
        download = info.value
        assert download.failure() is None, download.failure()
        assert download.suggested_filename.endswith(".csv"), download.suggested_filename
        saved = artifacts / download.suggested_filename
        download.save_as(str(saved))
        shot("after-download")

        # Log out: back to the login page, and a fresh visit of a page's URL shows the login too.
        page.get_by_role("button", name="Log out").click()
        expect(login_button).to_be_visible()
        expect(nav).to_have_count(0)
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
        shot("logged-out")
        page.goto(f"{streamlit_url}/consumption")
        expect(login_button).to_be_visible()
        expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
    except BaseException:
        try:
            page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        except Exception:
            pass
        raise
    finally:
        (artifacts / "browser-console.txt").write_text("\n".join(console + [f"pageerror: {e}" for e in page_errors]))
        context.close()

    assert not page_errors, page_errors
    assert all(p.stat().st_size > 10_000 for p in shots), "a screenshot is empty"

    # The CSV: a header and the chosen period's rows, exactly this tenant's figures.
    text = saved.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == SERIES_HEADER, rows[0]
    body = rows[1:]
    assert body, "the downloaded CSV has no rows"
    got = {r[0][:10]: (float(r[1]), float(r[2]), int(float(r[3]))) for r in body}
    assert len(got) == len(body), "a day appears twice"
    want = daily(tenant, new_start, last)
    assert sorted(got) == sorted(want), "the CSV's days are not the chosen period's days with consumption"
    for day, (q, v, n) in got.items():
        wq, wv, wn = want[day]
        assert (q, v, n) == (pytest.approx(wq), pytest.approx(wv), wn), day
    for other in browser_home.others:
        theirs = daily(other, new_start, last)
        shared = [d for d in got if d in theirs]
        assert not shared or any(got[d][2] != theirs[d][2] or got[d][1] != pytest.approx(theirs[d][1])
                                 for d in shared), f"the CSV matches tenant {other}'s figures as well"
        assert other not in text
