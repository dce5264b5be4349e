"""The Stock page's queries (dashboards/views/stock.py): on hand per location, stock on a chosen
date, reorder suggestions and the purchase proposal per supplier, days of cover, dead and slow
stock, ageing bands, count accuracy and shrinkage."""
from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards.data import pool
from dashboards.data.pool import Source


def stock_by_location(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per location: location, kind, materials in stock, materials at zero or below, value on hand."""
    return pool.query(source, tenant_id, """
        SELECT s.location_id, any_value(coalesce(l.location_name, s.location_id)) AS location,
               any_value(l.location_kind) AS kind,
               count(*) FILTER (s.quantity_on_hand > 0) AS materials_in_stock,
               count(*) FILTER (s.quantity_on_hand <= 0) AS materials_out_of_stock,
               coalesce(sum(s.value_on_hand), 0) AS value_on_hand
        FROM marts.rpt_stock_on_hand s
        LEFT JOIN marts.dim_locations l ON l.tenant_id = s.tenant_id AND l.location_id = s.location_id
        WHERE s.tenant_id = ?
        GROUP BY s.location_id ORDER BY value_on_hand DESC, location""", [tenant_id])


def stock_on_hand(tenant_id: str, location_id: str | None = None, source: Source = "tenant") -> pd.DataFrame:
    """Per location and material: quantity, unit, value, last movement (one location when given)."""
    params: list = [tenant_id]
    where = ""
    if location_id is not None:
        where = " AND s.location_id = ?"
        params.append(location_id)
    return pool.query(source, tenant_id, f"""
        SELECT coalesce(l.location_name, s.location_id) AS location, s.material_id,
               coalesce(m.material_name, s.material_id) AS material, m.category,
               s.quantity_on_hand, s.unit, s.value_on_hand, s.last_movement_date
        FROM marts.rpt_stock_on_hand s
        LEFT JOIN marts.dim_locations l ON l.tenant_id = s.tenant_id AND l.location_id = s.location_id
        LEFT JOIN marts.dim_materials m ON m.tenant_id = s.tenant_id AND m.material_id = s.material_id
        WHERE s.tenant_id = ?{where}
        ORDER BY location, material""", params)


def reorder_suggestions(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Materials at or below their reorder level (or minimum) per warehouse, with the suggested
    order quantity, its value at current cost and the catalogue's supplier."""
    return pool.query(source, tenant_id, """
        SELECT coalesce(m.material_name, r.material_id) AS material, m.sku,
               coalesce(l.location_name, r.location_id) AS warehouse, r.supplier, m.unit_cost,
               r.quantity_on_hand, m.unit, r.min_stock, r.reorder_level, r.avg_daily_use, r.lead_time_days,
               r.is_below_minimum, r.is_below_reorder_level, r.reorder_qty, r.suggested_order_qty,
               -- capped: less than ERPNext's max(usual quantity, shortfall) (the model's docstring says why)
               r.suggested_order_qty < greatest(coalesce(r.reorder_qty, 0),
                                                ceiling(r.reorder_level - r.quantity_on_hand)) AS is_capped,
               r.suggested_order_qty * m.unit_cost AS order_value
        FROM marts.rpt_reorder_suggestions r
        LEFT JOIN marts.dim_materials m ON m.tenant_id = r.tenant_id AND m.material_id = r.material_id
        LEFT JOIN marts.dim_locations l ON l.tenant_id = r.tenant_id AND l.location_id = r.location_id
        WHERE r.tenant_id = ? AND (r.is_below_reorder_level OR r.is_below_minimum)
        ORDER BY r.is_below_minimum DESC, order_value DESC NULLS LAST, material""", [tenant_id])


def days_of_cover(tenant_id: str, within_days: int | None = None, source: Source = "tenant") -> pd.DataFrame:
    """Stock with a predicted stock-out date (there is net use), soonest first; only those running
    out within `within_days` of the as-of date when given."""
    params: list = [tenant_id]
    where = ""
    if within_days is not None:
        where = " AND d.predicted_stockout_date <= d.as_of_date + CAST(? AS INTEGER)"
        params.append(int(within_days))
    return pool.query(source, tenant_id, f"""
        SELECT coalesce(m.material_name, d.material_id) AS material,
               coalesce(l.location_name, d.location_id) AS location,
               d.quantity_on_hand, m.unit, d.avg_daily_use, d.days_of_cover, d.predicted_stockout_date,
               d.as_of_date
        FROM marts.rpt_days_of_cover d
        LEFT JOIN marts.dim_materials m ON m.tenant_id = d.tenant_id AND m.material_id = d.material_id
        LEFT JOIN marts.dim_locations l ON l.tenant_id = d.tenant_id AND l.location_id = d.location_id
        WHERE d.tenant_id = ? AND d.predicted_stockout_date IS NOT NULL{where}
        ORDER BY d.predicted_stockout_date, d.days_of_cover, material""", params)


AGE_BANDS = ("0_30", "31_60", "61_90", "91_180", "181_365", "over_365")


def stock_ageing(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per location: quantity-weighted average age and the value on hand in each age band
    (value_age_0_30 ... value_age_over_365)."""
    bands = ", ".join(f"coalesce(sum(a.value_age_{b}), 0) AS value_age_{b}" for b in AGE_BANDS)
    return pool.query(source, tenant_id, f"""
        SELECT coalesce(any_value(l.location_name), a.location_id) AS location,
               coalesce(sum(a.value_on_hand), 0) AS value_on_hand,
               sum(a.average_age_days * a.quantity_on_hand) / nullif(sum(a.quantity_on_hand), 0) AS average_age_days,
               {bands}
        FROM marts.rpt_stock_ageing a
        LEFT JOIN marts.dim_locations l ON l.tenant_id = a.tenant_id AND l.location_id = a.location_id
        WHERE a.tenant_id = ?
        GROUP BY a.location_id ORDER BY value_on_hand DESC, location""", [tenant_id])


def count_accuracy(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per month and location: counts with a difference, accuracy, found, missing, scrap, shrinkage."""
    return pool.query(source, tenant_id, """
        SELECT c.month_start AS month, coalesce(l.location_name, c.location_id) AS location,
               c.adjustment_count AS counts_with_difference, c.count_accuracy, c.counted_value,
               c.found_value, c.missing_value, c.scrap_value, c.shrinkage_value
        FROM marts.rpt_count_accuracy c
        LEFT JOIN marts.dim_locations l ON l.tenant_id = c.tenant_id AND l.location_id = c.location_id
        WHERE c.tenant_id = ?
        ORDER BY c.month_start DESC, location""", [tenant_id])


def stock_as_of(tenant_id: str, day: date, source: Source = "tenant") -> pd.DataFrame:
    """Stock on hand at the end of `day`, per location and material (non-zero quantities only):
    the ledger's level whose validity holds that day (stock_date <= day < valid_to), valued at the
    catalogue's current cost as the mart values it."""
    return pool.query(source, tenant_id, """
        SELECT s.location_id, coalesce(l.location_name, s.location_id) AS location, s.material_id,
               coalesce(m.material_name, s.material_id) AS material, m.category,
               s.quantity_on_hand, m.unit, s.value_on_hand, s.stock_date AS last_movement_date
        FROM marts.fct_stock_levels_daily s
        LEFT JOIN marts.dim_locations l ON l.tenant_id = s.tenant_id AND l.location_id = s.location_id
        LEFT JOIN marts.dim_materials m ON m.tenant_id = s.tenant_id AND m.material_id = s.material_id
        WHERE s.tenant_id = ? AND s.stock_date <= ? AND (s.valid_to IS NULL OR s.valid_to > ?)
          AND s.quantity_on_hand <> 0
        ORDER BY location, material""", [tenant_id, day, day])


SLOW_DAYS = (30, 90, 180, 365)


def slow_stock(tenant_id: str, days: int, source: Source = "tenant") -> pd.DataFrame:
    """Per material with stock and no issue in the last `days` days (rpt_slow_stock): last issue
    (empty: never), days without one, quantity and value on hand, and where it lies (the
    locations, most valuable first, with their quantities)."""
    return pool.query(source, tenant_id, """
        WITH here AS (
            SELECT s.*, coalesce(l.location_name, s.location_id) AS location
            FROM marts.rpt_slow_stock s
            LEFT JOIN marts.dim_locations l ON l.tenant_id = s.tenant_id AND l.location_id = s.location_id
            WHERE s.tenant_id = ? AND s.days_without_issue >= ?
        )
        SELECT h.material_id, coalesce(any_value(m.material_name), h.material_id) AS material,
               any_value(m.category) AS category, any_value(h.last_issue_date) AS last_issue_date,
               any_value(h.days_without_issue) AS days_without_issue,
               sum(h.quantity_on_hand) AS quantity_on_hand, any_value(m.unit) AS unit,
               sum(h.value_on_hand) AS value_on_hand, count(*) AS locations,
               string_agg(h.location, '; ' ORDER BY h.value_on_hand DESC NULLS LAST, h.location) AS where_it_lies
        FROM here h
        LEFT JOIN marts.dim_materials m ON m.tenant_id = h.tenant_id AND m.material_id = h.material_id
        GROUP BY h.material_id
        ORDER BY value_on_hand DESC NULLS LAST, material""", [tenant_id, int(days)])


NO_SUPPLIER = "(no supplier)"


def purchase_proposal(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """The suggested orders as order lines, grouped by supplier (NO_SUPPLIER where the catalogue
    names none): supplier, article number, material, warehouse to deliver to, quantity, unit,
    unit cost, order value. Lines with nothing to order are left out."""
    return pool.query(source, tenant_id, f"""
        SELECT coalesce(r.supplier, '{NO_SUPPLIER}') AS supplier, m.sku, coalesce(m.material_name, r.material_id) AS material,
               coalesce(l.location_name, r.location_id) AS warehouse, r.suggested_order_qty, m.unit, m.unit_cost,
               r.suggested_order_qty * m.unit_cost AS order_value, r.is_below_minimum
        FROM marts.rpt_reorder_suggestions r
        LEFT JOIN marts.dim_materials m ON m.tenant_id = r.tenant_id AND m.material_id = r.material_id
        LEFT JOIN marts.dim_locations l ON l.tenant_id = r.tenant_id AND l.location_id = r.location_id
        WHERE r.tenant_id = ? AND r.suggested_order_qty > 0
        ORDER BY r.supplier IS NULL, r.supplier, warehouse, material""", [tenant_id])


# what dashboards/views/stock.py reads, behind Streamlit's cache (keyed by tenant and source)
cached = pool.Cached(stock_by_location, stock_on_hand, reorder_suggestions, days_of_cover, stock_ageing,
                     count_accuracy, stock_as_of, slow_stock, purchase_proposal)
