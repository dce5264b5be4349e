"""What each page loads when it opens, uncached: what benchmarks/dashboards.py times, and what
tests/dashboards check loads on every page.

The functions are called through their modules (`consumption.consumption_breakdown`, never a
name imported here), so that whoever replaces a module's function (the benchmark's per-query
timer, a test's spy) sees every call made from here."""
from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.data import common, consumption, insights, operations, stock, tools
from dashboards.data.pool import Source

PAGES = ("consumption", "stock", "tools", "insights", "operations")


def page_data(page: str, tenant_id: str | None = None, *, source: Source = "tenant", start: date | None = None,
              end: date | None = None, grain: str = "day", dimension: str = "category",
              category: str | None = None) -> dict[str, pd.DataFrame]:
    """Everything a page loads when it opens (uncached), by query name: what the benchmark times.
    Consumption defaults to the page's default period (the last 30 days of consumption) and its
    first category for the drill-down."""
    if page == "consumption":
        out = {"usage_bounds": consumption.usage_bounds(tenant_id, source)}
        if start is None or end is None:
            period = consumption.default_period(tenant_id, source=source)
            if period is None:
                return out
            start, end = period
        out["consumption_totals"] = consumption.consumption_totals(tenant_id, start, end, source)
        out["consumption_series"] = consumption.consumption_series(tenant_id, start, end, grain, source)
        out["consumption_breakdown"] = consumption.consumption_breakdown(tenant_id, start, end, dimension,
                                                                         source=source)
        # the page asks for the category breakdown twice (its breakdown and the drill-down's list);
        # Streamlit's cache answers the second, so it is one query here too
        categories = (out["consumption_breakdown"] if dimension == "category"
                      else consumption.consumption_breakdown(tenant_id, start, end, "category", source=source))
        out["categories"] = categories
        if category is None and not categories.empty:
            category = categories["key"].iloc[0]
        if category is not None:
            out["category_materials"] = consumption.consumption_breakdown(tenant_id, start, end, "material",
                                                                          category=category, source=source)
        out["top_consumers"] = consumption.top_consumers(tenant_id, start, end, 10, source)
        out["tenant_info"] = common.tenant_info(tenant_id, source)
        return out
    if page == "stock":
        by_location = stock.stock_by_location(tenant_id, source)
        first_location = by_location["location_id"].iloc[0] if not by_location.empty else None
        return {"stock_by_location": by_location,
                "reorder_suggestions": stock.reorder_suggestions(tenant_id, source),
                "days_of_cover": stock.days_of_cover(tenant_id, None, source),
                "stock_on_hand": stock.stock_on_hand(tenant_id, first_location, source),
                "stock_ageing": stock.stock_ageing(tenant_id, source),
                "count_accuracy": stock.count_accuracy(tenant_id, source)}
    if page == "tools":
        return {"tool_custody": tools.tool_custody(tenant_id, source),
                "tool_utilisation": tools.tool_utilisation(tenant_id, source)}
    if page == "insights":
        return {"abc_xyz_matrix": insights.abc_xyz_matrix(tenant_id, source),
                "abc_xyz_materials": insights.abc_xyz_materials(tenant_id, source),
                "unusual_consumption": insights.unusual_consumption(tenant_id, 12, insights.MIN_PEOPLE, source)}
    if page == "operations":
        return {"ops_published": operations.ops_published(), "ops_freshness": operations.ops_freshness(),
                "ops_quarantine": operations.ops_quarantine(), "ops_runs": operations.ops_runs(20),
                "ops_failures": operations.ops_failures(20)}
    raise ValueError(f"unknown page {page!r}")
