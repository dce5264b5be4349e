"""Publishing: the marts copied out of the warehouse into the files readers open.

DuckDB lets a file have one writer process or many readers, never both, so no reader ever opens
the warehouse the pipeline writes. Each published file is a copy that the pipeline replaces whole:
written to a temporary file beside the old one, then swapped in (warehouse.swap_in). A reader
that has the old file open keeps reading the old inode, consistent and unharmed, until it
reconnects. Caveat: DuckDB caches open databases per process and path, so a long-lived process
that keeps a connection open gets the *old* file for every new connection to the same path until
all its connections are closed; readers should open, query and close.

Only the `marts` schema crosses over: marts are pseudonymised (user_pseudonym, never ids or
names); raw, staging, quarantine and audit stay in the warehouse. Every copy is masked for
restricted subjects while it is made (serving.restrictions). The analyst snapshot is every mart,
cross-tenant; a tenant's file is that tenant's rows of every mart plus its rollups, under the
tenant's own key.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

from pipelines import keys
from pipelines.contracts import is_tenant_id
from pipelines.serving import rollups
from pipelines.serving.files import MARTS, TENANTS_DIR, TMP_PREFIX, analyst_path, tenant_path, write_keyring
from pipelines.serving.restrictions import mask_restricted
from pipelines.settings import Settings, get_settings
from pipelines.vault.serving_keys import serving_keys
from pipelines.warehouse import attach, connect, ident, swap_in

_ANALYST_TMP = ".analyst-"


def _remove_leftovers(folder: Path, prefix: str = TMP_PREFIX) -> None:
    """Temporary files of a publish that crashed (and their WALs): never valid serving files."""
    if folder.is_dir():
        for stale in folder.glob(f"{prefix}*"):
            stale.unlink(missing_ok=True)


def publish_analyst_snapshot(settings: Settings | None = None) -> dict[str, int]:
    """Copy every table and view of the warehouse's marts schema into a fresh analyst snapshot
    and swap it in atomically. Returns rows per table. Raises if there is no mart to publish
    (an empty snapshot would silently replace a good one)."""
    settings = settings or get_settings()
    folder = settings.serving_dir
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder, _ANALYST_TMP)
    tmp = folder / f"{_ANALYST_TMP}{uuid.uuid4().hex}.duckdb"
    rows: dict[str, int] = {}
    try:
        # The warehouse opened read-only (nothing here can change it); the snapshot attached
        # read-write. Views in marts are resolved against the warehouse and land as tables.
        with connect(settings=settings, read_only=True) as con:
            tables = [t for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() AND table_schema = ? ORDER BY 1",
                [MARTS]).fetchall()]
            if not tables:
                raise RuntimeError("the warehouse has no marts to publish: build the dbt models first")
            # Encrypted with the analyst key (derived from the master key), like every file here.
            attach(con, tmp, "snapshot", keys.file_key("analyst", settings=settings))
            con.execute(f"CREATE SCHEMA snapshot.{MARTS}")
            for table in tables:
                name = f"{MARTS}.{ident(table)}"
                con.execute(f"CREATE TABLE snapshot.{name} AS SELECT * FROM {name}")
                mask_restricted(con, "snapshot", table)  # restricted people leave person-level marts
                rows[table] = con.execute(f"SELECT count(*) FROM snapshot.{name}").fetchone()[0]
            con.execute("DETACH snapshot")  # checkpoints and closes: the file is complete, no WAL
        swap_in(tmp, analyst_path(settings))
    finally:
        _remove_leftovers(folder, _ANALYST_TMP)
    return rows


def publish_tenants(settings: Settings | None = None, log=lambda m: None) -> dict[str, int]:
    """One file per tenant with its rows of every mart; rows per tenant. Tenants that are gone
    from the warehouse (retention) lose their file too."""
    settings = settings or get_settings()
    folder = settings.serving_dir / TENANTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    with connect(settings=settings, read_only=True) as con:
        tenants = [t for (t,) in con.execute("SELECT DISTINCT tenant_id FROM raw.tenants ORDER BY 1").fetchall()
                   if is_tenant_id(t)]
    ring = serving_keys(tenants, settings) if tenants else {}
    write_keyring(ring, settings)
    rows: dict[str, int] = {}
    try:
        with connect(settings=settings, read_only=True) as con:
            tables = con.execute(
                "SELECT t.table_name, bool_or(c.column_name = 'tenant_id') FROM information_schema.tables t "
                "JOIN information_schema.columns c USING (table_catalog, table_schema, table_name) "
                "WHERE t.table_catalog = current_database() AND t.table_schema = ? GROUP BY 1 ORDER BY 1",
                [MARTS]).fetchall()
            for i, tenant in enumerate(tenants, start=1):
                tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}.duckdb"
                attach(con, tmp, "tenant_copy", ring[tenant])
                con.execute(f"CREATE SCHEMA tenant_copy.{MARTS}")
                n = 0
                for table, tenanted in tables:
                    name = f"{MARTS}.{ident(table)}"
                    where = " WHERE tenant_id = ?" if tenanted else ""
                    con.execute(f"CREATE TABLE tenant_copy.{name} AS SELECT * FROM {name}{where}",
                                [tenant] if tenanted else [])
                    mask_restricted(con, "tenant_copy", table)
                    n += con.execute(f"SELECT count(*) FROM tenant_copy.{name}").fetchone()[0]
                if {"fct_material_usage_daily", "dim_materials"} <= {t for t, _ in tables}:
                    n += sum(rollups.build(con, "tenant_copy").values())   # from the masked copy
                    mask_restricted(con, "tenant_copy", schema=rollups.SCHEMA)
                con.execute("DETACH tenant_copy")
                swap_in(tmp, tenant_path(tenant, settings))
                rows[tenant] = n
                log(f"published tenant {i}/{len(tenants)}")
    finally:
        _remove_leftovers(folder)
    for stale in folder.glob("*.duckdb"):
        if stale.stem not in rows:
            stale.unlink()
    return rows


def has_marts(settings: Settings) -> bool:
    if not settings.warehouse_path.exists():
        return False
    with connect(read_only=True, settings=settings) as con:
        return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                                "AND schema_name = ?", [MARTS]).fetchone()[0])


def republish(settings: Settings | None = None, log: Callable[[str], None] = lambda m: None) -> dict[str, int]:
    """After the warehouse changed outside a build (an erasure, a restriction, a restore): publish
    the analyst snapshot again and, where they exist, the tenants' serving files. Nothing when the
    warehouse has no marts yet. Opens its own connections: call it with no session open.
    Returns what was published ({"analyst_tables_published": n, "tenant_files_published": m})."""
    settings = settings or get_settings()
    if not has_marts(settings):
        return {}
    report = {"analyst_tables_published": len(publish_analyst_snapshot(settings))}
    log("analyst snapshot republished")
    if (settings.serving_dir / TENANTS_DIR).is_dir():
        report["tenant_files_published"] = len(publish_tenants(settings))
        log("tenant serving files republished")
    return report
