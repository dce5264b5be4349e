"""`mira`: the command line of the platform. Thin: parses, calls the modules, prints.

Every command ends with a one-line reason and a non-zero exit on bad input or missing data;
tracebacks only with --debug.
"""
from __future__ import annotations

import csv
import json
import os
import sys
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="mira-analytics: ingest stock movements, build marts, serve dashboards.")
err = Console(stderr=True)
out = Console()
_state = {"debug": False}


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


class Fmt(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    _state["debug"] = debug


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=False)


@app.command()
def generate(
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Landing folder to write (default: MIRA_LANDING)."),
    tenants: int = typer.Option(5, min=1, max=10000, help="Number of tenants (one is terminated when >= 2)."),
    days: int = typer.Option(365, min=1, max=3650, help="Days of history, ending yesterday."),
    seed: int = typer.Option(42, help="Random seed: same seed, same files."),
    movements_per_day: int = typer.Option(40, min=1, help="Movements per tenant on an average weekday."),
    defect_rate: float = typer.Option(0.0, min=0.0, max=0.5, help="Share of movement rows that break a rule."),
    fmt: Fmt = typer.Option(Fmt.csv, "--format", help="File format."),
    end_date: Optional[str] = typer.Option(None, help="Last day of history (YYYY-MM-DD); default yesterday."),
) -> None:
    """Write realistic demo landing files (deterministic for a seed)."""
    from pipelines.generate import generate as run_generate
    from pipelines.settings import get_settings

    target = out_dir or get_settings().landing
    end = _parse_date(end_date) if end_date else None
    with _progress() as bar:
        task = bar.add_task("generating", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        rep = run_generate(Path(target), tenants=tenants, days=days, seed=seed, movements_per_day=movements_per_day,
                           defect_rate=defect_rate, fmt=fmt.value, end_date=end, progress=tick)
    out.print(f"wrote {len(rep.files)} files to {target}")
    for entity, n in rep.rows.items():
        out.print(f"  {entity}: {n} rows")
    if rep.defects:
        out.print("  defects injected: " + ", ".join(f"{k}={v}" for k, v in sorted(rep.defects.items())))


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{value!r} is not a date in the form YYYY-MM-DD")


@app.command()
def run(landing: Optional[Path] = typer.Option(None, "--landing", help="Landing folder (default: MIRA_LANDING)."),
        full_refresh: bool = typer.Option(
            False, "--full-refresh",
            help="Rebuild every incremental mart from scratch (dbt build --full-refresh).")) -> None:
    """Materialise every asset once, recorded in the Dagster instance under MIRA_HOME."""
    if landing is not None:
        if not landing.is_dir():
            raise UserError(f"landing folder {landing} does not exist")
        os.environ["MIRA_LANDING"] = str(landing.resolve())
    from pipelines import progress
    from pipelines.runner import run_full_build

    with _progress() as bar:
        tasks: dict[str, int] = {}

        def hook(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        progress.set_hook(hook)
        try:
            summary = run_full_build(full_refresh=full_refresh)
        finally:
            progress.set_hook(None)
    _print_summary(summary)
    if not summary["success"]:
        raise UserError(f"run {summary['run_id']} failed: {summary['failure']}")


def _print_summary(s: dict) -> None:
    out.print(f"run {s['run_id']}: {'succeeded' if s['success'] else 'FAILED'}")
    out.print(f"  files: {s['files_loaded']} loaded, {s['files_rejected']} rejected, "
              f"{s['files_duplicate']} duplicates skipped")
    for path, reason in s["rejected_files"]:
        out.print(f"    rejected {path}: {reason}", markup=False, highlight=False)
    out.print(f"  rows: {s['rows_loaded']} loaded, {s['rows_quarantined']} quarantined")
    for rule, n in s["quarantined_by_rule"].items():
        out.print(f"    {rule}: {n}")
    out.print(f"  dbt models built: {s['models_built']}")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """What was ingested, per tenant and entity, and the last run."""
    from pipelines.status import ingestion_status, last_run

    rows = ingestion_status()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("tenant", "entity", "files", "rows read", "rows loaded", "rows quarantined")
    for r in rows:
        table.add_row(r["tenant_id"], r["entity"], *(str(r[k]) for k in
                      ("files", "rows_read", "rows_loaded", "rows_quarantined")))
    out.print(table)
    lr = last_run()
    if lr:
        out.print(f"last run {lr['run_id']} finished {lr['finished_at']}: {lr['files_ingested']} files, "
                  f"{lr['rows_loaded']} rows loaded, {lr['rows_quarantined']} quarantined")


@app.command()
def sql(
    query: str = typer.Argument(..., help="One read-only SELECT statement."),
    warehouse: bool = typer.Option(False, "--warehouse", help="Query the warehouse itself (ops)."),
) -> None:
    """Run a read-only query; the result is CSV on stdout."""
    from pipelines.sql import QueryRefused, run_query

    writer = csv.writer(sys.stdout, lineterminator="\n")
    try:
        run_query(query, writer.writerow, writer.writerows, warehouse=warehouse)
    except QueryRefused as exc:
        raise UserError(str(exc))


def _plain(text: str) -> None:
    """Paths and names printed as they are: no markup, no colouring, no wrapping at 80 columns."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
def export(
    to: Path = typer.Option(..., "--to", help="Folder to write <table>.parquet files into (created if missing)."),
    warehouse: bool = typer.Option(False, "--warehouse", help="Read the warehouse instead of the analyst snapshot."),
) -> None:
    """Write every mart as Parquet (from the published analyst snapshot by default)."""
    from pipelines.export import ExportError, export_marts

    with _progress() as bar:
        task = bar.add_task("exporting marts", total=None)

        def on_start(source: Path, n: int) -> None:
            bar.update(task, description=f"exporting marts from {source.name}", total=n)

        def on_table(table: str, rows: int) -> None:
            bar.advance(task)

        try:
            rows = export_marts(to, warehouse=warehouse, on_start=on_start, on_table=on_table)
        except ExportError as exc:
            raise UserError(str(exc))
    for table, n in rows.items():
        _plain(f"  {table}.parquet: {n} rows")
    _plain(f"wrote {len(rows)} files to {to}")


@app.command()
def docs(
    serve_site: bool = typer.Option(False, "--serve", help="Serve the site on 127.0.0.1 until Ctrl-C."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port for --serve (0: any free port)."),
) -> None:
    """Generate the dbt docs site (models, columns, tests, lineage) under MIRA_HOME/dbt/docs."""
    from pipelines.export import ExportError, generate_docs, serve_docs

    with _progress() as bar:
        bar.add_task("dbt docs generate", total=None)
        try:
            index = generate_docs()
        except ExportError as exc:
            raise UserError(str(exc))
    _plain(f"docs: {index}")
    _plain(f"without a server: {index.with_name('static_index.html')}")
    if serve_site:
        try:
            serve_docs(index.parent, port, on_ready=lambda url: _plain(f"serving {url} (Ctrl-C stops)"))
        except OSError as exc:
            raise UserError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}")


@app.command()
def serve(
    dagster_port: int = typer.Option(3000, help="Port of the Dagster UI."),
    streamlit_port: int = typer.Option(8501, help="Port of the dashboards."),
) -> None:
    """Dagster webserver + daemon and the Streamlit app; Ctrl-C stops all three."""
    from pipelines.serve import serve as run_serve

    run_serve(dagster_port, streamlit_port, echo=out.print)


@app.command()
def contracts() -> None:
    """Print the landing format (derived from data_contracts/) as Markdown."""
    from pipelines.contracts import contracts_markdown

    typer.echo(contracts_markdown())


from pipelines.privacy.users_cli import users_app  # noqa: E402  (mira users add|list|disable)
app.add_typer(users_app, name="users")
from pipelines.privacy.keys_cli import keys_app, scan_command  # noqa: E402  (mira keys rotate)
app.add_typer(keys_app, name="keys")
from pipelines.privacy.rights_cli import privacy_app  # noqa: E402  (mira privacy ...)
privacy_app.command("scan")(scan_command)
from pipelines.privacy import retention_cli  # noqa: E402  (retention, backups, restore)
privacy_app.command("retention")(retention_cli.retention_command)
privacy_app.command("backup")(retention_cli.backup_command)
privacy_app.command("backups")(retention_cli.backups_command)
privacy_app.command("restore")(retention_cli.restore_command)
app.command("backup")(retention_cli.backup_command)
app.command("restore")(retention_cli.restore_command)
app.add_typer(privacy_app, name="privacy")


def main() -> None:
    from pipelines.privacy.keys import KeyProblem
    from pipelines.warehouse import CannotOpen, WarehouseMissing

    try:
        code = app(standalone_mode=False)  # click returns the code of a typer.Exit here, not raises
        if isinstance(code, int) and code:
            sys.exit(code)
    except (UserError, WarehouseMissing, FileNotFoundError, CannotOpen, KeyProblem) as exc:
        if _state["debug"]:
            raise
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and anything unexpected
        # typer vendors its own click, so test by shape: usage errors show themselves
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        err.print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                  "(run with --debug for details)", markup=False, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
