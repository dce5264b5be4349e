"""The warehouse's ingestion tables: raw.<entity> in each contract's column order, quarantine and the
audit manifest; brought up to date in place when a contract changes, so an existing home keeps working."""
from __future__ import annotations

import duckdb

from pipelines.contracts import ENTITIES, META_COLUMNS, Contract, load_contract, q

WAREHOUSE_DDL = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS quarantine.rows (
    run_id VARCHAR, tenant_id VARCHAR, entity VARCHAR, file_path VARCHAR, row_number BIGINT,
    rule_id VARCHAR, reason VARCHAR, payload JSON, quarantined_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS audit.files (
    file_path VARCHAR, content_hash VARCHAR, tenant_id VARCHAR, entity VARCHAR, file_format VARCHAR,
    size_bytes BIGINT, mtime_ns BIGINT, status VARCHAR, rows_read BIGINT, rows_loaded BIGINT,
    rows_quarantined BIGINT, reason VARCHAR, run_id VARCHAR, ingested_at TIMESTAMPTZ, etag VARCHAR);
-- etag: a landing blob's ETag (NULL for a file of a landing folder); added in place to older homes.
ALTER TABLE audit.files ADD COLUMN IF NOT EXISTS etag VARCHAR;
CREATE TABLE IF NOT EXISTS audit.runs (
    run_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, files_seen BIGINT,
    files_ingested BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT);
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the warehouse's tables, and bring a raw column whose contract type changed (a decimal
    given more digits) to the new type: rows cast into the old one would be rounded to fit it. A
    field the contract gained since the table was made (materials.supplier) is added empty."""
    con.execute(WAREHOUSE_DDL)
    for entity in ENTITIES:
        c = load_contract(entity)
        cols = [f"{q(n)} {t}" for n, t, _ in c.warehouse_columns] + [f"{n} {t}" for n, t in META_COLUMNS]
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{entity} ({', '.join(cols)})")
        have = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
                                "current_database() AND schema_name = 'raw' AND table_name = ?", [entity]).fetchall())
        if any(name not in have for name, _, _ in c.warehouse_columns):
            _add_fields(con, entity, c, have)
            continue
        for name, sql_type, _ in c.warehouse_columns:
            if have[name].replace(" ", "") != sql_type.replace(" ", ""):
                con.execute(f"ALTER TABLE raw.{entity} ALTER COLUMN {q(name)} TYPE {sql_type}")


def _add_fields(con: duckdb.DuckDBPyConnection, entity: str, c: Contract, have: dict[str, str]) -> None:
    """raw.<entity> rewritten in the contract's column order, new fields NULL in the rows already
    loaded: ADD COLUMN would append after the lineage columns, and the load inserts by position
    (`INSERT ... SELECT *`, MERGE's INSERT). A file that sends a row again with the field updates it."""
    select = [f"CAST({q(n) if n in have else 'NULL'} AS {t}) AS {q(n)}" for n, t, _ in c.warehouse_columns]
    select += [n for n, _ in META_COLUMNS]
    con.execute(f"CREATE OR REPLACE TABLE raw._widened_{entity} AS SELECT {', '.join(select)} FROM raw.{entity}")
    con.execute(f"DROP TABLE raw.{entity}")
    con.execute(f"ALTER TABLE raw._widened_{entity} RENAME TO {entity}")
