"""Restriction of processing (and objection): a restricted person's rows stay in the warehouse
but leave every published mart that shows individuals, until the restriction is lifted.

Where the mask is applied, and why there: the vault lists restrictions; the warehouse gets only
their pseudonyms (`privacy.restricted_subjects`, refreshed by the `privacy/restrictions` asset after
the marts and before the analyst snapshot), and every copy that leaves the pipeline (the analyst
snapshot, and any serving file) is masked while it is copied, by `mask_restricted`. The dbt marts
inside the warehouse are not masked in place: two of them are incremental (the ledger and daily
consumption) and keep old rows between builds, so a pseudonym blanked there would fail their
relationship and uniqueness tests on the next build, and the tool-custody report, which matches
each person's checkins to their own checkouts, would match restricted people's tools across
people. Masking the copies keeps every figure the marts compute exactly as it was, totals
included, and lifting a restriction needs no rebuild: the next publish simply stops masking.

The mask: in a table with one row per person (`dim_users`) the row leaves; in every other table
with a `*_pseudonym` column the row stays (totals unchanged) and the pseudonym becomes NULL.
"""
from __future__ import annotations

import duckdb

from pipelines.warehouse import ident

RESTRICTED_SCHEMA = "privacy"
RESTRICTED_TABLE = "privacy.restricted_subjects"
# Tables whose rows are people: a restricted person's row is removed, not blanked.
PERSON_TABLES = ("dim_users",)

WAREHOUSE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {RESTRICTED_SCHEMA};
CREATE TABLE IF NOT EXISTS {RESTRICTED_TABLE} (
    tenant_id VARCHAR NOT NULL,
    user_pseudonym VARCHAR NOT NULL,
    since TIMESTAMPTZ NOT NULL
);
"""


def has_restrictions(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the connection's default catalog (the warehouse) lists any restricted subject."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = 'restricted_subjects'", [RESTRICTED_SCHEMA]).fetchone()[0]
    return bool(exists) and con.execute(f"SELECT count(*) > 0 FROM {RESTRICTED_TABLE}").fetchone()[0]


def mask_restricted(con: duckdb.DuckDBPyConnection, catalog: str, table: str | None = None,
                    schema: str = "marts") -> dict[str, int]:
    """Mask restricted subjects in the copy `catalog`.`schema` (every table, or one), reading the
    list from the warehouse, which must be the connection's default catalog. Returns rows removed
    or blanked per table."""
    if not has_restrictions(con):
        return {}
    cols = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND ends_with(column_name, '_pseudonym') AND (? IS NULL OR table_name = ?) ORDER BY 1, 2",
        [catalog, schema, table, table]).fetchall()
    tenanted = {t for (t,) in con.execute(
        "SELECT table_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND column_name = 'tenant_id'", [catalog, schema]).fetchall()}
    done: dict[str, int] = {}
    for name, column in cols:
        ref = f"{ident(catalog)}.{ident(schema)}.{ident(name)}"
        same_tenant = " AND r.tenant_id = t.tenant_id" if name in tenanted else ""
        match = (f"EXISTS (SELECT 1 FROM {RESTRICTED_TABLE} r "
                 f"WHERE r.user_pseudonym = t.{ident(column)}{same_tenant})")
        if name in PERSON_TABLES:
            n = con.execute(f"DELETE FROM {ref} AS t WHERE {match}").fetchone()[0]
        else:
            n = con.execute(f"UPDATE {ref} AS t SET {ident(column)} = NULL WHERE {match}").fetchone()[0]
        if n:
            done[name] = done.get(name, 0) + n
    return done
