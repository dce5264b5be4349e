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
from pipelines.serving import rollups, versions
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


ANALYST_RECORD = versions.ANALYST_RECORD_FILE


def publish_analyst_snapshot(settings: Settings | None = None, changed_only: bool = False) -> dict[str, int] | None:
    """Copy every table and view of the warehouse's marts schema into a fresh analyst snapshot
    and swap it in atomically. Returns rows per table. Raises if there is no mart to publish
    (an empty snapshot would silently replace a good one). changed_only: when no tenant's data
    changed since the snapshot was last published, leave it and return None."""
    settings = settings or get_settings()
    with connect(settings=settings, read_only=True) as con:
        version = versions.overall(versions.current(con)) if _has_raw(con) else None
    if changed_only and version and analyst_path(settings).exists() and \
            versions.recorded(settings, ANALYST_RECORD).get("analyst", {}).get("version") == version:
        return None
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
        versions.save(settings, {"analyst": {"version": version, "published_at": versions.now()}}, ANALYST_RECORD)
    finally:
        _remove_leftovers(folder, _ANALYST_TMP)
    return rows


def _has_raw(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = 'raw' AND table_name = 'tenants'").fetchone()[0])


def _tenants(con) -> list[str]:
    return [t for (t,) in con.execute("SELECT DISTINCT tenant_id FROM raw.tenants ORDER BY 1").fetchall()
            if is_tenant_id(t)]


def tenant_ids(settings: Settings | None = None) -> list[str]:
    """The tenants that have (or are about to have) a serving file."""
    with connect(settings=settings or get_settings(), read_only=True) as con:
        return _tenants(con)


# The one mart without a tenant is the calendar: each tenant's copy holds the days of its own
# ledger only, so a tenant's file depends on its own data alone (and reveals nothing of the
# others' activity).
CALENDAR = ("dim_date", "date_day")


def _copy_tenant(con, tables: list[tuple[str, bool]], tenant: str, key: str, folder: Path, settings: Settings) -> int:
    """Write one tenant's serving file (its rows of every mart, masked, plus rollups); rows written."""
    tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}.duckdb"
    attach(con, tmp, "tenant_copy", key)
    con.execute(f"CREATE SCHEMA tenant_copy.{MARTS}")
    names = {t for t, _ in tables}
    n = 0
    for table, tenanted in tables:
        name = f"{MARTS}.{ident(table)}"
        where, params = (" WHERE tenant_id = ?", [tenant]) if tenanted else ("", [])
        if table == CALENDAR[0] and not tenanted and "fct_stock_movements" in names:
            where = (f" WHERE {CALENDAR[1]} BETWEEN (SELECT min(movement_date) FROM {MARTS}.fct_stock_movements "
                     f"WHERE tenant_id = ?) AND (SELECT max(movement_date) FROM {MARTS}.fct_stock_movements "
                     "WHERE tenant_id = ?)")
            params = [tenant, tenant]
        con.execute(f"CREATE TABLE tenant_copy.{name} AS SELECT * FROM {name}{where}", params)
        mask_restricted(con, "tenant_copy", table)
        n += con.execute(f"SELECT count(*) FROM tenant_copy.{name}").fetchone()[0]
    if {"fct_material_usage_daily", "dim_materials"} <= names:
        n += sum(rollups.build(con, "tenant_copy").values())   # from the masked copy
        mask_restricted(con, "tenant_copy", schema=rollups.SCHEMA)
    con.execute("DETACH tenant_copy")
    swap_in(tmp, tenant_path(tenant, settings))
    return n


def publish_tenants(settings: Settings | None = None, log=lambda m: None, changed_only: bool = False,
                    on_published: Callable[[str, int], None] = lambda tenant, rows: None) -> dict[str, int]:
    """One file per tenant with its rows of every mart; returns rows per tenant published.

    changed_only: publish only the tenants whose data changed since their file was last published
    (serving.versions); the others' files are left as they are, bytes and mtime. Tenants that are
    gone from the warehouse (retention) lose their file either way. `on_published(tenant, rows)`
    is called after each file is swapped in."""
    settings = settings or get_settings()
    folder = settings.serving_dir / TENANTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    with connect(settings=settings, read_only=True) as con:
        tenants = _tenants(con)
        now_versions = versions.current(con, tenants)
    before = versions.recorded(settings)
    due = [t for t in tenants if not changed_only or before.get(t, {}).get("version") != now_versions[t]
           or not tenant_path(t, settings).exists()]
    ring = serving_keys(tenants, settings) if tenants else {}
    write_keyring(ring, settings)
    rows: dict[str, int] = {}
    record = {t: v for t, v in before.items() if t in tenants}
    try:
        with connect(settings=settings, read_only=True) as con:
            tables = con.execute(
                "SELECT t.table_name, bool_or(c.column_name = 'tenant_id') FROM information_schema.tables t "
                "JOIN information_schema.columns c USING (table_catalog, table_schema, table_name) "
                "WHERE t.table_catalog = current_database() AND t.table_schema = ? GROUP BY 1 ORDER BY 1",
                [MARTS]).fetchall()
            for i, tenant in enumerate(due, start=1):
                rows[tenant] = _copy_tenant(con, tables, tenant, ring[tenant], folder, settings)
                record[tenant] = {"version": now_versions[tenant], "published_at": versions.now()}
                on_published(tenant, rows[tenant])
                log(f"published tenant {i}/{len(due)}")
    finally:
        versions.save(settings, record)
        _remove_leftovers(folder)
    for stale in folder.glob("*.duckdb"):
        if stale.stem not in tenants:
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
