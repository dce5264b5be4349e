"""The Tools page's queries (dashboards/views/tools.py): who holds which tool, utilisation."""
from __future__ import annotations

import pandas as pd

from dashboards.data import pool
from dashboards.data.pool import Source


def tool_custody(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Tools out now: tool, user_pseudonym, role, store, project, since, days_out, quantity,
    overdue, lost; longest out first."""
    return pool.query(source, tenant_id, """
        SELECT coalesce(m.material_name, c.material_id) AS tool, c.user_pseudonym, u.role,
               coalesce(l.location_name, c.location_id) AS store,
               coalesce(p.project_name, c.project_id) AS project,
               c.checkout_date AS since, c.days_out, c.open_quantity AS quantity, c.is_overdue AS overdue,
               c.is_lost AS lost
        FROM marts.rpt_tool_custody c
        LEFT JOIN marts.dim_materials m ON m.tenant_id = c.tenant_id AND m.material_id = c.material_id
        LEFT JOIN marts.dim_users u ON u.tenant_id = c.tenant_id AND u.user_pseudonym = c.user_pseudonym
        LEFT JOIN marts.dim_locations l ON l.tenant_id = c.tenant_id AND l.location_id = c.location_id
        LEFT JOIN marts.dim_projects p ON p.tenant_id = c.tenant_id AND p.project_id = c.project_id
        WHERE c.tenant_id = ?
        ORDER BY c.days_out DESC, tool, c.checkout_movement_id""", [tenant_id])


def tool_utilisation(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """Per tool over the window: units out and in store now, utilisation share (0..1)."""
    return pool.query(source, tenant_id, """
        SELECT coalesce(m.material_name, t.material_id) AS tool, t.units_checked_out, t.units_in_store,
               t.utilisation_share, t.window_start_date, t.as_of_date
        FROM marts.rpt_tool_utilisation t
        LEFT JOIN marts.dim_materials m ON m.tenant_id = t.tenant_id AND m.material_id = t.material_id
        WHERE t.tenant_id = ?
        ORDER BY t.utilisation_share DESC NULLS LAST, tool""", [tenant_id])


# what dashboards/views/tools.py reads, behind Streamlit's cache (keyed by tenant and source)
cached = pool.Cached(tool_custody, tool_utilisation)
