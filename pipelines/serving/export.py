"""What analysts take away: the marts as Parquet files (the docs describing them: transform/docs.py).

Exports read the published analyst snapshot (marts only, pseudonymised), never the warehouse
unless asked, so an export can run while the pipeline is writing. Each Parquet file is written
under a temporary name and renamed, so a half-written file never carries a table's name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from pipelines.serving.files import MARTS
from pipelines.serving.sql import snapshot_path
from pipelines.warehouse import WarehouseMissing, connect, ident, literal


class ExportError(RuntimeError):
    """Something the user can fix (a bad target folder, nothing to export, dbt failing)."""


def export_marts(dest: Path, *, warehouse: bool = False,
                 on_start: Callable[[Path, int], None] = lambda source, n: None,
                 on_table: Callable[[str, int], None] = lambda table, rows: None) -> dict[str, int]:
    """Write every table of the marts schema to `dest/<table>.parquet`; returns rows per table.

    `on_start(source, n_tables)` and `on_table(table, rows)` let the CLI draw its progress bar.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ExportError(f"--to {dest.name} exists and is not a folder")
    source = snapshot_path(warehouse)
    if not source.exists():
        raise WarehouseMissing(f"{source.name} does not exist yet: run `mira run` first")
    rows: dict[str, int] = {}
    with connect(source, read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema = ? ORDER BY 1",
            [MARTS]).fetchall()]
        if not tables:
            raise ExportError(f"{source.name} has no marts to export: run `mira run` first")
        dest.mkdir(parents=True, exist_ok=True)
        on_start(source, len(tables))
        for table in tables:
            final = dest / f"{table}.parquet"
            tmp = dest / f".{table}.parquet.tmp"
            try:
                (n,) = con.execute(
                    f"COPY (SELECT * FROM {MARTS}.{ident(table)}) "
                    f"TO {literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)").fetchone()
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
            rows[table] = int(n)
            on_table(table, int(n))
    return rows
