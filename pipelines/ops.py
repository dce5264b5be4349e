"""Jobs, schedules and sensors: how the assets run, and how ops learn that they did not.

- full_build: ingest, dbt, publish; started by the landing sensor and nightly.
- freshness checks on every mart and on the analyst snapshot, run by each build and by a sensor.
- run_failure_alert: any failed run becomes a line in logs/alerts.jsonl (and a webhook POST).
- retention: daily deletion of everything past its retention period (logs, validation results,
  retired tenants, quarantine rows, processed landing files, runs, backups), then a check.
- backup: a daily encrypted backup of the warehouse and the vault (privacy/backup.py).
"""
import json
import os
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetOut,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    Output,
    RunFailureSensorContext,
    RunRequest,
    ScheduleDefinition,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    define_asset_job,
    asset,
    asset_check,
    in_process_executor,
    multi_asset,
    run_failure_sensor,
)
from pydantic import Field

from pipelines import alerts
from pipelines.ingest.assets import WAREHOUSE_POOL, make_landing_sensor
from pipelines.publish import ANALYST_KEY, OPS_KEY, TENANTS_KEY, mart_keys
from pipelines.settings import Settings, get_settings

TIMEZONE = "Europe/Brussels"
# The retention and backup jobs' assets (defined at the end): never part of the build.
EXPIRED_FILES_KEY = AssetKey(["privacy", "expired_files"])
RETENTION_KEY = AssetKey(["privacy", "retention"])
BACKUP_KEY = AssetKey(["privacy", "backup"])

# ---------------------------------------------------------------------------------------------
# Freshness: the nightly build runs at 02:00, so a mart older than 26 h means a missed night
# (with two hours' slack for a slow build). Built from the asset keys, so new marts are covered.
# Dagster 1.12+ calls these checks superseded by FreshnessPolicy (a daemon-evaluated badge);
# checks are kept on purpose: they have a pass/fail history per asset in the UI, a severity, and
# can be evaluated in a test. The warning is silenced here only, not globally.
FRESHNESS_LIMIT = timedelta(hours=26)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", SupersessionWarning)
    freshness_checks = build_last_update_freshness_checks(
        assets=[*mart_keys(), ANALYST_KEY, TENANTS_KEY, OPS_KEY],
        lower_bound_delta=FRESHNESS_LIMIT,
        severity=AssetCheckSeverity.ERROR,
    )
    freshness_sensor = build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="freshness_checks_sensor",
        minimum_interval_seconds=600,
        default_status=DefaultSensorStatus.RUNNING,
    )

# ---------------------------------------------------------------------------------------------
# In-process: one process holds the warehouse at a time (DuckDB allows a single writer).
# The freshness checks run in the build too (after their assets): their sensor does not
# re-evaluate a failed check, it relies on the run that refreshes the asset to clear it.
full_build = define_asset_job(
    "full_build",
    selection=AssetSelection.all() - AssetSelection.assets(EXPIRED_FILES_KEY, RETENTION_KEY, BACKUP_KEY),
    executor_def=in_process_executor,
    description="Ingest new landing files, build every dbt model and run its tests, publish the analyst snapshot.",
)

landing_sensor = make_landing_sensor(full_build)

# Nightly, dbt's data tests check every row of the incremental marts, not only the rows the
# build wrote (what builds after new files check; dbt_project/macros/test_scope.sql).
nightly_build = ScheduleDefinition(
    name="nightly_full_build", job=full_build, cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
    run_config={"ops": {"mira_dbt_assets": {"config": {"full_tests": True}}}},
    description="Nightly build, so marts roll over to a new day even without new files; "
                "data tests over all rows.",
)


OPS_REFRESH_JOB = "ops_refresh"
ops_refresh = define_asset_job(
    OPS_REFRESH_JOB,
    selection=AssetSelection.assets(OPS_KEY),
    executor_def=in_process_executor,
    description="Republish the ops serving file (the Operations page), after a failed run.",
)


# ---------------------------------------------------------------------------------------------
# Failure alerts. monitor_all_code_locations: `mira run` executes in process, so its runs carry
# no code location; without this the daemon would only see runs launched from the UI.
@run_failure_sensor(
    name="run_failure_alert",
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Writes every failed run to $MIRA_HOME/logs/alerts.jsonl and POSTs it to MIRA_ALERT_WEBHOOK if set; "
    "then starts ops_refresh so the Operations page lists the failure.",
    request_job=ops_refresh,
)
def run_failure_alert(context: RunFailureSensorContext) -> RunRequest | None:
    run = context.dagster_run
    step, message = None, context.failure_event.message
    for event in context.get_step_failure_events():
        step = event.step_key
        if event.step_failure_data and event.step_failure_data.error:
            message = _user_error(event.step_failure_data.error).message
        break
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record and record.end_time else None
    when = datetime.fromtimestamp(ended, timezone.utc) if ended else None
    alerts.send(alerts.make_alert(run.run_id, run.job_name, step, message, when=when))
    return ops_refresh_request(run)


def ops_refresh_request(run) -> RunRequest | None:
    """The Operations page lists failed runs from the ops serving file, which a build republishes
    as one of its last steps: a run that failed before that step, or a job without it (privacy,
    retention, backup), would show only after the next good build. So a failure asks for an
    `ops_refresh` run. It runs in the warehouse pool like every step that opens the warehouse:
    the sensor itself must not, or it could hold the file while a build needs to write it.
    A failed ops_refresh asks for nothing (no loop), nor does a failure before any warehouse exists
    (there is nothing to publish); the run key makes one request per failure."""
    if run.job_name == OPS_REFRESH_JOB or not get_settings().warehouse_path.exists():
        return None
    return RunRequest(run_key=f"ops-refresh-after-{run.run_id}", job_name=OPS_REFRESH_JOB)


# Dagster wraps what the step raised ("Error occurred while executing op ..."); ops need the
# step's own exception, which is the wrapper's cause.
_DAGSTER_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def _user_error(error):
    while error.cause is not None and error.cls_name in _DAGSTER_WRAPPERS:
        error = error.cause
    return error


# ---------------------------------------------------------------------------------------------
# Retention: the privacy statement promises logs are kept at most 90 days. Logs and
# Great Expectations results (which name runs and counts, but may quote failing values) go
# by file age; the alert log is one growing file, so its lines are pruned by their own time.
def _retention_roots(settings: Settings) -> list[Path]:
    return [settings.log_dir, settings.gx_dir]


def purge_expired_files(settings: Settings | None = None, now: float | None = None) -> dict[str, int]:
    """Delete files under logs/ and gx/ last modified more than the retention period ago.

    Returns counts only (files deleted per folder, alert lines pruned): file names can carry run
    ids and tenant names, which do not belong in a run log that itself is kept for 90 days.
    """
    settings = settings or get_settings()
    now = time.time() if now is None else now
    cutoff = now - settings.log_retention_days * 86400
    report: dict[str, int] = {}
    for root in _retention_roots(settings):
        deleted = 0
        for folder, _dirs, files in os.walk(root):  # does not follow symlinks out of the tree
            for name in files:
                path = Path(folder) / name
                try:
                    if path.lstat().st_mtime < cutoff:
                        path.unlink()
                        deleted += 1
                except FileNotFoundError:  # a concurrent run removed it first
                    continue
        report[f"files_deleted.{root.name}"] = deleted
    report["alert_lines_pruned"] = _prune_alert_log(settings.log_dir / alerts.ALERTS_FILE, cutoff)
    return report


def _prune_alert_log(path: Path, cutoff: float) -> int:
    """Drop alert lines older than the cutoff, in place under the alert log's lock (see
    alerts.locked). Lines that do not parse are dropped too: they cannot be dated."""
    if not path.exists():
        return 0
    with alerts.locked(path, "r+") as fh:
        kept, dropped = [], 0
        for line in fh.read().splitlines():
            try:
                when = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
            except (ValueError, KeyError, TypeError):
                when = None
            if when is not None and when >= cutoff:
                kept.append(line)
            else:
                dropped += 1
        if dropped:
            fh.seek(0)
            fh.write("".join(line + "\n" for line in kept))
            fh.truncate()
    return dropped


# The daily retention job materialises two small assets: privacy/expired_files (the files above)
# and privacy/retention (retired tenants, quarantine rows, processed landing files, Dagster runs,
# login events, backups: pipelines/privacy/retention.py), then runs the check that nothing older
# than the policy allows is left. Both write the warehouse, hence the one-writer pool.
RETENTION_CHECK = "nothing_past_retention"


class RetentionConfig(Config):
    as_of: Optional[str] = Field(default=None, description="YYYY-MM-DD: apply the policy as of this day "
                                 "(tests, audits); default now.")


def _as_of(config: RetentionConfig):
    from pipelines.privacy.retention import parse_as_of

    return parse_as_of(config.as_of)


@multi_asset(
    name="purge_expired",
    outs={"result": AssetOut(key=EXPIRED_FILES_KEY, group_name="privacy", kinds={"file"},
                             description="Logs, Great Expectations results and alert lines older than "
                             "MIRA_LOG_RETENTION_DAYS, deleted (counts).")},
    pool=WAREHOUSE_POOL,
)
def purge_expired(context: OpExecutionContext, config: RetentionConfig):
    from pipelines.privacy.retention import Policy

    settings = get_settings()
    as_of = _as_of(config)
    now = None if as_of is None else Policy.make(settings, as_of).now.timestamp()
    report = purge_expired_files(settings, now=now)
    context.log.info(f"retention ({settings.log_retention_days} days): "
                     + ", ".join(f"{k}={v}" for k, v in report.items()))
    return Output(report, metadata={**report, "retention_days": settings.log_retention_days})


@asset(
    key=RETENTION_KEY,
    deps=[EXPIRED_FILES_KEY],
    group_name="privacy",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
    description="Retention applied: tenants past MIRA_TENANT_RETENTION_DAYS after their subscription ended "
    "deleted everywhere; quarantine rows, processed landing files, Dagster runs and login events past "
    "MIRA_LOG_RETENTION_DAYS and backups past MIRA_BACKUP_RETENTION_DAYS deleted. Metadata: counts per place.",
)
def retention_applied(context: AssetExecutionContext, config: RetentionConfig):
    from pipelines.privacy.retention import apply_retention

    report = apply_retention(get_settings(), _as_of(config), instance=context.instance, files=False)
    context.log.info("retention: " + ", ".join(f"{k}={v}" for k, v in report.items()))
    return Output(report, metadata={**report, "as_of": config.as_of or "now"})


@asset_check(asset=RETENTION_KEY, name=RETENTION_CHECK, blocking=False,
             description="Fails when anything older than the retention policy allows is still present "
             "(a retired tenant's rows or files, logs, quarantine rows, processed landing files, runs, "
             "login events, backups); metadata: counts per place, never names.")
def nothing_past_retention(context: AssetCheckExecutionContext, config: RetentionConfig) -> AssetCheckResult:
    from pipelines.privacy.retention import overdue

    counts = overdue(get_settings(), _as_of(config), instance=context.instance)
    late = {k: v for k, v in counts.items() if v}
    return AssetCheckResult(passed=not late, severity=AssetCheckSeverity.ERROR,
                            metadata={**counts, "overdue": ", ".join(f"{k}={v}" for k, v in late.items()) or "none"})


RETENTION_ASSETS = [purge_expired, retention_applied]
RETENTION_CHECKS = [nothing_past_retention]

retention = define_asset_job(
    "retention",
    selection=AssetSelection.assets(EXPIRED_FILES_KEY, RETENTION_KEY),
    executor_def=in_process_executor,
    description="Daily retention: everything older than the privacy statement allows is deleted "
    "(logs, retired tenants, quarantine rows, processed landing files, runs, backups), then checked.",
)


def retention_run_config(as_of: str | None) -> dict:
    """Run config giving every step of the retention job the same as-of date."""
    cfg = {"config": {"as_of": as_of}}
    return {"ops": {"purge_expired": cfg, "privacy__retention": cfg,
                    f"privacy__retention_{RETENTION_CHECK}": cfg}}


retention_schedule = ScheduleDefinition(
    name="daily_retention", job=retention, cron_schedule="30 3 * * *",
    execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
    description="Daily, after the nightly build: enforce the retention periods (logs, tenants, backups).",
)


@asset(
    key=BACKUP_KEY,
    group_name="privacy",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,  # reads warehouse.duckdb: never while a build holds its write lock
    description="An encrypted backup of the warehouse and the vault (own key, row counts verified) under "
    "MIRA_HOME/backups/<time>/; backups past MIRA_BACKUP_RETENTION_DAYS deleted. Metadata: the backup id, "
    "rows per file (no names).",
)
def backup(context: AssetExecutionContext):
    from pipelines.privacy.backup import create_backup

    made = create_backup(get_settings())
    rows = {name.removesuffix(".duckdb") + "_rows": info["rows"] for name, info in made.files.items()}
    context.log.info(f"backup {made.id}: " + ", ".join(f"{k}={v}" for k, v in rows.items()))
    return Output(made.id, metadata={"backup_id": made.id, **rows})


backup_job = define_asset_job(
    "backup",
    selection=AssetSelection.assets(BACKUP_KEY),
    executor_def=in_process_executor,
    description="Encrypted backup of the warehouse and the vault (what `mira backup` does).",
)

backup_schedule = ScheduleDefinition(
    name="daily_backup", job=backup_job, cron_schedule="0 5 * * *",
    execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
    description="Daily, after the nightly build and retention: a backup of the day's warehouse and vault.",
)
