"""The Insights page's queries (dashboards/views/insights.py): the ABC/XYZ classification and
unusual consumption, the latter only over groups of at least MIN_PEOPLE people."""
from __future__ import annotations

import pandas as pd

from dashboards.data import pool
from dashboards.data.consumption import USAGE
from dashboards.data.pool import Source


def abc_xyz_matrix(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Materials and consumption value per ABC x XYZ cell (xyz '-' under two weeks of history)."""
    return pool.query(source, tenant_id, """
        SELECT abc_class, coalesce(xyz_class, '-') AS xyz_class, count(*) AS materials,
               sum(consumed_value) AS value
        FROM marts.rpt_abc_xyz WHERE tenant_id = ?
        GROUP BY ALL ORDER BY 1, 2""", [tenant_id])


def abc_xyz_materials(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per material: class, value and quantity in the window, rank, weekly demand and its CV."""
    return pool.query(source, tenant_id, """
        SELECT coalesce(m.material_name, a.material_id) AS material, m.category, a.abc_class, a.xyz_class,
               a.abc_xyz_class, a.consumed_value, a.consumed_quantity, a.value_rank, a.cumulative_value_share,
               a.weekly_demand_mean, a.demand_cv, a.as_of_date
        FROM marts.rpt_abc_xyz a
        LEFT JOIN marts.dim_materials m ON m.tenant_id = a.tenant_id AND m.material_id = a.material_id
        WHERE a.tenant_id = ?
        ORDER BY a.value_rank""", [tenant_id])


MIN_PEOPLE = 5          # a group smaller than this is never shown: no individual may stand out
UNUSUAL_Z = 2.0


def unusual_consumption(tenant_id: str, history_weeks: int = 12, min_people: int = MIN_PEOPLE,
                        source: Source = "tenant") -> pd.DataFrame:
    """Each material's last 7 days (to the tenant's latest consumption day) against its own weekly
    history (the whole weeks before, up to `history_weeks`, weeks without use counting as 0): the
    z-score of the recent week. Only materials consumed by at least `min_people` distinct people
    both in the recent week and in the history, so the figure is never one person's behaviour.
    Columns: material, category, unit, recent_quantity, history_mean, history_stddev, weeks, z_score,
    recent_people."""
    min_people = max(int(min_people), MIN_PEOPLE)
    return pool.query(source, tenant_id, f"""
        WITH bounds AS (
            SELECT max(usage_date) AS as_of, min(usage_date) AS first_day FROM {USAGE} WHERE tenant_id = ?
        ), tagged AS (
            SELECT f.material_id, f.user_pseudonym, f.consumed_quantity,
                   CAST(floor(date_diff('day', f.usage_date, b.as_of) / 7) AS INTEGER) AS weeks_ago
            FROM {USAGE} f, bounds b
            WHERE f.tenant_id = ? AND f.usage_date > b.as_of - CAST(7 * (CAST(? AS INTEGER) + 1) AS INTEGER)
        ), weeks AS (   -- whole weeks of history that lie after the tenant's first consumption day
            SELECT w AS weeks_ago FROM bounds b, range(1, CAST(? AS INTEGER) + 1) r(w)
            WHERE b.as_of - CAST(7 * w + 6 AS INTEGER) >= b.first_day
        ), people AS (
            SELECT material_id,
                   count(DISTINCT user_pseudonym) FILTER (weeks_ago = 0) AS recent_people,
                   count(DISTINCT user_pseudonym) FILTER (weeks_ago IN (SELECT weeks_ago FROM weeks)) AS history_people
            FROM tagged GROUP BY 1
        ), eligible AS (
            SELECT material_id, recent_people FROM people
            WHERE recent_people >= ? AND history_people >= ?
        ), weekly AS (
            SELECT e.material_id, w.weeks_ago, coalesce(sum(t.consumed_quantity), 0) AS quantity
            FROM eligible e CROSS JOIN weeks w
            LEFT JOIN tagged t ON t.material_id = e.material_id AND t.weeks_ago = w.weeks_ago
            GROUP BY 1, 2
        ), history AS (
            SELECT material_id, avg(quantity) AS history_mean, stddev_pop(quantity) AS history_stddev,
                   count(*) AS weeks
            FROM weekly GROUP BY 1
        ), recent AS (
            SELECT t.material_id, sum(t.consumed_quantity) AS recent_quantity
            FROM tagged t JOIN eligible e USING (material_id) WHERE t.weeks_ago = 0 GROUP BY 1
        )
        SELECT coalesce(m.material_name, r.material_id) AS material, m.category, m.unit,
               r.recent_quantity, h.history_mean, h.history_stddev, h.weeks,
               CASE WHEN h.history_stddev > 0 THEN (r.recent_quantity - h.history_mean) / h.history_stddev END AS z_score,
               e.recent_people
        FROM recent r JOIN history h USING (material_id) JOIN eligible e USING (material_id)
        LEFT JOIN marts.dim_materials m ON m.tenant_id = ? AND m.material_id = r.material_id
        WHERE h.weeks >= 2
        ORDER BY abs(z_score) DESC NULLS LAST, material""",
                  [tenant_id, tenant_id, int(history_weeks), int(history_weeks), min_people, min_people, tenant_id])


# what dashboards/views/insights.py reads, behind Streamlit's cache (keyed by tenant and source)
cached = pool.Cached(abc_xyz_matrix, abc_xyz_materials, unusual_consumption)
