"""The analyst snapshot: every mart, copied out of the warehouse into serving/analyst.duckdb.

DuckDB lets a file have one writer process or many readers, never both, so analysts never open
the warehouse the pipeline writes. They read a copy that the pipeline replaces whole: the new
snapshot is written to a temporary file beside the old one and swapped in with os.replace
(atomic on POSIX). A reader that has the old file open keeps reading the old inode, consistent
and unharmed, until it reconnects; the next connection (in another process) sees the new one.
Caveat: DuckDB caches open databases per process and path, so a long-lived process that keeps a
connection open gets the *old* snapshot for every new connection to the same path until all its
connections are closed; readers should open, query and close.

Only the `marts` schema crosses over: marts are pseudonymised (user_pseudonym, never ids or
names) and cross-tenant by design; raw, staging, quarantine and audit stay in the warehouse and
the vault is never opened here.
"""
import os
import uuid
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, asset

from pipelines.ingest.assets import WAREHOUSE_POOL
from pipelines.settings import Settings, get_settings
from pipelines.transform import mira_dbt_assets
from pipelines.privacy import keys
from pipelines.privacy.restrictions import mask_restricted
from pipelines.warehouse import attach, connect

MARTS_SCHEMA = "marts"
ANALYST_FILE = "analyst.duckdb"
ANALYST_KEY = AssetKey(["serving", "analyst"])
_TMP_PREFIX = ".analyst-"


def mart_keys() -> list[AssetKey]:
    """Every dbt model keyed under `marts` (the translator keys models by schema), so a mart
    added to dbt is published and monitored without touching this code."""
    return sorted((k for k in mira_dbt_assets.keys if k.path[0] == MARTS_SCHEMA), key=lambda k: k.path)


def analyst_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).serving_dir / ANALYST_FILE


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _remove_leftovers(folder: Path) -> None:
    """Temporary files of a publish that crashed (and their WALs): never valid snapshots."""
    for stale in folder.glob(f"{_TMP_PREFIX}*"):
        stale.unlink(missing_ok=True)


def publish_analyst_snapshot(settings: Settings | None = None) -> dict[str, int]:
    """Copy every table and view of the warehouse's marts schema into a fresh analyst snapshot
    and swap it in atomically. Returns rows per table. Raises if there is no mart to publish
    (an empty snapshot would silently replace a good one)."""
    settings = settings or get_settings()
    folder = settings.serving_dir
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    tmp = folder / f"{_TMP_PREFIX}{uuid.uuid4().hex}.duckdb"
    rows: dict[str, int] = {}
    try:
        # The warehouse opened read-only (nothing here can change it); the snapshot attached
        # read-write. Views in marts are resolved against the warehouse and land as tables.
        with connect(settings=settings, read_only=True) as con:
            tables = [t for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database() AND table_schema = ? ORDER BY 1",
                [MARTS_SCHEMA]).fetchall()]
            if not tables:
                raise RuntimeError("the warehouse has no marts to publish: build the dbt models first")
            # Encrypted with the analyst key (derived from the master key), like every file here.
            attach(con, tmp, "snapshot", keys.file_key("analyst", settings=settings))
            con.execute(f"CREATE SCHEMA snapshot.{MARTS_SCHEMA}")
            for table in tables:
                name = f"{MARTS_SCHEMA}.{_ident(table)}"
                con.execute(f"CREATE TABLE snapshot.{name} AS SELECT * FROM {name}")
                mask_restricted(con, "snapshot", table)  # restricted people leave person-level marts
                rows[table] = con.execute(f"SELECT count(*) FROM snapshot.{name}").fetchone()[0]
            con.execute("DETACH snapshot")  # checkpoints and closes: the file is complete, no WAL
        _fsync(tmp)
        os.replace(tmp, analyst_path(settings))
        _fsync(folder)
    finally:
        _remove_leftovers(folder)
    return rows


def _fsync(path: Path) -> None:
    """Make the snapshot (and then the rename) durable before anyone is pointed at it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@asset(
    key=ANALYST_KEY,
    deps=[*mart_keys(), AssetKey(["privacy", "restrictions"])],  # pipelines/privacy/jobs.py
    pool=WAREHOUSE_POOL,  # reads the warehouse: no writer may hold it meanwhile (DuckDB)
    group_name="serving",
    kinds={"duckdb"},
    description="Cross-tenant, pseudonymised copy of every mart for analysts (`mira sql`, `mira export`), "
    "replaced atomically after each build.",
)
def analyst_snapshot(context: AssetExecutionContext) -> MaterializeResult:
    rows = publish_analyst_snapshot()
    context.log.info(f"published {len(rows)} marts to serving/{ANALYST_FILE}")
    return MaterializeResult(metadata={"tables": len(rows), "rows": sum(rows.values()),
                                       **{f"rows.{t}": n for t, n in rows.items()}})


TENANTS_KEY = AssetKey(["serving", "tenants"])
OPS_KEY = AssetKey(["serving", "ops"])


@asset(
    key=TENANTS_KEY,
    deps=[*mart_keys(), AssetKey(["privacy", "restrictions"])],
    pool=WAREHOUSE_POOL,  # reads the warehouse and writes the vault (new tenants' serving keys)
    group_name="serving",
    kinds={"duckdb"},
    description="One encrypted file per tenant (serving/tenants/<tenant>.duckdb) with only that tenant's marts, "
    "under the tenant's own key; what the customer managers' dashboards read. Replaced atomically.",
)
def tenant_snapshots(context: AssetExecutionContext) -> MaterializeResult:
    from pipelines.serving import publish_tenants

    rows = publish_tenants(log=context.log.debug)
    context.log.info(f"published {len(rows)} tenant serving files")
    return MaterializeResult(metadata={"tenants": len(rows), "rows": sum(rows.values())})


@asset(
    key=OPS_KEY,
    deps=[AssetKey(["raw", "movements"])],
    pool=WAREHOUSE_POOL,
    group_name="serving",
    kinds={"duckdb"},
    description="Counts for the Operations page (freshness, quarantine per rule, runs with their status, failures by "
    "step and error class); no business or personal data.",
)
def ops_snapshot(context: AssetExecutionContext) -> MaterializeResult:
    from pipelines.serving import publish_ops

    rows = publish_ops(instance=context.instance)
    return MaterializeResult(metadata={f"rows.{t}": n for t, n in rows.items()})
