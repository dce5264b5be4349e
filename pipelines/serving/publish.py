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

import threading
import uuid
from pathlib import Path
from typing import Callable

from pipelines.contracts import is_tenant_id
from pipelines.serving import rollups, versions
from pipelines.serving.analyst import publish_analyst_snapshot
from pipelines.serving.files import MARTS, TENANTS_DIR, TMP_PREFIX, remove_leftovers, tenant_path, write_keyring
from pipelines.serving.restrictions import has_restrictions, mask_restricted
from pipelines.settings import Settings, get_settings
from pipelines.vault.serving_keys import serving_keys
from pipelines.warehouse import attach, connect, detach, ident, swap_in


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


def _copy_tenant(con, tables: list[tuple[str, bool]], tenant: str, key: str, folder: Path, settings: Settings,
                 alias: str = "tenant_copy", restricted: bool = False, sources: dict[str, str] | None = None) -> int:
    """Write one tenant's serving file (its rows of every mart, masked, plus rollups); rows written.

    A statement per table and a few per file: with hundreds of tenants the fixed cost per file,
    not the rows, is what a publish pays (the restriction mask runs once per file, and only when
    somebody is restricted; the rows are counted from the catalog, not table by table)."""
    tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex}.duckdb"
    attach(con, tmp, alias, key)
    con.execute(f"CREATE SCHEMA {alias}.{MARTS}")
    names = {t for t, _ in tables}
    for table, tenanted in tables:
        name = f"{MARTS}.{ident(table)}"
        source = (sources or {}).get(table, name)
        where, params = (" WHERE tenant_id = ?", [tenant]) if tenanted else ("", [])
        if table == CALENDAR[0] and not tenanted and "fct_stock_movements" in names:
            where = (f" WHERE {CALENDAR[1]} BETWEEN (SELECT min(movement_date) FROM {MARTS}.fct_stock_movements "
                     f"WHERE tenant_id = ?) AND (SELECT max(movement_date) FROM {MARTS}.fct_stock_movements "
                     "WHERE tenant_id = ?)")
            params = [tenant, tenant]
        con.execute(f"CREATE TABLE {alias}.{name} AS SELECT * FROM {source}{where}", params)
    if restricted:
        mask_restricted(con, alias)
    if {"fct_material_usage_daily", "dim_materials"} <= names:
        rollups.build(con, alias)              # from the masked copy, and masked again all the same
        if restricted:
            mask_restricted(con, alias, schema=rollups.SCHEMA)
    n = con.execute("SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables() WHERE database_name = ?",
                    [alias]).fetchone()[0]
    detach(con, alias, tmp)
    swap_in(tmp, tenant_path(tenant, settings))
    return int(n)


# Tenant files written side by side: each is a few dozen small statements, mostly one thread's
# work, so two writers keep both cores of a small machine busy.
PUBLISH_WORKERS = 2
# Many tenants at once: a writer takes CHUNK of them and first copies their rows of each large
# mart (BIG_ROWS or more) into a temporary table sorted by tenant, so each tenant's copy reads a
# few storage blocks of it instead of scanning the whole mart: 200 tenants cost 20 scans of a
# mart, not 200 (at 8.7M movements a scan of the ledger took 0.2 s of each tenant's 1.7 s).
CHUNK = 10
BIG_ROWS = 200_000


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
    remove_leftovers(folder)
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
    lock = threading.Lock()
    try:
        with connect(settings=settings, read_only=True) as con:
            tables = con.execute(
                "SELECT t.table_name, bool_or(c.column_name = 'tenant_id') FROM information_schema.tables t "
                "JOIN information_schema.columns c USING (table_catalog, table_schema, table_name) "
                "WHERE t.table_catalog = current_database() AND t.table_schema = ? GROUP BY 1 ORDER BY 1",
                [MARTS]).fetchall()
            restricted = has_restrictions(con)
            queue = iter(due)
            big = [t for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? "
                "AND estimated_size >= ?", [MARTS, BIG_ROWS]).fetchall() if dict(tables).get(t)]

            def worker(no: int) -> None:
                # A DuckDB instance of its own, not a cursor of a shared one: DETACH checkpoints a
                # copy only while no other transaction is active in its instance, and the other
                # worker's often was; the skipped checkpoint left the copy's rows in its write-ahead
                # log, and the file was swapped in without them (a tenant's file with no table).
                with connect(settings=settings, read_only=True) as cur:
                    while True:
                        with lock:
                            chunk = [t for t in (next(queue, None) for _ in range(CHUNK)) if t is not None]
                        if not chunk:
                            return
                        sources = _chunk_sources(cur, big, chunk, no) if len(chunk) > 1 else {}
                        for tenant in chunk:
                            n = _copy_tenant(cur, tables, tenant, ring[tenant], folder, settings,
                                             alias=f"tenant_copy_{no}", restricted=restricted, sources=sources)
                            with lock:
                                rows[tenant] = n
                                record[tenant] = {"version": now_versions[tenant], "published_at": versions.now()}
                                on_published(tenant, n)
                                log(f"published tenant {len(rows)}/{len(due)}")
                        for temp in sources.values():
                            cur.execute(f"DROP TABLE temp.main.{temp}")

            _run_workers(worker, min(PUBLISH_WORKERS, len(due)))
    finally:
        versions.save(settings, record)
        remove_leftovers(folder)
    for stale in folder.glob("*.duckdb"):
        if stale.stem not in tenants:
            stale.unlink()
    return rows


def _chunk_sources(cur, big: list[str], chunk: list[str], no: int) -> dict[str, str]:
    """table -> a temporary table of these tenants' rows of it, sorted by tenant (see CHUNK)."""
    sources = {}
    for table in big:
        temp = ident(f"_chunk_{no}_{table}")
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {temp} AS SELECT * FROM {MARTS}.{ident(table)} "
                    "WHERE list_contains(?, tenant_id) ORDER BY tenant_id", [chunk])
        sources[table] = temp
    return sources


def _run_workers(worker: Callable[[int], None], n: int) -> None:
    """Run worker(0..n-1) in threads; the first error is raised once all have stopped."""
    errors: list[BaseException] = []

    def guarded(no: int) -> None:
        try:
            worker(no)
        except BaseException as exc:   # noqa: BLE001 - re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,), name=f"publish-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


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
