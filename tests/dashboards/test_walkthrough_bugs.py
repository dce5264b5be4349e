"""The bugs a walk-through of the dashboards found (issue 14), each pinned by a test that failed
before its fix: chart order after a period change, the Stock headline's counts, one rule for
the previous period on screen and in the PDF, the analyst's tenant kept across pages, and run
statuses on the Operations page."""
from __future__ import annotations

import io
import json
from datetime import date

import pandas as pd
import pytest

from tests.dashboards.conftest import dataframes, login, metric, open_page, serving_sql


def _time_chart(at) -> dict:
    """The Consumption page's time chart (its x axis holds the periods)."""
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        x = spec.get("encoding", {}).get("x", {})
        if x.get("field") == "period":
            return spec
    raise AssertionError("no time chart on the page")


def _in_order(spec: dict, starts: list[date], lang_label) -> None:
    """The x axis states its order, and it is the periods' chronological order (Vega keeps the
    order it first saw when a chart's data is replaced, so an unsorted axis mixed old and new)."""
    sort = spec["encoding"]["x"].get("sort")
    assert isinstance(sort, list), f"the x axis has no explicit order: {sort!r}"
    assert sort == [lang_label(d) for d in sorted(starts)]


def test_time_chart_months_stay_in_order_after_the_period_changes(dash):
    from dashboards.i18n import Lang

    en = Lang("en")
    at = login(dash.manager_a)
    at.radio(key="cons_grain@en").set_value("month").run()
    first = dataframes(at)[0]
    _in_order(_time_chart(at), list(pd.to_datetime(first["period_start"]).dt.date), en.month_short)
    at.date_input[0].set_value((date(2026, 9, 1), date(2026, 10, 31))).run()
    second = dataframes(at)[0]
    assert len(second) == 2
    _in_order(_time_chart(at), list(pd.to_datetime(second["period_start"]).dt.date), en.month_short)
    at.radio(key="cons_grain@en").set_value("day").run()
    days = dataframes(at)[0]
    _in_order(_time_chart(at), list(pd.to_datetime(days["period_start"]).dt.date), en.day_short)


def test_stock_headline_names_and_counts_reorder_level_minimum_and_stock_outs(dash):
    t = dash.tenant_a
    at = open_page(login(dash.manager_a), "stock")
    truth = serving_sql(t, """SELECT count(*) FILTER (is_below_reorder_level) r, count(*) FILTER (is_below_minimum) m
        FROM marts.rpt_reorder_suggestions WHERE tenant_id = ?""", [t]).iloc[0]
    assert truth.r > truth.m, "the e2e data should have rows below the reorder level but above the minimum"
    assert metric(at, "Below reorder level") == truth.r
    assert metric(at, "Below minimum stock") == truth.m
    assert not [m for m in at.metric if m.label == "Below minimum"]     # the old, ambiguous name
    [orders] = [df for df in dataframes(at) if "reorder_level" in df.columns]   # not the proposal per supplier
    listed = serving_sql(t, """SELECT count(*) FROM marts.rpt_reorder_suggestions WHERE tenant_id = ?
        AND (is_below_reorder_level OR is_below_minimum)""", [t]).iloc[0, 0]
    assert len(orders) == listed
    # running out soon: stock that is still there and lasts 14 days or less; places already at
    # zero are not "running out" (they are out)
    soon = serving_sql(t, """SELECT count(*) FROM marts.rpt_days_of_cover WHERE tenant_id = ?
        AND quantity_on_hand > 0 AND predicted_stockout_date <= as_of_date + 14""", [t]).iloc[0, 0]
    at_zero = serving_sql(t, """SELECT count(*) FROM marts.rpt_days_of_cover WHERE tenant_id = ?
        AND quantity_on_hand <= 0 AND predicted_stockout_date IS NOT NULL""", [t]).iloc[0, 0]
    assert at_zero > 0, "the e2e data should have places already at zero with recent use"
    assert metric(at, "Running out within 14 days") == soon


def test_previous_period_is_one_rule_on_screen_and_in_the_pdf(dash):
    """October 2026 against September on screen (whole calendar months compare with the months
    before) and in October's PDF: the same figure, the same rule in words."""
    from pypdf import PdfReader

    from dashboards.i18n import Lang
    from dashboards.views.consumption import PREVIOUS_RULE, monthly_report

    t = dash.tenant_a
    at = login(dash.manager_a)
    at.date_input[0].set_value((date(2026, 10, 1), date(2026, 10, 31))).run()
    september = serving_sql(t, """SELECT sum(consumed_value) FROM marts.fct_material_usage_daily
        WHERE tenant_id = ? AND usage_date BETWEEN DATE '2026-09-01' AND DATE '2026-09-30'""", [t]).iloc[0, 0]
    en = Lang("en")
    caption = " ".join(c.value for c in at.caption)
    assert en.money(september) in caption
    assert "01/09/2026" in caption and "30/09/2026" in caption
    assert en._(PREVIOUS_RULE) in caption

    pdf = monthly_report(t, date(2026, 10, 1), "Tenant A", lang=en)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert en.money(september) in text
    assert " ".join(en._(PREVIOUS_RULE).split()) in " ".join(text.split())


def test_analyst_keeps_the_chosen_tenant_across_pages(dash):
    at = login(dash.analyst)
    at.selectbox(key="analyst_tenant").set_value(dash.tenant_b).run()
    for page in ("stock", "tools", "consumption"):
        open_page(at, page)
        assert at.selectbox(key="analyst_tenant").value == dash.tenant_b, page


def test_operations_lists_finished_runs_with_their_final_status(dash):
    """`mira run` publishes the ops file from inside its run, where Dagster still says STARTED;
    the file must be republished once the run has ended."""
    from pipelines.serving import files as serving

    con = serving.open_ops()
    try:
        statuses = [s for (s,) in con.execute("SELECT status FROM ops.runs WHERE job = 'full_build'").fetchall()]
    finally:
        con.close()
    assert len(statuses) == 2      # the e2e home: two `mira run`s
    assert statuses == ["SUCCESS", "SUCCESS"]
