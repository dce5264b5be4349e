"""The Operations page's queries (dashboards/views/operations.py), for the ops role: counts only,
no business data, no tenant scoping (the ops file; the page reads them uncached).

Instants leave DuckDB as naive UTC (timezone('UTC', ...)) and are made UTC-aware in pandas:
DuckDB's own conversion of TIMESTAMP WITH TIME ZONE to pandas calls DataFrame.drop(inplace=True),
which pandas 3.1 deprecates (a Pandas4Warning on every such query).
"""
from __future__ import annotations

import pandas as pd

from dashboards.data import pool


def _utc(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        df[column] = pd.to_datetime(df[column]).dt.tz_localize("UTC")
    return df


def ops_freshness() -> pd.DataFrame:
    return _utc(pool.query("ops", None, """
        SELECT tenant_id, timezone('UTC', last_ingest_at) AS last_ingest_at,
               timezone('UTC', last_movement_at) AS last_movement_at, CAST(files_loaded AS BIGINT) AS files_loaded,
               CAST(files_rejected AS BIGINT) AS files_rejected, CAST(rows_loaded AS BIGINT) AS rows_loaded,
               CAST(rows_quarantined AS BIGINT) AS rows_quarantined
        FROM ops.tenant_freshness ORDER BY last_ingest_at NULLS FIRST, tenant_id"""),
                "last_ingest_at", "last_movement_at")


def ops_quarantine() -> pd.DataFrame:
    return pool.query("ops", None, """
        SELECT tenant_id, entity, rule_id, reason, CAST(rows AS BIGINT) AS rows FROM ops.quarantine_by_rule
        ORDER BY rows DESC, tenant_id, entity, rule_id""")


def ops_runs(limit: int = 20) -> pd.DataFrame:
    """The last runs: run_id, job, status (Dagster's; empty for an ingest recorded without a
    Dagster run), started_at, finished_at, and what the run ingested."""
    return _utc(pool.query("ops", None, """
        SELECT run_id, job, status, timezone('UTC', started_at) AS started_at,
               timezone('UTC', finished_at) AS finished_at, files_ingested, rows_loaded, rows_quarantined
        FROM ops.runs ORDER BY runs.started_at DESC NULLS LAST, run_id LIMIT ?""", [int(limit)]),
                "started_at", "finished_at")


def ops_failures(limit: int = 20) -> pd.DataFrame:
    """The last failed runs: run_id, job, failed_at, failed_step, error_class (never the message:
    pipelines/serving/ops_file.py says why)."""
    return _utc(pool.query("ops", None, """
        SELECT run_id, job, timezone('UTC', failed_at) AS failed_at, failed_step, error_class
        FROM ops.failures ORDER BY failures.failed_at DESC NULLS LAST, run_id LIMIT ?""", [int(limit)]),
                "failed_at")


def ops_published() -> pd.DataFrame:
    return _utc(pool.query("ops", None, "SELECT timezone('UTC', max(published_at)) AS published_at FROM ops.published"),
                "published_at")
