"""The Dagster code location: assembles the per-domain modules, nothing else."""
from dagster import Definitions

from pipelines.ingest.assets import raw_tables
from pipelines.ops import full_build, landing_sensor, nightly_build
from pipelines.transform import dbt_resource, mira_dbt_assets

defs = Definitions(
    assets=[raw_tables, mira_dbt_assets],
    jobs=[full_build],
    sensors=[landing_sensor],
    schedules=[nightly_build],
    resources={"dbt": dbt_resource()},
)
