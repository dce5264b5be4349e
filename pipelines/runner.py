"""Run the whole pipeline once, in this process, recorded in the Dagster instance under MIRA_HOME."""
from __future__ import annotations

import contextlib

from pipelines.instance import prepare_dagster_home
from pipelines.settings import get_settings
from pipelines.warehouse import connect


def run_full_build(full_refresh: bool = False) -> dict:
    """Execute the `full_build` job in process; return a summary read back from the audit tables.

    full_refresh: dbt rebuilds every incremental mart from scratch (`dbt build --full-refresh`),
    e.g. after a model change that alters columns, or rows deleted from raw outside a purge.
    """
    prepare_dagster_home()
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    settings = get_settings()
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    instance = DagsterInstance.get()
    # dbt's console output goes to a log file instead of flooding the progress bars.
    run_config = full_build_run_config(full_refresh=full_refresh)
    try:
        with open(settings.log_dir / "mira-run.log", "a", encoding="utf-8") as log, \
                contextlib.redirect_stdout(log):
            result = defs.resolve_job_def("full_build").execute_in_process(
                instance=instance, raise_on_error=False, run_config=run_config)
    finally:
        instance.dispose()
    failure = None
    if not result.success:
        for ev in result.all_events:
            if ev.is_step_failure and ev.step_failure_data and ev.step_failure_data.error:
                failure = f"step {ev.step_key}: {ev.step_failure_data.error.message.strip().splitlines()[0]}"
                break
    models = sum(1 for m in result.get_asset_materialization_events()
                 if m.asset_key and m.asset_key.path[0] in ("staging", "marts"))
    summary = {"run_id": result.run_id, "success": result.success, "failure": failure or "see the Dagster UI",
               "models_built": models}
    summary.update(run_figures(result.run_id))
    return summary


def full_build_run_config(full_refresh: bool = False) -> dict:
    """Run config of the `full_build` job: warnings only on the console (the full event log is in
    the Dagster instance and UI), and the dbt step's options (pipelines.transform.DbtBuildConfig)."""
    return {
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        "ops": {"mira_dbt_assets": {"config": {"full_refresh": full_refresh}}},
    }


def run_figures(run_id: str) -> dict:
    settings = get_settings()
    figures = {"files_loaded": 0, "files_rejected": 0, "files_duplicate": 0, "rows_loaded": 0,
               "rows_quarantined": 0, "quarantined_by_rule": {}, "rejected_files": []}
    if not settings.warehouse_path.exists():
        return figures
    with connect(settings=settings, read_only=True) as con:
        has_audit = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'audit' AND table_name = 'files'").fetchone()[0]
        if not has_audit:
            return figures
        for status, n, loaded, quarantined in con.execute(
                "SELECT status, count(*), sum(rows_loaded), sum(rows_quarantined) FROM audit.files "
                "WHERE run_id = ? GROUP BY status", [run_id]).fetchall():
            figures[f"files_{status}"] = n
            figures["rows_loaded"] += int(loaded or 0)
            figures["rows_quarantined"] += int(quarantined or 0)
        figures["rejected_files"] = con.execute(
            "SELECT file_path, reason FROM audit.files WHERE run_id = ? AND status = 'rejected' ORDER BY 1",
            [run_id]).fetchall()
        figures["quarantined_by_rule"] = dict(con.execute(
            "SELECT rule_id, count(*) FROM quarantine.rows WHERE run_id = ? GROUP BY 1 ORDER BY 1",
            [run_id]).fetchall())
    return figures
