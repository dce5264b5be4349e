"""What the app shell and several pages share: the tenants (the analyst's tenant picker in
dashboards/auth.py, a tenant's name) and the readable, non-identifying labels for people
(dashboards/layout.py `people`, and every page that lists people)."""
from __future__ import annotations

import pandas as pd

from dashboards.data import pool
from dashboards.data.pool import Source

# -- tenants ----------------------------------------------------------------------------------------

def tenant_info(tenant_id: str, source: Source = "tenant") -> pd.DataFrame:
    """One row: tenant_id, tenant_name, subscription_status, country_code (its language and currency)."""
    return pool.query(source, tenant_id, """
        SELECT tenant_id, coalesce(tenant_name, tenant_id) AS tenant_name, subscription_status, country_code
        FROM marts.dim_tenants WHERE tenant_id = ?""", [tenant_id])


def analyst_tenants() -> pd.DataFrame:
    """Every tenant in the analyst file (analysts are cross-tenant by design)."""
    return pool.query("analyst", None, """
        SELECT tenant_id, coalesce(tenant_name, tenant_id) AS tenant_name, country_code FROM marts.dim_tenants
        ORDER BY 2, 1""")


# -- people -----------------------------------------------------------------------------------------

def _role_text(role: object) -> str:
    return str(role).replace("_", " ").capitalize() if isinstance(role, str) and role else "User"


def user_label(role: object, pseudonym: object, role_title=_role_text) -> str:
    """A readable, stable, non-identifying label: role + first 4 hex characters of the pseudonym.
    `role_title` words the role (the pages pass one in the reader's language)."""
    return f"{role_title(role)} {str(pseudonym)[:4].upper()}"


def add_user_labels(df: pd.DataFrame, pseudonym_col: str = "user_pseudonym", role_col: str = "role",
                    label_col: str = "user", role_title=_role_text) -> pd.DataFrame:
    """Adds `label_col`; two people who would share a label get 8 characters instead of 4."""
    df = df.copy()
    if df.empty:
        df[label_col] = pd.Series(dtype="object")
        return df
    labels = [user_label(r, p, role_title) for r, p in zip(df[role_col], df[pseudonym_col])]
    df[label_col] = labels
    pairs = df[[label_col, pseudonym_col]].drop_duplicates()
    clashing = set(pairs[pairs.duplicated(label_col, keep=False)][label_col])
    if clashing:
        df[label_col] = [f"{lab.rsplit(' ', 1)[0]} {str(p)[:8].upper()}" if lab in clashing else lab
                         for lab, p in zip(df[label_col], df[pseudonym_col])]
    return df
