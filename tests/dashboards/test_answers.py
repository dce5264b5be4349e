"""The answers managers asked for, each checked against SQL on the marts of the tenant's own
serving file (written here independently of the page's queries): the consumption filters at
once, the project drill-down, the same period last year, stock on a chosen date, dead and slow
stock, the purchase proposal per supplier (its download opened), and the monthly report's
month and partial-month flag (its PDF read)."""
from __future__ import annotations

import csv
import io
import shutil
from datetime import date, timedelta

import pandas as pd
import pytest

from dashboards.data import consumption as data
from dashboards.i18n import Lang
from tests.conftest import point_at
from tests.dashboards.conftest import (PASSWORD, dataframes, default_period, download, login, metric,
                                       open_page, serving_sql)


def _money(v) -> float:
    return round(float(v), 2)


# -- consumption: four filters at once, and a project's materials ---------------------------------

def _busiest_combination(t: str, start: date, end: date) -> pd.Series:
    return serving_sql(t, f"""
        SELECT f.project_id, f.location_id, m.category, f.user_pseudonym, sum(f.consumed_value) AS v
        FROM marts.fct_material_usage_daily f
        JOIN marts.dim_materials m ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id
        WHERE f.tenant_id = ? AND f.usage_date BETWEEN ? AND ?
          AND f.project_id IS NOT NULL AND m.category IS NOT NULL AND f.user_pseudonym IS NOT NULL
        GROUP BY ALL ORDER BY v DESC, 1, 2, 3, 4 LIMIT 1""", [t, start, end]).iloc[0]


def _truth(t: str, start: date, end: date, where: str, params: list) -> pd.Series:
    return serving_sql(t, f"""
        SELECT coalesce(sum(f.consumed_value), 0) AS v, coalesce(sum(f.movement_count), 0) AS n
        FROM marts.fct_material_usage_daily f
        LEFT JOIN marts.dim_materials m ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id
        WHERE f.tenant_id = ? AND f.usage_date BETWEEN ? AND ? {where}""", [t, start, end, *params]).iloc[0]


def test_consumption_filters_combine_project_location_category_and_person(dash):
    t = dash.tenant_a
    start, end = default_period(t)
    pick = _busiest_combination(t, start, end)
    at = open_page(login(dash.manager_a), "consumption")
    at.multiselect(key="cons_f_projects@en").set_value([pick.project_id]).run()
    only_project = _truth(t, start, end, "AND f.project_id = ?", [pick.project_id])
    assert metric(at, "Consumption value") == pytest.approx(_money(only_project.v), abs=0.006)
    at.multiselect(key="cons_f_locations@en").set_value([pick.location_id]).run()
    at.multiselect(key="cons_f_categories@en").set_value([pick.category]).run()
    at.multiselect(key="cons_f_people@en").set_value([pick.user_pseudonym]).run()
    assert not at.exception, [e.value for e in at.exception]
    truth = _truth(t, start, end, "AND f.project_id = ? AND f.location_id = ? AND m.category = ? AND f.user_pseudonym = ?",
                   [pick.project_id, pick.location_id, pick.category, pick.user_pseudonym])
    assert 0 < truth.v < only_project.v          # the other three filters narrowed something
    assert metric(at, "Consumption value") == pytest.approx(_money(truth.v), abs=0.006)
    assert metric(at, "Movements") == truth.n
    series = dataframes(at)[0]
    assert series["value"].sum() == pytest.approx(float(truth.v))


def test_project_drill_down_lists_what_the_project_consumed_and_its_cost(dash):
    t = dash.tenant_a
    start, end = default_period(t)
    pick = _busiest_combination(t, start, end)
    at = open_page(login(dash.manager_a), "consumption")
    at.selectbox(key="cons_project@en").set_value(pick.project_id).run()
    assert not at.exception, [e.value for e in at.exception]
    truth = serving_sql(t, """
        SELECT coalesce(m.material_name, f.material_id) AS label, sum(f.consumed_value) AS value
        FROM marts.fct_material_usage_daily f
        LEFT JOIN marts.dim_materials m ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id
        WHERE f.tenant_id = ? AND f.usage_date BETWEEN ? AND ? AND f.project_id = ?
        GROUP BY ALL HAVING sum(f.movement_count) > 0""", [t, start, end, pick.project_id])
    _series, _breakdown, _category, project, _top = dataframes(at)
    shown = project.rename(columns={project.columns[0]: "label"})
    assert sorted(shown["label"]) == sorted(truth["label"])
    assert shown["value"].sum() == pytest.approx(float(truth["value"].sum()))
    # and the page's caption names the project's cost in the period
    caption = " ".join(c.value for c in at.caption)
    assert Lang("en").money(float(truth["value"].sum())) in caption


@pytest.fixture
def year_later(dash, tmp_path, monkeypatch):
    """The dashboards' home with tenant a's consumption copied one year earlier into its serving
    file (rollups rebuilt from it), so the same period last year has known figures: the same."""
    from pipelines.serving import files as serving, rollups
    from pipelines.warehouse import open_file

    home = tmp_path / "mira"
    shutil.copytree(dash.home, home)
    point_at(monkeypatch, home)
    t = dash.tenant_a
    con = open_file(serving.tenant_path(t), key=serving.read_keyring()[t], alias="serving")
    try:
        cols = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
                                          "AND table_name = 'fct_material_usage_daily' ORDER BY column_index").fetchall()]
        moved = ", ".join("usage_date - INTERVAL 1 YEAR" if c == "usage_date" else c for c in cols)
        con.execute(f"INSERT INTO marts.fct_material_usage_daily SELECT {moved} FROM marts.fct_material_usage_daily")
        con.execute(f"DROP TABLE {rollups.TABLE}")
        rollups.build(con, "serving")
    finally:
        con.close()
    from dashboards.data import pool
    pool.clear()
    yield t
    pool.clear()


def _year_before(d: date) -> date:
    return d.replace(year=d.year - 1) if (d.month, d.day) != (2, 29) else date(d.year - 1, 2, 28)


def test_same_period_last_year_beside_the_previous_period(year_later):
    t = year_later
    start, end = default_period(t)
    truth_ly = _truth(t, _year_before(start), _year_before(end), "", [])
    now = _truth(t, start, end, "", [])
    days = (end - start).days + 1
    previous = _truth(t, start - timedelta(days=days), start - timedelta(days=1), "", [])
    # the copy made last year's rows the same as this year's, a year earlier (leap days aside)
    assert truth_ly.v > 0
    totals = data.consumption_totals(t, start, end).iloc[0]
    assert float(totals["last_year_value"]) == pytest.approx(float(truth_ly.v))
    assert float(totals["previous_value"]) == pytest.approx(float(previous.v))
    assert float(totals["value"]) == pytest.approx(float(now.v))
    by_category = data.consumption_breakdown(t, start, end, "category")
    assert by_category["last_year_value"].sum() == pytest.approx(float(truth_ly.v))
    # a category per category check: last year's figure is its own, not the total's
    per = serving_sql(t, """SELECT coalesce(m.category, ?) AS key, sum(f.consumed_value) AS v
        FROM marts.fct_material_usage_daily f
        LEFT JOIN marts.dim_materials m ON m.tenant_id = f.tenant_id AND m.material_id = f.material_id
        WHERE f.tenant_id = ? AND f.usage_date BETWEEN ? AND ? GROUP BY 1""",
                      [data.UNCATEGORISED, t, _year_before(start), _year_before(end)]).set_index("key")["v"]
    for _, row in by_category.iterrows():
        assert float(row["last_year_value"]) == pytest.approx(float(per.get(row["key"], 0)))


# -- stock ----------------------------------------------------------------------------------------

def test_stock_on_a_chosen_date_equals_the_movements_up_to_that_day(dash):
    t = dash.tenant_a
    first, last = [pd.Timestamp(x).date() for x in serving_sql(
        t, "SELECT min(movement_date), max(movement_date) FROM marts.fct_stock_movements WHERE tenant_id = ?",
        [t]).iloc[0]]
    day = first + (last - first) // 2
    at = open_page(login(dash.manager_a), "stock")
    at.date_input(key=f"stock_asof_date:{t}").set_value(day).run()
    assert not at.exception, [e.value for e in at.exception]
    truth = serving_sql(t, """
        SELECT coalesce(l.location_name, s.location_id) AS location, coalesce(m.material_name, s.material_id) AS material,
               sum(s.quantity_delta) AS q
        FROM marts.fct_stock_movements s
        LEFT JOIN marts.dim_locations l ON l.tenant_id = s.tenant_id AND l.location_id = s.location_id
        LEFT JOIN marts.dim_materials m ON m.tenant_id = s.tenant_id AND m.material_id = s.material_id
        WHERE s.tenant_id = ? AND s.movement_date <= ?
        GROUP BY ALL HAVING sum(s.quantity_delta) <> 0""", [t, day])
    [held] = [df for df in dataframes(at) if {"location", "material", "last_movement_date"} <= set(df.columns)]
    assert len(truth) > 5
    got = {(r.location, r.material): round(float(r.quantity_on_hand), 6) for r in held.itertuples()}
    want = {(r.location, r.material): round(float(r.q), 6) for r in truth.itertuples()}
    assert got == want
    # one location only
    where = truth["location"].value_counts().index[0]
    loc_id = serving_sql(t, "SELECT location_id FROM marts.dim_locations WHERE tenant_id = ? AND location_name = ?",
                         [t, where]).iloc[0, 0]
    at.selectbox(key="stock_asof_location@en").set_value(loc_id).run()
    [held] = [df for df in dataframes(at) if {"location", "material", "last_movement_date"} <= set(df.columns)]
    assert set(held["location"]) == {where} and len(held) == (truth["location"] == where).sum()


@pytest.mark.parametrize("days", [30, 90])
def test_dead_and_slow_stock_per_material(dash, days):
    t = dash.tenant_a
    at = open_page(login(dash.manager_a), "stock")
    at.radio(key="stock_slow_days@en").set_value(days).run()
    assert not at.exception, [e.value for e in at.exception]
    truth = serving_sql(t, """
        WITH now AS (SELECT max(movement_date) AS d FROM marts.fct_stock_movements WHERE tenant_id = $1),
        held AS (SELECT material_id, sum(quantity_delta) AS q FROM marts.fct_stock_movements
                 WHERE tenant_id = $1 GROUP BY ALL HAVING sum(quantity_delta) > 0),
        since AS (SELECT material_id, coalesce(max(movement_date) FILTER (movement_type = 'issue'),
                                               min(movement_date)) AS d
                  FROM marts.fct_stock_movements WHERE tenant_id = $1 GROUP BY ALL)
        SELECT coalesce(m.material_name, h.material_id) AS material, h.q
        FROM held h JOIN since s USING (material_id) JOIN marts.dim_materials m
          ON m.tenant_id = $1 AND m.material_id = h.material_id, now
        WHERE m.material_kind <> 'tool' AND now.d - s.d >= $2""", [t, days])
    slow = [df for df in dataframes(at) if "days_without_issue" in df.columns]
    assert days > 30 or not truth.empty, "60 days of generated data leave something idle for 30 days"
    if truth.empty:
        assert not slow
        return
    [slow] = slow
    assert sorted(slow["material"]) == sorted(truth["material"])
    assert (slow["days_without_issue"] >= days).all()
    want = dict(zip(truth["material"], truth["q"].astype(float).round(6)))
    assert {m: round(float(q), 6) for m, q in zip(slow["material"], slow["quantity_on_hand"])} == want


def test_purchase_proposal_groups_suggested_orders_per_supplier_and_downloads(dash, downloads_made):
    t = dash.tenant_a
    truth = serving_sql(t, """
        SELECT coalesce(r.supplier, '(no supplier)') AS supplier, count(*) AS n,
               sum(r.suggested_order_qty * m.unit_cost) AS v
        FROM marts.rpt_reorder_suggestions r
        JOIN marts.dim_materials m ON m.tenant_id = r.tenant_id AND m.material_id = r.material_id
        WHERE r.tenant_id = ? AND r.suggested_order_qty > 0 GROUP BY 1""", [t]).set_index("supplier")
    assert len(truth) >= 2, "the generated catalogue names suppliers"
    from pipelines.accounts import users as accounts

    buyer = "inkoper@example.com"      # no language of their own: the Belgian tenant's Dutch
    accounts.add_user(buyer, "manager", t, password=PASSWORD)
    at = open_page(login(buyer), "stock")
    assert not at.exception, [e.value for e in at.exception]
    [per_supplier] = [df for df in dataframes(at) if {"supplier", "order_lines", "order_value"} <= set(df.columns)]
    named = per_supplier.set_index("supplier")
    assert set(named.index) - {"(geen leverancier)"} == set(truth.index) - {"(no supplier)"}
    for supplier, row in truth.iterrows():
        key = "(geen leverancier)" if supplier == "(no supplier)" else supplier
        assert named.loc[key, "order_lines"] == row.n
        assert float(named.loc[key, "order_value"]) == pytest.approx(float(row.v))
    raw, name = download(at, downloads_made, "dl_proposal_csv")
    assert name.endswith(".csv")
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = next(i for i, r in enumerate(rows) if len(r) > 3)
    lines = rows[header + 1:]
    assert len(lines) == truth["n"].sum()
    value_col = len(rows[header]) - 2          # order value, before "below minimum"
    total = sum(float(r[value_col].replace(".", "").replace(",", ".").replace("€", "").strip() or 0) for r in lines)
    assert total == pytest.approx(float(truth["v"].sum()), abs=0.01 * len(lines))


# -- the monthly report --------------------------------------------------------------------------

def test_monthly_report_opens_on_the_last_complete_month_and_flags_a_partial_one(dash, downloads_made):
    from pypdf import PdfReader

    t = dash.tenant_a
    first, last = [pd.Timestamp(x).date() for x in serving_sql(
        t, "SELECT min(stock_date), max(stock_date) FROM marts.fct_stock_levels_daily WHERE tenant_id = ?", [t]).iloc[0]]
    at = open_page(login(dash.manager_a), "consumption")
    chosen = at.selectbox(key=f"cons_report_month:{t}@en").value
    # complete: starts on or after the first day of data, and the data reaches the month's end
    # (its last working day at least)
    month_end = (chosen.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    last_working = month_end - timedelta(days=max(0, month_end.weekday() - 4))
    assert chosen >= first and last >= last_working, (chosen, first, last)
    nxt = month_end + timedelta(days=1)
    assert not (nxt >= first and last >= (nxt.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=3)) \
        or nxt > last                                  # no later month is complete
    raw, _ = download(at, downloads_made, "dl_report")
    pdf = PdfReader(io.BytesIO(raw))
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    assert "Partial month" not in text
    value = serving_sql(t, """SELECT sum(consumed_value) FROM marts.fct_material_usage_daily
        WHERE tenant_id = ? AND usage_date BETWEEN ? AND ?""", [t, chosen, month_end]).iloc[0, 0]
    assert f"€{float(value):,.2f}" in text.replace("\xa0", "")
    # the first month of data is partial, and says so
    first_month = first.replace(day=1)
    if first > first_month:
        at.selectbox(key=f"cons_report_month:{t}@en").set_value(first_month).run()
        raw, _ = download(at, downloads_made, "dl_report")
        assert "Partial month" in PdfReader(io.BytesIO(raw)).pages[0].extract_text()
