"""The Dagster code location: assembles the per-domain modules, nothing else."""
from dagster import Definitions

from pipelines.ingest.assets import raw_tables
from pipelines.ops import (
    backup,
    backup_job,
    backup_schedule,
    freshness_checks,
    freshness_sensor,
    full_build,
    landing_sensor,
    nightly_build,
    ops_refresh,
    RETENTION_ASSETS,
    RETENTION_CHECKS,
    retention,
    retention_schedule,
    run_failure_alert,
)
from pipelines.privacy.jobs import privacy_assets, privacy_jobs
from pipelines.publish import analyst_snapshot, ops_snapshot, tenant_snapshots
from pipelines.transform import dbt_resource, mira_dbt_assets

defs = Definitions(
    assets=[raw_tables, mira_dbt_assets, analyst_snapshot, tenant_snapshots, ops_snapshot, *RETENTION_ASSETS, backup, *privacy_assets],
    asset_checks=[*freshness_checks, *RETENTION_CHECKS],
    jobs=[full_build, ops_refresh, retention, backup_job, *privacy_jobs],
    sensors=[landing_sensor, freshness_sensor, run_failure_alert],
    schedules=[nightly_build, retention_schedule, backup_schedule],
    resources={"dbt": dbt_resource()},
)
