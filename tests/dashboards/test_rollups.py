"""The Consumption page reads the rollups written into each tenant's serving file; every figure
must equal what the daily usage mart gives for the same period, to the last decimal, for any
period: month edges, ISO weeks across a new year, single days, a year starting mid-month."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboards.data import consumption, pages, pool
from pipelines.serving import rollups
from pipelines.serving import files as serving


def daily_only(monkeypatch):
    """The same functions answering from the daily mart (as for a file without rollups)."""
    monkeypatch.setattr(consumption, "_has_rollups", lambda source, tenant_id: False)


def periods(first: date, last: date) -> list[tuple[date, date]]:
    """Tricky periods inside (and around) the tenant's data."""
    mid = first + (last - first) // 2
    month = date(mid.year, mid.month, 1)
    month_end = rollups._month_end(month)
    new_year = date(last.year, 1, 1)
    out = [
        (first, last),                                          # everything
        (last - timedelta(days=29), last),                      # the page's default
        (last - timedelta(days=364), last),                     # the year view
        (mid, mid),                                             # one day
        (month, month_end),                                     # one whole month
        (month_end, month_end + timedelta(days=1)),             # two days across a month edge
        (month - timedelta(days=10), month_end + timedelta(days=10)),
        (new_year - timedelta(days=9), new_year + timedelta(days=9)),   # weeks across the year
        (first - timedelta(days=40), first + timedelta(days=3)),         # mostly before the data
    ]
    return [(a, b) for a, b in out if a <= b]


def results(tenant: str, start: date, end: date) -> dict[str, pd.DataFrame]:
    out = {"totals": consumption.consumption_totals(tenant, start, end)}
    for grain in consumption.GRAINS:
        out[f"series_{grain}"] = consumption.consumption_series(tenant, start, end, grain)
    for dimension in consumption.DIMENSIONS:
        out[dimension] = consumption.consumption_breakdown(tenant, start, end, dimension)
    categories = out["category"]["key"].tolist()
    for category in categories[:2]:
        out[f"drill_{category}"] = consumption.consumption_breakdown(tenant, start, end, "material", category=category)
        out[f"category_{category}"] = consumption.consumption_breakdown(tenant, start, end, "category", category=category)
    out["top"] = consumption.top_consumers(tenant, start, end, 3)
    return out


def test_the_tenant_file_has_every_rollup_and_only_its_tenant(dash):
    assert rollups.TABLE in pool.tables("tenant", dash.tenant_a)
    with serving.open_tenant(dash.tenant_a) as con:
        assert con.execute(f"SELECT DISTINCT tenant_id FROM {rollups.TABLE}").fetchall() == [(dash.tenant_a,)]
        stored = set(con.execute(f"SELECT DISTINCT dimension, grain FROM {rollups.TABLE}").fetchall())
    assert stored == {(rollups.TOTAL, "day")} | {(d, g) for d in rollups.DIMENSION_COLUMNS for g in rollups.GRAINS}


def test_rollups_equal_the_daily_mart_for_any_period(dash, monkeypatch):
    tenant = dash.tenant_a
    bounds = consumption.usage_bounds(tenant)
    first, last = (pd.Timestamp(bounds.iloc[0][c]).date() for c in ("first_date", "last_date"))
    cases = periods(first, last)
    from_rollups = {p: results(tenant, *p) for p in cases}
    daily_only(monkeypatch)
    assert consumption.usage_bounds(tenant).equals(bounds)
    checked = 0
    for p in cases:
        expected = results(tenant, *p)
        assert expected.keys() == from_rollups[p].keys(), p
        for name, df in expected.items():
            pd.testing.assert_frame_equal(from_rollups[p][name], df, check_exact=True, obj=f"{name} {p}")
            checked += len(df)
    assert checked > 100          # the periods held data: the comparison compared something


def test_rollups_answer_from_whole_months_and_weeks(dash, monkeypatch):
    """The year view must read the monthly rows, not the days (what makes it flat with size)."""
    seen: list[tuple[str, list]] = []
    real = pool.query

    def spy(source, tenant_id, sql, params=None):
        seen.append((sql, list(params or [])))
        return real(source, tenant_id, sql, params)

    monkeypatch.setattr(pool, "query", spy)
    consumption.consumption_breakdown(dash.tenant_a, date(2025, 11, 29), date(2026, 11, 28), "material")
    (sql, params), (ly_sql, ly_params) = seen[-2:]          # the period, then the same period last year
    for sql in (sql, ly_sql):
        assert rollups.TABLE in sql and "fct_material_usage_daily" not in sql

    def months(params):
        after = params[params.index("month") + 1:]
        return [after[i:i + 2] for i in range(len(after))]
    assert [date(2025, 12, 1), date(2026, 10, 1)] in months(params)          # Dec .. Oct
    assert [date(2024, 12, 1), date(2025, 10, 1)] in months(ly_params)       # a year before


def test_page_data_breaks_down_by_category_once(dash, monkeypatch):
    calls: list[str] = []
    real = consumption.consumption_breakdown

    def spy(tenant_id, start, end, dimension, **kw):
        calls.append(dimension if kw.get("category") is None else f"{dimension} in category")
        return real(tenant_id, start, end, dimension, **kw)

    monkeypatch.setattr(consumption, "consumption_breakdown", spy)
    out = pages.page_data("consumption", dash.tenant_a)
    assert calls.count("category") == 1
    assert out["categories"] is out["consumption_breakdown"]
