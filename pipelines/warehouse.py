"""DuckDB connections: the one place that opens warehouse and vault files.

DuckDB allows one writing process or many readers per file, so the pipeline opens read-write
only for the short span of a write and every reader asks for read_only explicitly. Limits come
from settings so a 2-core, shared machine is not swamped.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from pipelines.settings import Settings, get_settings


class WarehouseMissing(RuntimeError):
    """Raised when a reader asks for a file the pipeline has not written yet."""


def _config(settings: Settings, read_only: bool) -> dict:
    settings.home.mkdir(parents=True, exist_ok=True)
    tmp = settings.home / "tmp"
    tmp.mkdir(exist_ok=True)
    return {
        "memory_limit": settings.memory_limit,
        "threads": settings.threads,
        "temp_directory": str(tmp),
        "preserve_insertion_order": True,
    }


@contextmanager
def connect(path: Path | None = None, read_only: bool = False, settings: Settings | None = None,
            ) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse (or another DuckDB file) and always close it."""
    settings = settings or get_settings()
    path = Path(path or settings.warehouse_path)
    if read_only and not path.exists():
        raise WarehouseMissing(f"{path.name} does not exist yet under {settings.home}: run `mira run` first")
    con = duckdb.connect(str(path), read_only=read_only, config=_config(settings, read_only))
    con.execute("SET enable_progress_bar = false")  # the CLI draws its own; DuckDB's would garble stdout
    try:
        yield con
    finally:
        con.close()
