"""`mira sql|export|docs`: what analysts take out of the platform: query results, Parquet, the dbt docs.

QueryRefused, ExportError and DocsError are user errors (console.USER_FACING): their messages are
printed as they are.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer

from pipelines.cli.console import UserError, plain, progress


def sql(
    query: str = typer.Argument(..., help="One read-only SELECT statement."),
    warehouse: bool = typer.Option(False, "--warehouse", help="Query the warehouse itself (ops)."),
) -> None:
    """Run a read-only query; the result is CSV on stdout."""
    from pipelines.serving.sql import run_query

    writer = csv.writer(sys.stdout, lineterminator="\n")
    run_query(query, writer.writerow, writer.writerows, warehouse=warehouse)


def export(
    to: Path = typer.Option(..., "--to", help="Folder to write <table>.parquet files into (created if missing)."),
    warehouse: bool = typer.Option(False, "--warehouse", help="Read the warehouse instead of the analyst snapshot."),
) -> None:
    """Write every mart as Parquet (from the published analyst snapshot by default)."""
    from pipelines.serving.export import export_marts

    with progress() as bar:
        task = bar.add_task("exporting marts", total=None)

        def on_start(source: Path, n: int) -> None:
            bar.update(task, description=f"exporting marts from {source.name}", total=n)

        def on_table(table: str, rows: int) -> None:
            bar.advance(task)

        rows = export_marts(to, warehouse=warehouse, on_start=on_start, on_table=on_table)
    for table, n in rows.items():
        plain(f"  {table}.parquet: {n} rows")
    plain(f"wrote {len(rows)} files to {to}")


def docs(
    serve_site: bool = typer.Option(False, "--serve", help="Serve the site on 127.0.0.1 until Ctrl-C."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port for --serve (0: any free port)."),
) -> None:
    """Generate the dbt docs site (models, columns, tests, lineage) under MIRA_HOME/dbt/docs."""
    from pipelines.transform.docs import generate_docs, serve_docs

    with progress() as bar:
        bar.add_task("dbt docs generate", total=None)
        index = generate_docs()
    plain(f"docs: {index}")
    plain(f"without a server: {index.with_name('static_index.html')}")
    if serve_site:
        try:
            serve_docs(index.parent, port, on_ready=lambda url: plain(f"serving {url} (Ctrl-C stops)"))
        except OSError as exc:
            raise UserError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}")
