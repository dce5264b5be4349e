"""The dbt project as Dagster assets: each model its own asset, dbt tests as asset checks.

dbt runs in the step's own process (pipelines.transform.runner), not as a second Python.
Built lazily, by a cached factory (as in dagster's dbt examples): importing this module reads no
manifest, so unit tests and tools that never load the code location need no `make manifest`;
`dbt_assets_def()` raises a clear error when the manifest is missing.
"""

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config, Definitions
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from pipelines import progress
from pipelines.settings import get_settings
from pipelines.transform.project import (
    DBT_OP, dbt_build_flags, dbt_env, project, require_manifest, seed_parse,
)
from pipelines.warehouse import WAREHOUSE_POOL

GROUP_NAME = "warehouse"
MARTS_SCHEMA = "marts"


class MiraDbtTranslator(DagsterDbtTranslator):
    """Sources keep the ingestion's keys (["raw", <table>]) so lineage joins the ingest assets;
    models are keyed by the schema and table they build, like the raw tables."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP_NAME


translator = MiraDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(Config):
    """Run config of the dbt step (`ops: {mira_dbt_assets: {config: {...}}}`); the defaults are
    the routine build after new data."""

    full_refresh: bool = False  # rebuild every incremental mart from scratch (`mira run --full-refresh`)
    unit_tests: bool = False    # also run dbt unit tests (hand-made fixtures; CI runs them on every change)
    full_tests: bool = False    # data tests over all rows, not only the rows this build wrote (nightly)


@lru_cache(maxsize=1)
def dbt_assets_def():
    """The @dbt_assets definition of every model, made once from the prepared manifest."""

    @dbt_assets(
        name=DBT_OP,
        manifest=require_manifest(),
        dagster_dbt_translator=MiraDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
        project=project(),
        pool=WAREHOUSE_POOL,  # dbt writes warehouse.duckdb: never beside another writer (DuckDB: one writer)
    )
    def mira_dbt_assets(context: AssetExecutionContext, config: DbtBuildConfig):
        """Build the staging views and marts; dbt tests report as asset checks."""
        from dagster_dbt.asset_utils import get_manifest_and_translator_from_dbt_assets

        from pipelines.transform import lake, runner

        settings = get_settings()
        manifest, translator, _ = get_manifest_and_translator_from_dbt_assets([context.assets_def])
        select, indirect, folder = runner.selection_args(context, manifest, translator)
        args = ["build", *dbt_build_flags(full_refresh=config.full_refresh, unit_tests=config.unit_tests,
                                          full_tests=config.full_tests), *select]
        if indirect:
            args += ["--indirect-selection", indirect]
        total = len(context.selected_asset_keys) + len(context.selected_asset_check_keys)
        done = 0

        def finished(event: dict) -> None:
            nonlocal done
            done += 1
            progress.report("dbt build", min(done, total), total)

        # Run artifacts under MIRA_HOME (one folder, replaced each run), not piling up in the repo.
        target = settings.home / "dbt" / "target"
        seed_parse(target)
        if settings.engine == "spark":   # Spark reads the raw layer from the lake (transform/lake.py)
            lake.export_raw(settings)
        ok, results, outcome = runner.invoke(args, target, settings.log_dir / "dbt", dbt_env(settings.home),
                                             on_event=finished, project_dir=folder)
        yield from runner.dagster_events(results, manifest, translator, context, target)
        if not ok:
            raise runner.DbtStepFailed(runner.failure_summary(outcome))
        if settings.engine == "spark":   # the marts back into the warehouse, for publishing
            lake.import_marts(settings, target / "manifest.json")

    return mira_dbt_assets


def mart_keys() -> list[AssetKey]:
    """Every dbt model keyed under `marts` (the translator keys models by schema), so a mart
    added to dbt is published and monitored without touching other code."""
    return sorted((k for k in dbt_assets_def().keys if k.path[0] == MARTS_SCHEMA), key=lambda k: k.path)


def defs() -> Definitions:
    return Definitions(assets=[dbt_assets_def()])
