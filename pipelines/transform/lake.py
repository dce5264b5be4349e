"""The Spark engine's two crossings of the DuckDB warehouse: raw out to the lake, marts back in.

With MIRA_ENGINE=spark, ingestion is unchanged (contracts, quarantine, pseudonyms, the vault, the
MERGE into the encrypted warehouse's raw.*), and dbt builds the marts on Spark:

- before dbt, `export_raw` writes each raw table as Parquet partitioned by tenant into the lake
  (MIRA_LAKE/raw/<entity>/tenant_id=<tenant>/...), what dbt's sources read on Spark
  (macros/spark.sql, mira_lake_sources). Only what the warehouse's raw tables hold crosses:
  pseudonyms, never a name, email or user id (those stay in the vault). Each entity is written
  to a new folder and swapped in, so Spark never lists a half-written table;
- after dbt, `import_marts` copies the marts Spark wrote (Parquet under MIRA_HOME/spark) into
  the warehouse's `marts` schema with the types and column order of the DuckDB build (the
  models' YAML contracts), so publishing, the serving files, `mira sql`, exports and the
  data-subject rights read and change the same tables whichever engine built them.

The copy back is one machine's work: fine up to the sizes in the README's sizing section; beyond,
publishing would read the tenant partitions of the Spark marts directly (left for later).
"""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from pipelines.contracts import ENTITIES
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import connect, ident, literal

MARTS = "marts"
PARTITION = "tenant_id"


def raw_dir(settings: Settings) -> Path:
    if not settings.lake_is_local:
        raise NotImplementedError(
            f"MIRA_LAKE={settings.lake}: writing the lake to object storage is done by the Spark cluster's "
            "own ingestion job in production (README, Sizing); locally MIRA_LAKE is a folder")
    return Path(settings.lake) / "raw"


def export_raw(settings: Settings | None = None) -> dict[str, int]:
    """Every raw table as Parquet partitioned by tenant in the lake; rows written per entity."""
    settings = settings or get_settings()
    base = raw_dir(settings)
    base.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    with connect(settings=settings, read_only=True) as con:
        for entity in ENTITIES:
            final = base / entity
            tmp = base / f".{entity}-{uuid.uuid4().hex}"
            n = con.execute(f"SELECT count(*) FROM raw.{ident(entity)}").fetchone()[0]
            if n:
                con.execute(f"COPY raw.{ident(entity)} TO {literal(tmp)} "
                            f"(FORMAT parquet, PARTITION_BY ({PARTITION}), COMPRESSION zstd)")
            else:
                # No rows: one empty file in a placeholder partition keeps the schema Spark reads.
                (tmp / f"{PARTITION}=_none").mkdir(parents=True)
                con.execute(f"COPY (SELECT * EXCLUDE ({PARTITION}) FROM raw.{ident(entity)}) TO "
                            f"{literal(tmp / f'{PARTITION}=_none' / 'empty.parquet')} (FORMAT parquet)")
            old = base / f".{entity}-old-{uuid.uuid4().hex}"
            if final.exists():
                final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
            written[entity] = int(n)
    return written


def mart_folder(settings: Settings, table: str) -> Path:
    """Where Spark keeps a table of the `marts` database (its warehouse dir, `<db>.db/<table>`)."""
    return settings.spark_warehouse / f"{MARTS}.db" / table


def _contract_columns(manifest: Path) -> dict[str, list[tuple[str, str]]]:
    """mart -> [(column, DuckDB type)] from the models' YAML (the contracts), in YAML order."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    out: dict[str, list[tuple[str, str]]] = {}
    for node in nodes:
        if node["resource_type"] == "model" and node["schema"] == MARTS:
            cols = [(c["name"], c.get("data_type")) for c in node["columns"].values()]
            out[node["alias"]] = cols if cols and all(t for _, t in cols) else []
    return out


def import_marts(settings: Settings | None = None, manifest: Path | None = None) -> dict[str, int]:
    """Copy Spark's marts into the warehouse's `marts` schema; rows per table.

    Columns come out in the contract's order and type (Spark puts a partition column last and
    spells types its own way); a mart without a full contract keeps Spark's columns."""
    settings = settings or get_settings()
    manifest = manifest or settings.home / "dbt" / "target" / "manifest.json"
    columns = _contract_columns(manifest)
    rows: dict[str, int] = {}
    with connect(settings=settings) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {MARTS}")
        for table, cols in sorted(columns.items()):
            folder = mart_folder(settings, table)
            has_files = folder.is_dir() and any(folder.rglob("*.parquet"))
            if not has_files and not cols:
                raise FileNotFoundError(f"Spark wrote no files for marts.{table} under {folder}")
            # An empty partitioned table has no file at all: its contract still gives the columns.
            partitioned = has_files and any(folder.glob(f"{PARTITION}=*"))
            hive = (f"hive_partitioning = true, hive_types = {{'{PARTITION}': VARCHAR}}" if partitioned
                    else "hive_partitioning = false")
            source = (f"read_parquet({literal(str(folder) + '/**/*.parquet')}, {hive}, union_by_name = true)"
                      if has_files else "(SELECT 1) AS empty WHERE false")
            select = ", ".join((f"CAST({ident(c)} AS {t})" if has_files else f"CAST(NULL AS {t})") + f" AS {ident(c)}"
                               for c, t in cols) if cols else "*"
            con.execute(f"CREATE OR REPLACE TABLE {MARTS}.{ident(table)} AS SELECT {select} FROM {source}")
            rows[table] = con.execute(f"SELECT count(*) FROM {MARTS}.{ident(table)}").fetchone()[0]
        # A mart that no longer exists in the project goes, as a DuckDB build's would not stay either.
        for (stale,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                                    "AND schema_name = ?", [MARTS]).fetchall():
            if stale not in columns:
                con.execute(f"DROP TABLE {MARTS}.{ident(stale)}")
    return rows


def drop_spark_copies(settings: Settings | None = None) -> bool:
    """Forget what Spark holds (its marts, its metastore and the lake's raw layer), so the next
    Spark build starts whole from the warehouse's raw tables. Called by an erasure and a tenant
    purge, which change the warehouse's rows in place: Parquet cannot be updated in place, and
    the incremental marts' watermarks do not see rows re-keyed or deleted, so the Spark copies
    would otherwise bring an erased pseudonym or a purged tenant back at the next import.
    True if there was anything to drop."""
    settings = settings or get_settings()
    dropped = False
    folders = [settings.spark_dir] + ([raw_dir(settings)] if settings.lake_is_local else [])
    for folder in folders:
        if folder.exists():
            shutil.rmtree(folder)
            dropped = True
    return dropped
