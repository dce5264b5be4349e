"""`mira generate|run|status|contracts`: demo data, the full build, and what was ingested.

`mira run` executes the `full_build` job in this process (pipelines.runs), recorded in the Dagster
instance under MIRA_HOME so the UI shows the run. Heavy imports (Dagster, the code location) happen
inside the commands: this module is imported by every `mira` invocation.
"""
from __future__ import annotations

import json
import os
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from pipelines.cli.console import UserError, out, progress


class Fmt(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


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
    with progress() as bar:
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


def run(landing: Optional[Path] = typer.Option(None, "--landing", help="Landing folder (default: MIRA_LANDING)."),
        full_refresh: bool = typer.Option(
            False, "--full-refresh",
            help="Rebuild every incremental mart from scratch (dbt build --full-refresh).")) -> None:
    """Materialise every asset once, recorded in the Dagster instance under MIRA_HOME."""
    if landing is not None:
        if not landing.is_dir():
            raise UserError(f"landing folder {landing} does not exist")
        os.environ["MIRA_LANDING"] = str(landing.resolve())
    from pipelines import progress as pipeline_progress

    with progress() as bar:
        tasks: dict[str, int] = {}

        def hook(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        pipeline_progress.set_hook(hook)
        try:
            summary = run_full_build(full_refresh=full_refresh)
        finally:
            pipeline_progress.set_hook(None)
    _print_summary(summary)
    if not summary["success"]:
        raise UserError(f"run {summary['run_id']} failed: {summary['failure']}")


def full_build_run_config(full_refresh: bool = False) -> dict:
    """Run config of the `full_build` job: warnings only on the console (the full event log is in
    the Dagster instance and UI), and the dbt step's options (pipelines.transform.DbtBuildConfig)."""
    return {
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        "ops": {"mira_dbt_assets": {"config": {"full_refresh": full_refresh}}},
    }


def run_full_build(full_refresh: bool = False) -> dict:
    """Execute the `full_build` job in process; return a summary read back from the audit tables:
    run_id, success, failure, models_built and the run's figures (pipelines.ingest.status).

    full_refresh: dbt rebuilds every incremental mart from scratch (`dbt build --full-refresh`),
    e.g. after a model change that alters columns, or rows deleted from raw outside a purge.
    """
    from pipelines import runs
    from pipelines.settings import get_settings

    runs.prepare_dagster_home()         # absolute MIRA_HOME before the code location is loaded
    from pipelines.definitions import defs
    from pipelines.ingest.status import run_figures

    settings = get_settings()
    # dbt's console output goes to a log file instead of flooding the progress bars.
    outcome = runs.execute(defs.resolve_job_def("full_build"), full_build_run_config(full_refresh=full_refresh),
                           stdout_to=settings.log_dir / "mira-run.log", settings=settings)
    models = sum(1 for m in outcome.result.get_asset_materialization_events()
                 if m.asset_key and m.asset_key.path[0] in ("staging", "marts"))
    summary = {"run_id": outcome.run_id, "success": outcome.success,
               "failure": outcome.failure or "see the Dagster UI", "models_built": models}
    summary.update(run_figures(outcome.run_id))
    return summary


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


def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """What was ingested, per tenant and entity, and the last run."""
    from pipelines.ingest.status import ingestion_status, last_run

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


def contracts() -> None:
    """Print the landing format (derived from data_contracts/) as Markdown."""
    from pipelines.contracts import contracts_markdown

    typer.echo(contracts_markdown())
