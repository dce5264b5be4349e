"""The dashboards in a real browser, against a Streamlit server this test starts: a customer
manager logs in, walks every page in Dutch, French and English, changes the period, downloads
and opens a CSV, an Excel file and the monthly PDF, and logs out.

One browser, one server, one login session across the languages (the suite runs on two cores).
What only a browser shows is checked here: no untranslated word on any page, amounts in euros
in the reader's format, chart months in order (Vega's SVG labels its axes), every request going
to 127.0.0.1 (no font or favicon from elsewhere), no table toolbar download and no developer
action on charts. Figures are checked against the tenant's own serving file, read directly.
Screenshots, downloads and the browser console go to the artifacts folder.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

import openpyxl
import pytest

from dashboards.i18n import Lang
from tests.e2e.conftest import BrowserHome

TIMEOUT_MS = 60_000          # a first render opens encrypted files; 2 shared cores
VIEWPORT = {"width": 1400, "height": 1000}
PAGES = ("Consumption", "Stock", "Tools", "Insights")
BELGIAN_EURO = {"nl": r"€\xa0\d{1,3}(\.\d{3})*,\d{2}", "fr": r"\d{1,3}(\u202f\d{3})*,\d{2}\xa0€",
                "en": r"€\d{1,3}(,\d{3})*\.\d{2}"}


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
    return {d.strftime("%d/%m/%Y"): (float(q), float(v), int(n)) for d, q, v, n in rows}


def movements(tenant: str, start: date, end: date) -> int:
    return sum(n for _, _, n in daily(tenant, start, end).values())


def test_manager_walks_every_page_in_three_languages(browser, streamlit_url, browser_home: BrowserHome, artifacts):
    from playwright.sync_api import expect

    from tests.dashboards.test_i18n import _data_words, english_only_words

    expect.set_options(timeout=TIMEOUT_MS)
    tenant = browser_home.tenant
    first, last = usage_bounds(tenant)
    new_start = first                    # the whole history: two months
    assert movements(tenant, first, last) != movements(tenant, max(first, last - timedelta(days=29)), last)
    english = english_only_words() - _data_words(tenant)

    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    console: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    shots: list[Path] = []
    problems: list[str] = []

    def shot(name: str) -> None:
        path = artifacts / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    nav = page.locator('[data-testid="stSidebarNavLink"]')
    x_axis = page.locator('[data-testid="stVegaLiteChart"] [aria-label^="X-axis"]').first
    metrics = page.locator('[data-testid="stMetric"]')
    main = page.locator('[data-testid="stMain"]')

    def heading(lang: Lang, title: str):
        return page.get_by_role("heading", name=lang._(title), exact=True)

    def open_page(lang: Lang, title: str) -> None:
        nav.filter(has=page.get_by_text(lang._(title), exact=True)).click()
        expect(heading(lang, title)).to_be_visible()
        expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)   # the run has finished

    def readable_text() -> str:
        """What the reader sees of the page and sidebar, without icon ligatures and data grids."""
        return page.evaluate("""() => {
            const root = document.querySelector('[data-testid="stApp"]').cloneNode(true);
            root.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stDataFrame"], svg')
                .forEach(e => e.remove());
            // a selectbox shows its choice as an input's value, which innerText leaves out
            const chosen = [...document.querySelectorAll('[data-testid="stApp"] input:not([type=password])')]
                .map(e => e.value);
            return root.innerText + "\\n" + chosen.join("\\n"); }""")

    def check_words(lang: Lang, where: str) -> None:
        if lang.code == "en":
            return
        text = readable_text().replace(browser_home.email, "")      # the reader's own address is not interface
        leaked = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)} & english
        if leaked:
            problems.append(f"{lang.code} {where}: English {sorted(leaked)}")

    def check_toolbars(where: str) -> None:
        for element in ('[data-testid="stDataFrame"]', '[data-testid="stVegaLiteChart"]'):
            target = page.locator(element).first
            if not target.count():
                continue
            target.hover()
            shown = page.locator('[data-testid="stElementToolbar"] button').evaluate_all(
                "els => els.filter(e => getComputedStyle(e).display !== 'none' && e.offsetParent !== null)"
                ".map(e => e.getAttribute('aria-label') || e.innerText)")
            bad = [b for b in shown if re.search(r"download as csv|vega|show data", b or "", re.I)]
            if bad:
                problems.append(f"{where}: toolbar offers {bad}")

    try:
        # Logged out: the login form and nothing else (in the browser's language: English here).
        page.goto(streamlit_url)
        login_button = page.get_by_role("button", name="Log in")
        expect(login_button).to_be_visible()
        expect(nav).to_have_count(0)
        expect(metrics).to_have_count(0)
        shot("login")
        page.get_by_role("textbox", name="Email").fill(browser_home.email)
        page.get_by_role("textbox", name="Password").fill(browser_home.password)
        login_button.click()

        # A Belgian tenant, a user who has not chosen: Dutch (the browser is English, not French).
        nl = Lang("nl")
        expect(heading(nl, "Consumption")).to_be_visible()
        expect(page.locator('[data-testid="stSidebar"]')).to_contain_text(tenant)
        expect(nav.filter(has_text="Werking")).to_have_count(0)     # Operations: ops only
        expect(page.locator('[data-testid="stMainMenu"]')).to_have_count(0)
        expect(page.locator('[data-testid="stAppDeployButton"]')).to_have_count(0)

        for code in ("nl", "fr", "en"):
            lang = Lang(code)
            if code != "nl":
                page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
                page.get_by_role("option", name={"fr": "Français", "en": "English"}[code]).click()
            open_page(lang, "Stock")        # a real page change, then back
            open_page(lang, "Consumption")
            value = metrics.filter(has_text=lang._("Consumption value")).locator('[data-testid="stMetricValue"]')
            expect(value).to_have_text(re.compile(BELGIAN_EURO[code]))
            # the month grain: the chart's own axis names the month in the reader's language
            page.get_by_text(lang._("month"), exact=True).click()
            expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
            expect(x_axis).to_have_attribute("aria-label", re.compile(re.escape(lang.month_short(last))))
            shot(f"{code}-consumption")
            check_words(lang, "Consumption")
            check_toolbars(f"{code} Consumption")
            page.get_by_text(lang._("day"), exact=True).click()
            expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
            for title in PAGES[1:]:
                open_page(lang, title)
                if title == "Stock":
                    expect(metrics.first.locator('[data-testid="stMetricValue"]')).to_have_text(
                        re.compile(BELGIAN_EURO[code]))
                shot(f"{code}-{title.lower()}")
                check_words(lang, title)
            check_toolbars(f"{code} Stock")

        # The choice stays with the account: a new session (reload, log in again) opens in English.
        page.goto(streamlit_url)             # a new session (a page URL would ask Streamlit for a page the login has not got)
        page.get_by_role("textbox", name="Email").fill(browser_home.email)
        page.get_by_role("textbox", name="Password").fill(browser_home.password)
        page.get_by_role("button", name="Log in").click()
        en = Lang("en")
        expect(heading(en, "Consumption")).to_be_visible()

        # Change the period: type the new start date into the picker's start field, then close it.
        page.get_by_role("spinbutton", name=re.compile("^day, Period start date")).click()
        page.keyboard.type(new_start.strftime("%d%m%Y"))
        page.keyboard.press("Escape")
        expect(metrics.filter(has_text="Movements").locator('[data-testid="stMetricValue"]')).to_have_text(
            f"{movements(tenant, new_start, last):,}")
        # months in order after the period changed (Vega kept the first order it saw before)
        page.get_by_text("month", exact=True).click()
        months = sorted({date(d.year, d.month, 1) for d in (new_start, last)})
        assert len(months) == 2, "the e2e data should span two months"
        expect(x_axis).to_have_attribute("aria-label", re.compile(re.escape(en.month_short(months[-1]))))
        label = x_axis.get_attribute("aria-label")
        assert re.findall(r"[A-Z][a-z]{2,3}\.? \d{4}", label) == [en.month_short(m) for m in months], label
        shot("en-consumption-two-months")
        page.get_by_text("day", exact=True).click()
        expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)

        # Downloads in Dutch: CSV (semicolons, decimal commas), Excel (numbers and formats), PDF.
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="Nederlands").click()
        expect(heading(nl, "Consumption")).to_be_visible()
        # the Dutch run has reached the page's end (its last button), so every button above is its own:
        # a click on one the run is about to replace asks for a file Streamlit has already dropped
        expect(page.locator('[data-testid="stDownloadButton"]').filter(
            has_text=nl._("Monthly report (PDF)"))).to_be_visible(timeout=60_000)
        expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0)
        check_words(nl, "Consumption after English")        # no choice left in the old language's words
        chosen_month = page.locator('[data-testid="stSelectbox"]').filter(has_text=nl._("Month")).locator("input")
        assert not re.search(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)\b",
                             chosen_month.input_value()), chosen_month.input_value()
        saved = {}
        for kind, label in (("csv", "CSV"), ("xlsx", "Excel"), ("pdf", nl._("Monthly report (PDF)"))):
            button = page.locator('[data-testid="stDownloadButton"]').filter(has_text=label).first
            with page.expect_download() as info:
                button.get_by_role("button").click()
            download = info.value
            assert download.failure() is None, download.failure()
            saved[kind] = artifacts / download.suggested_filename
            download.save_as(str(saved[kind]))
        shot("nl-after-downloads")

        # Log out: back to the login page.
        page.get_by_role("button", name=nl._("Log out")).click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()
        expect(metrics).to_have_count(0)
        shot("logged-out")
    except BaseException:
        try:
            page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        except Exception:
            pass
        raise
    finally:
        (artifacts / "browser-console.txt").write_text("\n".join(console + [f"pageerror: {e}" for e in page_errors]))
        (artifacts / "requests.txt").write_text("\n".join(requests))
        context.close()

    assert not problems, "\n".join(problems)
    assert not page_errors, page_errors
    assert all(p.stat().st_size > 10_000 for p in shots), "a screenshot is empty"
    outside = sorted({u for u in requests if urlparse(u).scheme not in ("data", "blob", "about")
                      and urlparse(u).hostname != "127.0.0.1"})
    assert not outside, outside
    assert len(requests) > 20

    # The CSV: Dutch headers, the chosen period's days, this tenant's figures, decimal commas.
    assert saved["csv"].name.endswith(f"_{new_start:%Y-%m-%d}_{last:%Y-%m-%d}.csv"), saved["csv"].name
    raw = saved["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == ["Periode", "Hoeveelheid", "Waarde (€)", "Bewegingen"], rows[0]
    got = {r[0]: (float(r[1].replace(",", ".")), float(r[2].replace(",", ".")), int(r[3])) for r in rows[1:]}
    want = daily(tenant, new_start, last)
    assert sorted(got) == sorted(want), "the CSV's days are not the chosen period's days with consumption"
    for day, (q, v, n) in got.items():
        assert (q, v, n) == (pytest.approx(want[day][0]), pytest.approx(want[day][1]), want[day][2]), day
    for other in browser_home.others:
        assert other not in raw.decode("utf-8-sig")

    # Excel: a title row, then the same rows as numbers and dates with their formats.
    ws = openpyxl.load_workbook(saved["xlsx"]).active
    assert new_start.strftime("%d/%m/%Y") in ws["A1"].value and last.strftime("%d/%m/%Y") in ws["A1"].value
    assert [c.value for c in ws[2]] == ["Periode", "Hoeveelheid", "Waarde (€)", "Bewegingen"]
    assert ws["A3"].number_format == "dd/mm/yyyy" and ws["A3"].value.date() >= new_start
    assert ws["C3"].number_format == '"€" #,##0.00' and isinstance(ws["C3"].value, float)
    assert len(list(ws.iter_rows(min_row=3))) == len(want)

    # The monthly PDF: Dutch, euros in Belgian format, the previous-period rule stated.
    from pypdf import PdfReader

    from dashboards.report_pdf import PREVIOUS_RULE

    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(saved["pdf"])).pages)
    assert "Verbruiksrapport" in text
    assert re.search(r"€\s\d{1,3}(\.\d{3})*,\d{2}", text.replace("\xa0", " ")), text[:300]
    assert " ".join(nl._(PREVIOUS_RULE).split()) in text
