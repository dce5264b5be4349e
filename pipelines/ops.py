"""Jobs, schedules and sensors: how the assets run without anyone pressing a button."""
from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from pipelines.ingest.assets import make_landing_sensor

# In-process: one process holds the warehouse at a time (DuckDB allows a single writer).
full_build = define_asset_job(
    "full_build",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Ingest new landing files, then build every dbt model and run its tests.",
)

landing_sensor = make_landing_sensor(full_build)

nightly_build = ScheduleDefinition(
    name="nightly_full_build", job=full_build, cron_schedule="0 2 * * *",
    execution_timezone="Europe/Brussels", default_status=DefaultScheduleStatus.RUNNING,
    description="Nightly build, so marts roll over to a new day even without new files.",
)
