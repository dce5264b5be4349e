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

from pipelines.cli.console import UserError, debug, out, plain, progress


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

    settings = get_settings()
    if out_dir is None and settings.landing_url:
        raise UserError(f"MIRA_LANDING is a Blob Storage container ({settings.landing_url}): give --out DIR, "
                        "then upload the folder's files under the same names")
    target = out_dir or settings.landing
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


def run(landing: Optional[Path] = typer.Option(None, "--landing",
                                              help="Landing folder (default: MIRA_LANDING, a folder or az://...)."),
        full_refresh: bool = typer.Option(
            False, "--full-refresh",
            help="Rebuild every incremental mart from scratch (dbt build --full-refresh).")) -> None:
    """Materialise every asset once, recorded in the Dagster instance under MIRA_HOME."""
    if landing is not None:
        if not landing.is_dir():
            raise UserError(f"landing folder {landing} does not exist")
        os.environ["MIRA_LANDING"] = str(landing.resolve())
    from pipelines import recovery
    from pipelines.settings import get_settings

    settings = get_settings()
    # One build per home at a time: a second `mira run` stops at once, saying who builds.
    with recovery.build_lock(settings):
        _run_locked(settings, full_refresh)


def _run_locked(settings, full_refresh: bool) -> None:
    from pipelines import progress as pipeline_progress, recovery
    from pipelines.ingest import state

    if not full_refresh and (last := state.up_to_date()):
        plain(f"nothing new since run {last['run_id']} (finished {last['finished_at']}): no landing file "
              "appeared, changed or went, and the models are the same; nothing to do")
        return
    with progress() as bar:
        tasks: dict[str, int] = {}

        def hook(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        pipeline_progress.set_hook(hook)
        try:
            summary = run_full_build(full_refresh=full_refresh, holding_lock=True,
                                     console="WARNING" if debug() else "CRITICAL")
        except Exception as exc:         # the instance itself could not be written: a full or read-only disk
            raise recovery.storage_problem(exc, settings) or exc
        finally:
            pipeline_progress.set_hook(None)
    _print_summary(summary)
    if not summary["success"]:
        raise recovery.storage_problem(summary["failure"], settings) or \
            UserError(f"run {summary['run_id']} failed: {summary['failure']}")


def full_build_run_config(full_refresh: bool = False, console: str = "WARNING") -> dict:
    """Run config of the `full_build` job: on the console, `console` and above only (the full
    event log is in the Dagster instance and UI), and the dbt step's options
    (pipelines.transform.DbtBuildConfig)."""
    return {
        "loggers": {"console": {"config": {"log_level": console}}},
        "ops": {"mira_dbt_assets": {"config": {"full_refresh": full_refresh}}},
    }


def run_full_build(full_refresh: bool = False, holding_lock: bool = False, console: str = "WARNING") -> dict:
    """Execute the `full_build` job in process; return a summary read back from the audit tables:
    run_id, success, failure, models_built and the run's figures (pipelines.ingest.status).

    full_refresh: dbt rebuilds every incremental mart from scratch (`dbt build --full-refresh`),
    e.g. after a model change that alters columns, or rows deleted from raw outside a purge.
    holding_lock: the caller holds the home's build lock (pipelines.recovery), as `mira run` does.
    console: the lowest level of Dagster's own console log (`mira run` keeps it to CRITICAL unless
    --debug: a failed step's error and stack go to the instance, the user gets the one line).
    """
    from pipelines import runs
    from pipelines.ingest import state
    from pipelines.settings import get_settings

    runs.prepare_dagster_home()         # absolute MIRA_HOME before the code location is loaded
    from pipelines.definitions import defs
    from pipelines.ingest.status import run_figures

    settings = get_settings()
    seen = state.inputs(settings)       # before the run: a file landing meanwhile is seen by the next one
    if full_refresh:                    # every mart rebuilt: every serving file written again too
        from pipelines.serving import versions

        versions.forget(settings)
    # dbt's console output goes to a log file instead of flooding the progress bars.
    outcome = runs.execute(defs.resolve_job_def("full_build"), full_build_run_config(full_refresh, console),
                           stdout_to=settings.log_dir / "mira-run.log", settings=settings,
                           holding_lock=holding_lock)
    events = outcome.result.get_asset_materialization_events()
    models = sorted("/".join(m.asset_key.path) for m in events
                    if m.asset_key and m.asset_key.path[0] in ("staging", "intermediate", "marts"))
    published = [m.materialization.partition for m in events
                 if m.asset_key and m.asset_key.path == ["serving", "tenant_file"]]
    summary = {"run_id": outcome.run_id, "success": outcome.success,
               "failure": outcome.failure or "see the Dagster UI", "models_built": len(models), "models": models,
               "phases": phase_seconds(outcome.step_seconds), "tenants_published": sorted(published),
               "warnings": outcome.warnings}
    summary.update(run_figures(outcome.run_id))
    if outcome.success:
        state.record_build(outcome.run_id, seen, settings)
    _republish_ops(settings)
    return summary


def _republish_ops(settings) -> None:
    """The ops file was published from inside the run, which Dagster then still called STARTED
    (and which the publish leaves out for that reason): publish it again now that the run has
    its final status, so the Operations page agrees with the Dagster UI. Best effort: a build
    the daemon started meanwhile may hold the warehouse, and its own publish follows."""
    import logging

    from pipelines.serving.ops_file import publish_ops

    if not settings.warehouse_path.exists():
        return
    try:
        publish_ops(settings)
    except Exception as exc:   # never fail a finished run over the ops page's counts
        logging.getLogger(__name__).warning("ops file not republished after the run: %s", type(exc).__name__)


def phase_seconds(steps: dict[str, float]) -> dict[str, float]:
    """Seconds per phase of a build (its steps run one after another in process): ingest, dbt,
    publish (restricted list, serving files), checks (freshness)."""
    def phase(step: str) -> str:
        if step == "raw_tables":
            return "ingest"
        if step == "mira_dbt_assets":
            return "dbt"
        if step.startswith(("serving__", "privacy__")):
            return "publish"
        return "checks"

    out: dict[str, float] = {}
    for step, seconds in steps.items():
        out[phase(step)] = round(out.get(phase(step), 0.0) + seconds, 2)
    return {k: out[k] for k in ("ingest", "dbt", "publish", "checks") if k in out}


def _print_summary(s: dict) -> None:
    out.print(f"run {s['run_id']}: {'succeeded' if s['success'] else 'FAILED'}")
    out.print(f"  files: {s['files_loaded']} loaded, {s['files_rejected']} rejected, "
              f"{s['files_duplicate']} duplicates skipped")
    for path, reason in s["rejected_files"]:
        out.print(f"    rejected {path}: {reason}", markup=False, highlight=False)
    for warning in s.get("warnings", []):
        if not warning.startswith("REJECTED "):         # listed just above
            out.print(f"  warning: {warning}", markup=False, highlight=False)
    out.print(f"  rows: {s['rows_loaded']} loaded, {s['rows_quarantined']} quarantined")
    for rule, n in s["quarantined_by_rule"].items():
        out.print(f"    {rule}: {n}")
    out.print(f"  dbt models built: {s['models_built']}")
    if s.get("phases"):
        out.print("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in s["phases"].items()))
    loaded, published = s.get("tenants_loaded", []), s.get("tenants_published", [])
    out.print(f"  tenants with new data: {len(loaded)}" + (f" ({_few(loaded)})" if loaded else ""))
    out.print(f"  serving files republished: {len(published)}" + (f" ({_few(published)})" if published else ""))


def _few(names: list[str], shown: int = 8) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


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
    _print_lag()
    lr = last_run()
    if lr:
        out.print(f"last run {lr['run_id']} finished {lr['finished_at']}: {lr['files_ingested']} files, "
                  f"{lr['rows_loaded']} rows loaded, {lr['rows_quarantined']} quarantined")


def lag_rows() -> list[dict]:
    """Per tenant: when its newest file landed (its mtime), when it was ingested, when the
    tenant's serving file was last published, and the lag between landing and publishing in
    seconds (None while the newest file is not yet published: `pending`)."""
    from datetime import datetime, timezone

    from pipelines.ingest.status import latest_landed
    from pipelines.serving import versions
    from pipelines.settings import get_settings

    published = versions.recorded(get_settings())
    rows = []
    for tenant, (mtime_ns, ingested) in latest_landed().items():
        landed = datetime.fromtimestamp(mtime_ns / 1e9, timezone.utc) if mtime_ns else None
        at = published.get(tenant, {}).get("published_at")
        pub = datetime.fromisoformat(at) if at else None
        lag = (pub - landed).total_seconds() if pub and landed and pub >= landed else None
        rows.append({"tenant_id": tenant, "landed": landed, "ingested": ingested, "published": pub,
                     "lag_seconds": lag})
    return rows


def _print_lag() -> None:
    table = Table("tenant", "newest file landed", "ingested", "serving file published", "landing to dashboard")
    for r in lag_rows():
        when = (lambda d: f"{d:%Y-%m-%d %H:%M:%S}" if d else "-")
        lag = f"{r['lag_seconds']:,.0f} s" if r["lag_seconds"] is not None else "pending"
        table.add_row(r["tenant_id"], when(r["landed"]), when(r["ingested"]), when(r["published"]), lag)
    out.print(table)


def contracts() -> None:
    """Print the landing format (derived from data_contracts/) as Markdown."""
    from pipelines.contracts import contracts_markdown

    typer.echo(contracts_markdown())
