"""What analysts take away: the marts as Parquet files, and the dbt docs site describing them.

Exports read the published analyst snapshot (marts only, pseudonymised), never the warehouse
unless asked, so an export can run while the pipeline is writing. Each Parquet file is written
under a temporary name and renamed, so a half-written file never carries a table's name.
"""
from __future__ import annotations

import functools
import http.server
import os
import subprocess
from pathlib import Path
from typing import Callable

from pipelines.settings import DBT_PROJECT_DIR, Settings, get_settings
from pipelines.sql import snapshot_path
from pipelines.warehouse import WarehouseMissing, connect

MARTS_SCHEMA = "marts"


class ExportError(RuntimeError):
    """Something the user can fix (a bad target folder, nothing to export, dbt failing)."""


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
            [MARTS_SCHEMA]).fetchall()]
        if not tables:
            raise ExportError(f"{source.name} has no marts to export: run `mira run` first")
        dest.mkdir(parents=True, exist_ok=True)
        on_start(source, len(tables))
        for table in tables:
            final = dest / f"{table}.parquet"
            tmp = dest / f".{table}.parquet.tmp"
            try:
                (n,) = con.execute(
                    f"COPY (SELECT * FROM {MARTS_SCHEMA}.{_quote_ident(table)}) "
                    f"TO {_quote_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)").fetchone()
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
            rows[table] = int(n)
            on_table(table, int(n))
    return rows


# ---------------------------------------------------------------------------------------------
# dbt docs: generated under MIRA_HOME (not the project's target/, which holds the manifest the
# Dagster code location loads), with a static page that opens without a server.

def docs_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / "dbt" / "docs"


def generate_docs(settings: Settings | None = None) -> Path:
    """Run `dbt docs generate` against the warehouse; return the path of index.html.

    dbt opens the warehouse to read its catalog (column names and types, no rows), so the
    warehouse must exist: otherwise dbt-duckdb would create an empty one.
    """
    settings = settings or get_settings()
    if not settings.warehouse_path.exists():
        raise WarehouseMissing(f"{settings.warehouse_path.name} does not exist yet: run `mira run` first")
    from pipelines.transform import _dbt_env, _dbt_executable  # imports dagster: only when needed

    target = docs_dir(settings)
    args = [_dbt_executable(), "docs", "generate", "--static",
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target), "--log-path", str(settings.log_dir / "dbt")]
    done = subprocess.run(args, cwd=DBT_PROJECT_DIR, env={**os.environ, **_dbt_env(settings.home)},
                          capture_output=True, text=True)
    index = target / "index.html"
    if done.returncode != 0 or not index.exists():
        errors = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if "error" in ln.lower()]
        raise ExportError(f"dbt docs generate failed (exit code {done.returncode})"
                          + (f": {errors[0]}" if errors else f"; see {settings.log_dir / 'dbt'}"))
    return index


def serve_docs(folder: Path, port: int, on_ready: Callable[[str], None] = print) -> None:
    """Serve the docs folder on 127.0.0.1 until interrupted (index.html fetches its JSON files,
    which browsers refuse from file://; static_index.html works without this)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        on_ready(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # one line per request would bury the URL the user needs
