"""Jobs, schedules and sensors: how the assets run, and how ops learn that they did not.

- full_build: ingest, dbt, publish; started by the landing sensor and nightly.
- freshness checks on every mart and published file, run by each build and by a sensor.
- run_failure_alert: any failed run becomes a line in logs/alerts.jsonl (and a webhook POST),
  then an `ops_refresh` run republishes the ops file; ops_refresh_after_run does the same after
  every successful run, so the page shows each run's final status.
- landing_sensor: a build when landing files appear or change.
- dead_run_recovery: what a run whose process died still holds (its pool slot above all) is given
  back, by the daemon, without waiting for the next `mira run` (pipelines.recovery).
The retention and backup jobs are privacy's (pipelines/privacy/assets.py).

The freshness checks cover keys of other stages and the build leaves out the privacy jobs'
assets: those keys come through `defs()`, which the code location calls, so this module imports
no other stage's assets and needs no dbt manifest.
"""

import warnings
from datetime import datetime, timedelta, timezone

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    DagsterRunStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    SupersessionWarning,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
    define_asset_job,
    in_process_executor,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from pipelines import recovery
from pipelines.ingest import state
from pipelines.ingest import landing
from pipelines.ingest.blobs import LandingUnavailable
from pipelines.ops import alerts
from pipelines.runs import user_error
from pipelines.settings import TIMEZONE, get_settings
from pipelines.transform.project import dbt_step_config

FULL_BUILD_JOB = "full_build"
OPS_REFRESH_JOB = "ops_refresh"
# Freshness: the nightly build runs at 02:00, so a mart older than 26 h means a missed night
# (with two hours' slack for a slow build). Built from the asset keys, so new marts are covered.
# Dagster 1.12+ calls these checks superseded by FreshnessPolicy (a daemon-evaluated badge);
# checks are kept on purpose: they have a pass/fail history per asset in the UI, a severity, and
# can be evaluated in a test. The warning is silenced here only, not globally.
FRESHNESS_LIMIT = timedelta(hours=26)


def freshness(monitored: list[AssetKey]):
    """(checks, the sensor that evaluates them) for the monitored assets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SupersessionWarning)
        checks = build_last_update_freshness_checks(assets=monitored, lower_bound_delta=FRESHNESS_LIMIT,
                                                    severity=AssetCheckSeverity.ERROR)
        return checks, build_sensor_for_freshness_checks(
            freshness_checks=checks, name="freshness_checks_sensor", minimum_interval_seconds=600,
            default_status=DefaultSensorStatus.RUNNING)


def landing_sensor_for(job):
    @sensor(name="landing_sensor", job=job, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING,
            description="Starts a build when files appear or change in the landing folder or container.")
    def landing_sensor(context: SensorEvaluationContext):
        try:
            fp = landing.fingerprint(get_settings())
        except LandingUnavailable as exc:   # the container cannot be listed: said in the tick, no run
            return SkipReason(str(exc))
        if fp == context.cursor:
            return SkipReason("no new or changed landing files")
        context.update_cursor(fp)
        if state.up_to_date():   # `mira run` built exactly these files already
            return SkipReason("the last build already saw these landing files")
        return RunRequest(run_key=fp)

    return landing_sensor


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


def failure_alert_for(ops_refresh):
    # monitor_all_code_locations: `mira run` executes in process, so its runs carry no code
    # location; without this the daemon would only see runs launched from the UI.
    @run_failure_sensor(
        name="run_failure_alert",
        monitor_all_code_locations=True,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Writes every failed run to $MIRA_HOME/logs/alerts.jsonl and POSTs it to MIRA_ALERT_WEBHOOK if "
        "set; then starts ops_refresh so the Operations page lists the failure.",
        request_job=ops_refresh,
    )
    def run_failure_alert(context: RunFailureSensorContext) -> RunRequest | None:
        run = context.dagster_run
        step, message = None, context.failure_event.message
        for event in context.get_step_failure_events():
            step = event.step_key
            if event.step_failure_data and event.step_failure_data.error:
                message = user_error(event.step_failure_data.error).message
            break
        record = context.instance.get_run_record_by_id(run.run_id)
        ended = record.end_time if record and record.end_time else None
        when = datetime.fromtimestamp(ended, timezone.utc) if ended else None
        alerts.send(alerts.make_alert(run.run_id, run.job_name, step, message, when=when))
        return ops_refresh_request(run)

    return run_failure_alert


def dead_run_sensor():
    # A dead `mira run` holds the warehouse pool's one slot: every run the daemon starts would
    # wait for it for ever. Every `mira run` recovers first too; this covers `mira serve` alone.
    @sensor(name="dead_run_recovery", minimum_interval_seconds=15, default_status=DefaultSensorStatus.RUNNING,
            description="Marks failed the runs whose process died (kill -9, a crash) and frees the pool slots "
            "they hold, so the next step in the warehouse pool does not wait for ever; removes the temporary "
            "files they left. One line per run recovered.")
    def dead_run_recovery(context: SensorEvaluationContext):
        lines = recovery.recover(context.instance, get_settings())
        for line in lines:
            context.log.warning(line)
        return SkipReason("; ".join(lines) if lines else "no dead run")

    return dead_run_recovery


def refresh_after_success_for(ops_refresh):
    """A run that succeeded published the ops file while Dagster still called it STARTED (the
    publish leaves that run out): once it has ended, republish, so the Operations page shows it
    with the status the Dagster UI shows. ops_refresh itself asks for nothing (no loop)."""
    @run_status_sensor(
        name="ops_refresh_after_run",
        run_status=DagsterRunStatus.SUCCESS,
        monitor_all_code_locations=True,
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Starts ops_refresh after every successful run (except ops_refresh), so the Operations page "
        "lists the run with its final status.",
        request_job=ops_refresh,
    )
    def ops_refresh_after_run(context: RunStatusSensorContext) -> RunRequest | None:
        return ops_refresh_request(context.dagster_run)

    return ops_refresh_after_run


def defs(monitored: list[AssetKey], outside_build: list[AssetKey], ops_file: AssetKey) -> Definitions:
    """monitored: assets with a freshness check; outside_build: assets of other jobs (retention,
    backup) that the build leaves out; ops_file: the asset ops_refresh republishes."""
    checks, freshness_sensor = freshness(monitored)
    # In-process: one process holds the warehouse at a time (DuckDB allows a single writer).
    # The freshness checks run in the build too (after their assets): their sensor does not
    # re-evaluate a failed check, it relies on the run that refreshes the asset to clear it.
    full_build = define_asset_job(
        FULL_BUILD_JOB,
        selection=AssetSelection.all() - AssetSelection.assets(*outside_build),
        executor_def=in_process_executor,
        description="Ingest new landing files, build every dbt model and run its tests, publish the analyst snapshot.",
    )
    # Nightly, dbt's data tests check every row of the incremental marts, not only the rows the
    # build wrote (what builds after new files check; dbt_project/macros/test_scope.sql).
    nightly_build = ScheduleDefinition(
        name="nightly_full_build", job=full_build, cron_schedule="0 2 * * *",
        execution_timezone=TIMEZONE, default_status=DefaultScheduleStatus.RUNNING,
        run_config={"ops": dbt_step_config(full_tests=True)},
        description="Nightly build, so marts roll over to a new day even without new files; "
                    "data tests over all rows.",
    )
    ops_refresh = define_asset_job(
        OPS_REFRESH_JOB,
        selection=AssetSelection.assets(ops_file),
        executor_def=in_process_executor,
        description="Republish the ops serving file (the Operations page), after a run has ended.",
    )
    return Definitions(
        asset_checks=checks,
        jobs=[full_build, ops_refresh],
        schedules=[nightly_build],
        sensors=[landing_sensor_for(full_build), freshness_sensor, failure_alert_for(ops_refresh),
                 refresh_after_success_for(ops_refresh), dead_run_sensor()],
    )
