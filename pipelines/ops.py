"""Jobs, schedules and sensors: how the assets run, and how ops learn that they did not.

- full_build: ingest, dbt, publish; started by the landing sensor and nightly.
- freshness checks on every mart and on the analyst snapshot, run by each build and by a sensor.
- run_failure_alert: any failed run becomes a line in logs/alerts.jsonl (and a webhook POST).
- retention: daily deletion of logs and validation results past the retention period.
"""
import json
import os
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import (
    AssetCheckSeverity,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    Output,
    RunFailureSensorContext,
    ScheduleDefinition,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    define_asset_job,
    in_process_executor,
    job,
    op,
    run_failure_sensor,
)

from pipelines import alerts
from pipelines.ingest.assets import make_landing_sensor
from pipelines.publish import ANALYST_KEY, mart_keys
from pipelines.settings import Settings, get_settings

TIMEZONE = "Europe/Brussels"

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
        assets=[*mart_keys(), ANALYST_KEY],
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
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Ingest new landing files, build every dbt model and run its tests, publish the analyst snapshot.",
)

landing_sensor = make_landing_sensor(full_build)

nightly_build = ScheduleDefinition(
    name="nightly_full_build", job=full_build, cron_schedule="0 2 * * *",
    execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
    description="Nightly build, so marts roll over to a new day even without new files.",
)


# ---------------------------------------------------------------------------------------------
# Failure alerts. monitor_all_code_locations: `mira run` executes in process, so its runs carry
# no code location; without this the daemon would only see runs launched from the UI.
@run_failure_sensor(
    name="run_failure_alert",
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Writes every failed run to $MIRA_HOME/logs/alerts.jsonl and POSTs it to MIRA_ALERT_WEBHOOK if set.",
)
def run_failure_alert(context: RunFailureSensorContext) -> None:
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


@op(description="Deletes logs and validation results older than MIRA_LOG_RETENTION_DAYS (default 90).")
def purge_expired(context: OpExecutionContext):
    settings = get_settings()
    report = purge_expired_files(settings)
    context.log.info(f"retention ({settings.log_retention_days} days): "
                     + ", ".join(f"{k}={v}" for k, v in report.items()))
    yield Output(report, metadata={**report, "retention_days": settings.log_retention_days})


@job(description="Daily retention: logs and validation results older than the retention period are deleted.",
     executor_def=in_process_executor)
def retention():
    purge_expired()


retention_schedule = ScheduleDefinition(
    name="daily_retention", job=retention, cron_schedule="30 3 * * *",
    execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
    description="Daily, after the nightly build: enforce the retention period on logs.",
)
