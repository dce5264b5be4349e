"""Dagster side of privacy: one job per data-subject right, the `privacy/restrictions` asset, and
the daily retention and backup jobs.

Each job runs one recorded request; its run config carries the request id and nothing else (the
user id, names and values stay in the vault, so neither run configs nor event logs hold them).
Ops can resume a failed request from the UI by launching its job with the same id.

`privacy/restrictions` runs after the marts and before the analyst snapshot in every build: it
refreshes the warehouse's list of restricted pseudonyms from the vault (the snapshot masks them)
and re-keys any tombstoned pseudonym that a build brought back. Its deps are the marts, which the
code location passes to `defs()`: importing this module needs no dbt manifest.
"""

from functools import partial
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
    Definitions,
    Field,
    MaterializeResult,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    ScheduleDefinition,
    asset,
    asset_check,
    define_asset_job,
    in_process_executor,
    job,
    multi_asset,
    op,
)
from pydantic import Field as ConfigField

from pipelines.privacy import rights
from pipelines.privacy.backup import create_backup
from pipelines.privacy.retention import Policy, apply_retention, overdue, parse_as_of, purge_expired_files
from pipelines.settings import TIMEZONE, get_settings
from pipelines.warehouse import WAREHOUSE_POOL

RESTRICTIONS_KEY = AssetKey(["privacy", "restrictions"])
# The retention and backup jobs' assets: never part of the build.
EXPIRED_FILES_KEY = AssetKey(["privacy", "expired_files"])
RETENTION_KEY = AssetKey(["privacy", "retention"])
BACKUP_KEY = AssetKey(["privacy", "backup"])
OUTSIDE_BUILD = (EXPIRED_FILES_KEY, RETENTION_KEY, BACKUP_KEY)
# Every step that opens the warehouse (reads included: a reader blocks DuckDB's one writer) runs
# in the warehouse pool, one at a time.
warehouse_asset = partial(asset, group_name="privacy", kinds={"duckdb"}, pool=WAREHOUSE_POOL)
REQUEST_OP = "execute_request"
# The CLI runs these in its own process and prints its own one-line outcome; the event log (UI) has all.
# Dagster builds loggers only from run config, so the level is a default of the job's config; the
# request id defaults to empty only so that this default is complete (an empty id is refused).
_DEFAULT_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

_DESCRIPTIONS = {
    "export": "Access and portability: everything held on one person, as JSON and CSV for the controller.",
    "rectify": "Rectification: an identity field (first name, last name, email) corrected in the vault.",
    "erase": "Erasure: identity deleted, warehouse rows re-keyed to a random token, landing files purged, "
             "tombstone recorded, analyst snapshot republished.",
    "restrict": "Restriction (and objection): the person leaves every published mart that shows individuals.",
    "unrestrict": "Lifts a restriction: the person is shown again from the next publish (done now).",
}


def job_name(kind: str) -> str:
    return f"privacy_{kind}"


def run_config(request_id: str) -> dict:
    """The whole run config of a request's job: its id, nothing else."""
    return {"ops": {REQUEST_OP: {"config": {"request_id": request_id}}}}


# One op definition shared by every request job: Dagster refuses two different op definitions
# with the same name in one code location. The job's tag tells the op which kind it runs.
@op(name=REQUEST_OP, config_schema={"request_id": Field(str, default_value="")}, pool=WAREHOUSE_POOL,
    out=Out(Nothing), description="Runs (or resumes) one recorded data-subject request, by id.")
def execute_request(context: OpExecutionContext):
    kind = context.run.tags.get("mira/privacy")
    request_id = context.op_config["request_id"]
    if not request_id:
        raise rights.RequestError("no request id in the run config (ops.execute_request.config.request_id)")
    request = rights.load_request(request_id)
    if request.kind != kind:
        raise rights.RequestError(f"request {request_id} is a {request.kind} request, not {kind}: "
                                  f"run job {job_name(request.kind)}")
    counts = rights.execute(request_id, log=context.log.info)
    yield Output(None, metadata={"request_id": request_id, "rows": sum(counts.values()),
                                   **{f"rows.{k}": v for k, v in counts.items()}})


def _make_job(kind: str):
    @job(name=job_name(kind), description=_DESCRIPTIONS[kind], executor_def=in_process_executor,
         config={**_DEFAULT_CONFIG, **run_config("")}, tags={"mira/privacy": kind})
    def request_job():
        execute_request()

    return request_job


privacy_jobs = [_make_job(kind) for kind in rights.KINDS]
JOBS = {kind: j for kind, j in zip(rights.KINDS, privacy_jobs)}


def _restrictions_asset(mart_keys: list[AssetKey]):
    @warehouse_asset(
        key=RESTRICTIONS_KEY,
        deps=mart_keys,
        description="Restricted subjects (pseudonyms only) copied from the vault into privacy.restricted_subjects, "
        "which the analyst snapshot masks; tombstoned pseudonyms a build brought back are re-keyed.",
    )
    def restrictions(context: AssetExecutionContext) -> MaterializeResult:
        result = rights.sync_restrictions()
        context.log.info(f"{result['restricted_subjects']} restricted subjects; "
                         f"{result['rows_rekeyed']} rows of erased subjects re-keyed")
        return MaterializeResult(metadata=result)

    return restrictions


# The daily retention job materialises two small assets: privacy/expired_files (the files above)
# and privacy/retention (retired tenants, quarantine rows, processed landing files, Dagster runs,
# login events, backups: pipelines/privacy/retention/), then runs the check that nothing older
# than the policy allows is left. Both write the warehouse, hence the one-writer pool.
RETENTION_CHECK = "nothing_past_retention"


class RetentionConfig(Config):
    as_of: Optional[str] = ConfigField(default=None, description="YYYY-MM-DD: apply the policy as of this day "
                                 "(tests, audits); default now.")


def _as_of(config: RetentionConfig):
    return parse_as_of(config.as_of)


@multi_asset(
    name="purge_expired",
    outs={"result": AssetOut(key=EXPIRED_FILES_KEY, group_name="privacy", kinds={"file"},
                             description="Logs, Great Expectations results and alert lines older than "
                             "MIRA_LOG_RETENTION_DAYS, deleted (counts).")},
    pool=WAREHOUSE_POOL,
)
def purge_expired(context: OpExecutionContext, config: RetentionConfig):
    settings = get_settings()
    as_of = _as_of(config)
    now = None if as_of is None else Policy.make(settings, as_of).now.timestamp()
    report = purge_expired_files(settings, now=now)
    context.log.info(f"retention ({settings.log_retention_days} days): "
                     + ", ".join(f"{k}={v}" for k, v in report.items()))
    return Output(report, metadata={**report, "retention_days": settings.log_retention_days})


@warehouse_asset(
    key=RETENTION_KEY,
    deps=[EXPIRED_FILES_KEY],
    description="Retention applied: tenants past MIRA_TENANT_RETENTION_DAYS after their subscription ended "
    "deleted everywhere; quarantine rows, processed landing files, Dagster runs and login events past "
    "MIRA_LOG_RETENTION_DAYS and backups past MIRA_BACKUP_RETENTION_DAYS deleted. Metadata: counts per place.",
)
def retention_applied(context: AssetExecutionContext, config: RetentionConfig):
    report = apply_retention(get_settings(), _as_of(config), instance=context.instance, files=False)
    context.log.info("retention: " + ", ".join(f"{k}={v}" for k, v in report.items()))
    return Output(report, metadata={**report, "as_of": config.as_of or "now"})


@asset_check(asset=RETENTION_KEY, name=RETENTION_CHECK, blocking=False,
             description="Fails when anything older than the retention policy allows is still present "
             "(a retired tenant's rows or files, logs, quarantine rows, processed landing files, runs, "
             "login events, backups); metadata: counts per place, never names.")
def nothing_past_retention(context: AssetCheckExecutionContext, config: RetentionConfig) -> AssetCheckResult:
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


@warehouse_asset(
    key=BACKUP_KEY,
    description="An encrypted backup of the warehouse and the vault (own key, row counts verified) under "
    "MIRA_HOME/backups/<time>/; backups past MIRA_BACKUP_RETENTION_DAYS deleted. Metadata: the backup id, "
    "rows per file (no names).",
)
def backup(context: AssetExecutionContext):
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


def defs(mart_keys: list[AssetKey]) -> Definitions:
    return Definitions(
        assets=[_restrictions_asset(mart_keys), *RETENTION_ASSETS, backup],
        asset_checks=RETENTION_CHECKS,
        jobs=[*privacy_jobs, retention, backup_job],
        schedules=[retention_schedule, backup_schedule],
    )
