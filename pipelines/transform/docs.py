"""The dbt docs site (models, columns, tests, lineage), generated under MIRA_HOME.

Not the project's target/, which holds the manifest the Dagster code location loads; with a
static page that opens without a server.
"""
from __future__ import annotations

import functools
import http.server
import os
import subprocess
from pathlib import Path
from typing import Callable

from pipelines.settings import DBT_PROJECT_DIR, Settings, get_settings
from pipelines.transform.project import dbt_env, dbt_executable
from pipelines.warehouse import WarehouseMissing


class DocsError(RuntimeError):
    """dbt could not generate the docs; the message says what to look at."""


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
    target = docs_dir(settings)
    args = [dbt_executable(), "docs", "generate", "--static",
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target), "--log-path", str(settings.log_dir / "dbt")]
    done = subprocess.run(args, cwd=DBT_PROJECT_DIR, env={**os.environ, **dbt_env(settings.home)},
                          capture_output=True, text=True)
    index = target / "index.html"
    if done.returncode != 0 or not index.exists():
        errors = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if "error" in ln.lower()]
        raise DocsError(f"dbt docs generate failed (exit code {done.returncode})"
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
