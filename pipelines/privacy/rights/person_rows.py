"""Where a person's rows are in the warehouse, and re-keying them: the warehouse's side of the rights.

A person appears in the warehouse only under their pseudonym, in every `*_pseudonym` column (raw
tables, marts, whatever is added later: columns are found by name) and inside JSON columns
(quarantined rows keep their pseudonym in the payload). Nothing here reads the vault.
"""
from __future__ import annotations

import duckdb

from pipelines.contracts import ENTITIES, load_contract
from pipelines.serving.restrictions import RESTRICTED_SCHEMA, RESTRICTED_TABLE
from pipelines.warehouse import ident

Con = duckdb.DuckDBPyConnection


def table_exists(con: Con, schema: str, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?", [schema, table]).fetchone()[0])


def pseudonym_columns(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] | None = None) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every `*_pseudonym` column of a base table in the default catalog
    (the warehouse): found by name, so a table or mart added later is covered without a change here."""
    rows = con.execute("""
        SELECT c.schema_name, c.table_name, c.column_name FROM duckdb_columns() c
        JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE c.database_name = current_database() AND ends_with(c.column_name, '_pseudonym')
        ORDER BY 1, 2, 3""").fetchall()
    return [r for r in rows if schemas is None or r[0] in schemas]


def json_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """JSON columns of base tables (quarantined rows keep their pseudonym inside the payload)."""
    return con.execute("""
        SELECT c.schema_name, c.table_name, c.column_name FROM duckdb_columns() c
        JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE c.database_name = current_database() AND c.data_type = 'JSON' ORDER BY 1, 2, 3""").fetchall()


def has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? AND column_name = ?", [schema, table, column]).fetchone()[0])


def rows_held(con: duckdb.DuckDBPyConnection, p: str) -> int:
    return sum(con.execute(f"SELECT count(*) FROM {ident(s)}.{ident(t)} WHERE {ident(c)} = ?", [p]).fetchone()[0]
               for s, t, c in pseudonym_columns(con, schemas=("raw",)))


def marts_rows(con: Con, p: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for schema, table, column in pseudonym_columns(con, schemas=("marts",)):
        n = con.execute(f"SELECT count(*) FROM {ident(schema)}.{ident(table)} WHERE {ident(column)} = ?",
                        [p]).fetchone()[0]
        if n:
            out[f"{schema}.{table}"] = out.get(f"{schema}.{table}", 0) + n
    return out


def rekey(con: Con, pairs: list[tuple[str, str, str]]) -> dict[str, int]:
    """Re-key (tenant, pseudonym, token) in every base table of the warehouse, in one transaction.

    A restriction of an erased person is dropped (an erasure supersedes it). Raw tables get their
    row hash recomputed with the token, as ingestion would compute it, so a replayed file whose
    pseudonym maps to the token merges unchanged."""
    if not pairs:
        return {}
    hashed = {e: [n for n, _, _ in load_contract(e).warehouse_columns] for e in ENTITIES}
    counts: dict[str, int] = {}
    con.execute("CREATE OR REPLACE TEMP TABLE _rekey (tenant_id VARCHAR, user_pseudonym VARCHAR, token VARCHAR)")
    con.executemany("INSERT INTO _rekey VALUES (?, ?, ?)", pairs)
    targets = [c for c in pseudonym_columns(con) if c[0] != RESTRICTED_SCHEMA]
    jsons = json_columns(con)
    tenanted = {(s, t) for s, t, _ in targets + jsons if has_column(con, s, t, "tenant_id")}
    con.execute("BEGIN TRANSACTION")
    try:
        n = con.execute(f"DELETE FROM {RESTRICTED_TABLE} AS t WHERE EXISTS (SELECT 1 FROM _rekey m "
                        "WHERE m.tenant_id = t.tenant_id AND m.user_pseudonym = t.user_pseudonym)").fetchone()[0]
        if n:
            counts[RESTRICTED_TABLE] = n
        for schema, table, column in targets:
            ref = f"{ident(schema)}.{ident(table)}"
            extra = ""
            if schema == "raw" and table in hashed and has_column(con, schema, table, "_row_hash"):
                parts = ", ".join("m.token" if n == column else f"t.{ident(n)}" for n in hashed[table])
                extra = f", _row_hash = hash({parts})"
            same_tenant = " AND t.tenant_id = m.tenant_id" if (schema, table) in tenanted else ""
            n = con.execute(f"UPDATE {ref} AS t SET {ident(column)} = m.token{extra} FROM _rekey m "
                            f"WHERE t.{ident(column)} = m.user_pseudonym{same_tenant}").fetchone()[0]
            if n:
                counts[f"{schema}.{table}"] = counts.get(f"{schema}.{table}", 0) + n
        for schema, table, column in jsons:
            ref = f"{ident(schema)}.{ident(table)}"
            c = ident(column)
            same_tenant = " AND t.tenant_id = m.tenant_id" if (schema, table) in tenanted else ""
            n = con.execute(f"UPDATE {ref} AS t SET {c} = CAST(replace(CAST(t.{c} AS VARCHAR), m.user_pseudonym, "
                            f"m.token) AS JSON) FROM _rekey m "
                            f"WHERE contains(CAST(t.{c} AS VARCHAR), m.user_pseudonym){same_tenant}").fetchone()[0]
            if n:
                counts[f"{schema}.{table}"] = counts.get(f"{schema}.{table}", 0) + n
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("DROP TABLE _rekey")
    return counts


def update_manifest(con: Con, rewritten) -> int:
    """Record the purged files' new size, mtime and hash, so ingestion does not take them for changed."""
    if not rewritten or not table_exists(con, "audit", "files"):
        return 0
    con.execute("BEGIN TRANSACTION")
    try:
        n = 0
        for r in rewritten:
            n += con.execute("UPDATE audit.files SET size_bytes = ?, mtime_ns = ?, content_hash = ? "
                             "WHERE file_path = ?", [r.size, r.mtime_ns, r.content_hash, r.rel]).fetchone()[0]
            if getattr(r, "etag", None):   # a purged blob: known by its new ETag (the column exists: blobs were ingested)
                con.execute("UPDATE audit.files SET etag = ? WHERE file_path = ?", [r.etag, r.rel])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return n
