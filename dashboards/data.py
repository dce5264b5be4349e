"""Dashboard data access: parameterised, read-only queries, nothing else.

Until the serving snapshots exist, the overview reads the warehouse read-only; a running
pipeline holds the write lock, which the page reports in words instead of failing.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from pipelines.settings import get_settings
from pipelines.warehouse import WarehouseMissing, connect


class DataUnavailable(RuntimeError):
    pass


def _query(sql: str, params: list | None = None) -> pd.DataFrame:
    try:
        with connect(read_only=True) as con:
            return con.execute(sql, params or []).df()
    except WarehouseMissing:
        raise DataUnavailable("No data yet: run `mira run` (or `make demo`) to build the warehouse.")
    except duckdb.IOException:
        raise DataUnavailable("The pipeline is writing the warehouse right now; try again in a minute.")
    except duckdb.CatalogException:
        raise DataUnavailable("The warehouse has no marts yet: run `mira run` to build them.")


def ingestion_overview() -> pd.DataFrame:
    return _query("""
        SELECT entity, count(DISTINCT tenant_id) AS tenants, count(*) FILTER (status = 'loaded') AS files,
               sum(rows_loaded) AS rows_loaded, sum(rows_quarantined) AS rows_quarantined
        FROM audit.files GROUP BY entity ORDER BY entity""")


def monthly_consumption_value() -> pd.DataFrame:
    """Consumption value per month over all tenants: an aggregate, no tenant's detail."""
    return _query("""
        SELECT date_trunc('month', usage_date) AS month, sum(consumed_value) AS value
        FROM marts.fct_material_usage_daily GROUP BY 1 ORDER BY 1""")


def home() -> str:
    return str(get_settings().home)
