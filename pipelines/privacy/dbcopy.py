"""Copy one attached DuckDB database into another, whole or without some tenants' rows.

Backups, restores and the retention of backups and snapshots all write a *fresh* file and swap it
in, rather than deleting in place: a fresh file holds no free blocks with old rows in them, and
a reader of the old file is never disturbed. A tenant's rows are found by the columns that can
name it: `tenant_id`, a landing `file_path`/`_source_file` under its folder, and a quarantined
row's `payload.tenant_id` (a row that claimed a tenant it was not filed under).
"""
from __future__ import annotations

from typing import Sequence

import duckdb

from pipelines.warehouse import ident


def tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    """(schema, table) of every base table of an attached database."""
    return con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND NOT internal "
        "ORDER BY 1, 2", [catalog]).fetchall()


def ref(catalog: str, schema: str, table: str) -> str:
    return f"{ident(catalog)}.{ident(schema)}.{ident(table)}"


def columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> set[str]:
    return {c for (c,) in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [catalog, schema, table]).fetchall()}


def tenant_condition(cols: set[str]) -> str | None:
    """SQL true for a row of any tenant in the list parameter `$tenants`; None if the table has no
    column that can name a tenant."""
    parts = []
    if "tenant_id" in cols:
        parts.append("list_contains($tenants, tenant_id)")
    for c in ("file_path", "_source_file"):
        if c in cols:
            parts.append(f"list_contains($tenants, split_part({ident(c)}, '/', 1))")
    if "payload" in cols:
        parts.append("list_contains($tenants, json_extract_string(CAST(payload AS VARCHAR), '$.tenant_id'))")
    return " OR ".join(parts) if parts else None


def tenant_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str, str]]:
    """(schema, table, condition) of every table that can hold a tenant's rows."""
    found = []
    for schema, table in tables(con, catalog):
        cond = tenant_condition(columns(con, catalog, schema, table))
        if cond:
            found.append((schema, table, cond))
    return found


def count_tenant_rows(con: duckdb.DuckDBPyConnection, catalog: str, tenants: Sequence[str]) -> int:
    if not tenants:
        return 0
    return sum(con.execute(f"SELECT count(*) FROM {ref(catalog, s, t)} WHERE {cond}",
                           {"tenants": list(tenants)}).fetchone()[0]
               for s, t, cond in tenant_tables(con, catalog))


def delete_tenant_rows(con: duckdb.DuckDBPyConnection, catalog: str, tenants: Sequence[str]) -> int:
    """Delete the tenants' rows from every table, in one transaction; returns the rows deleted."""
    if not tenants:
        return 0
    deleted = 0
    con.execute("BEGIN TRANSACTION")
    try:
        for s, t, cond in tenant_tables(con, catalog):
            deleted += con.execute(f"DELETE FROM {ref(catalog, s, t)} WHERE {cond}",
                                   {"tenants": list(tenants)}).fetchone()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return deleted


def table_counts(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    return {f"{s}.{t}": con.execute(f"SELECT count(*) FROM {ref(catalog, s, t)}").fetchone()[0]
            for s, t in tables(con, catalog)}


class CopyMismatch(RuntimeError):
    """The copy's row counts differ from what the source holds; nothing was replaced."""


def copy_database(con: duckdb.DuckDBPyConnection, src: str, dst: str,
                  exclude_tenants: Sequence[str] = ()) -> dict[str, int]:
    """Copy every schema, table, view and sequence of `src` into the empty `dst`, leaving out the
    rows of `exclude_tenants`; verify row counts per table; return them (rows in the copy)."""
    expected = table_counts(con, src)
    if not exclude_tenants:
        con.execute(f"COPY FROM DATABASE {ident(src)} TO {ident(dst)}")
    else:
        con.execute(f"COPY FROM DATABASE {ident(src)} TO {ident(dst)} (SCHEMA)")
        for schema, table in tables(con, src):
            cond = tenant_condition(columns(con, src, schema, table))
            where, params = "", None
            if cond:
                where, params = f" WHERE ({cond}) IS NOT TRUE", {"tenants": list(exclude_tenants)}
                expected[f"{schema}.{table}"] -= con.execute(
                    f"SELECT count(*) FROM {ref(src, schema, table)} WHERE {cond}", params).fetchone()[0]
            con.execute(f"INSERT INTO {ref(dst, schema, table)} SELECT * FROM {ref(src, schema, table)}{where}",
                        params)
    got = table_counts(con, dst)
    if got != expected:
        differ = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
        raise CopyMismatch(f"copy of {src} differs from its source in {len(differ)} table(s): {', '.join(differ[:5])}")
    return got


def distinct_tenants(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    """Every tenant id a file still holds: tenant_id columns, tenant folders of file paths, and
    the tenant inside quarantined rows' payloads."""
    found: set[str] = set()
    for s, t, _ in tenant_tables(con, catalog):
        cols = columns(con, catalog, s, t)
        exprs = [c for c in ("tenant_id",) if c in cols]
        exprs += [f"split_part({c}, '/', 1)" for c in ("file_path", "_source_file") if c in cols]
        if "payload" in cols:
            exprs.append("json_extract_string(CAST(payload AS VARCHAR), '$.tenant_id')")
        for e in exprs:
            found |= {v for (v,) in con.execute(
                f"SELECT DISTINCT {e} FROM {ref(catalog, s, t)} WHERE {e} IS NOT NULL").fetchall()}
    return found
