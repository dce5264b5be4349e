"""The dbt project as Dagster assets, and a plain `dbt build` for code that runs without Dagster.

The manifest is prepared by the build (`make manifest`, which runs `dbt parse`), never at
import: parsing takes seconds and needs a writable project folder, and a code location
should load the same definitions every time. dbt tests become asset checks.

dbt reads the warehouse path from MIRA_HOME (profiles.yml), so MIRA_HOME is pinned to the
absolute home from settings before dbt starts: a relative `.mira` would otherwise be taken
from dbt's working directory, the dbt project folder.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from pipelines import progress
from pipelines.dbt_env import dbt_env
from pipelines.ingest.assets import WAREHOUSE_POOL
from pipelines.settings import DBT_PROJECT_DIR, get_settings

GROUP_NAME = "warehouse"
# What `make manifest` runs (profiles.yml needs MIRA_HOME set, though parse opens no database).
MANIFEST_COMMAND = ("cd dbt_project && MIRA_HOME=$PWD/../.mira DBT_ENV_SECRET_MIRA_WAREHOUSE_KEY=parse-only "
                    "../.venv/bin/dbt parse --quiet --profiles-dir .")

mira_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _dbt_executable() -> str:
    """dbt from this interpreter's environment: `dagster dev` started as .venv/bin/dagster
    does not put .venv/bin on PATH, and dagster-dbt would otherwise look up `dbt` on PATH."""
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("dbt") or "dbt"


_dbt_env = dbt_env  # the name scripts and tests import


def _require_manifest() -> Path:
    if not mira_dbt_project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {mira_dbt_project.manifest_path}. "
            f"Run `make manifest` (from the repository root: {MANIFEST_COMMAND}) "
            "before loading the Dagster definitions."
        )
    return mira_dbt_project.manifest_path


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


def dbt_build_flags(*, full_refresh: bool = False, unit_tests: bool = False, full_tests: bool = False) -> list[str]:
    """The `dbt build` flags of a pipeline build.

    Unit tests check SQL logic against fixed fixtures, not the data: their result only changes
    when the project changes, so they run in CI (tests/integration/test_dbt_build.py), not on
    every load. Data tests on the large incremental marts check the rows the build wrote unless
    `full_tests` (macros/test_scope.sql); a full refresh rewrites every row, so it tests all.
    """
    flags = [] if unit_tests else ["--exclude-resource-type", "unit_test"]
    if full_refresh:
        flags.append("--full-refresh")
    if full_tests:
        flags += ["--vars", "{mira_full_tests: true}"]
    return flags


@dbt_assets(
    manifest=_require_manifest(),
    dagster_dbt_translator=translator,
    project=mira_dbt_project,
    pool=WAREHOUSE_POOL,  # dbt writes warehouse.duckdb: never beside another writer (DuckDB: one writer)
)
def mira_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    """Build the staging views and marts; dbt tests report as asset checks."""
    settings = get_settings()
    os.environ.update(_dbt_env(settings.home))  # DbtCliResource hands os.environ to dbt
    total = len(context.selected_asset_keys) + len(context.selected_asset_check_keys)
    args = ["build", "--log-path", str(settings.log_dir / "dbt"),
            *dbt_build_flags(full_refresh=config.full_refresh, unit_tests=config.unit_tests,
                             full_tests=config.full_tests)]
    # Run artifacts under MIRA_HOME (one folder, replaced each run), not piling up in the repo.
    target = settings.home / "dbt" / "target"
    invocation = dbt.cli(args, context=context, target_path=target)
    try:
        for done, event in enumerate(invocation.stream(), start=1):
            progress.report("dbt build", min(done, total), total)
            yield event
    finally:
        # If this step fails while dbt still runs (an event it cannot map, a cancelled run),
        # dbt must not live on holding the warehouse's write lock for the steps after it.
        if invocation.process.poll() is None:
            invocation.process.terminate()
            try:
                invocation.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                invocation.process.kill()


class DbtBuildError(RuntimeError):
    def __init__(self, returncode: int, output: str):
        tail = "\n".join(output.splitlines()[-40:])
        super().__init__(f"dbt build failed (exit code {returncode}):\n{tail}")
        self.returncode = returncode
        self.output = output


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=mira_dbt_project, dbt_executable=_dbt_executable())


def run_dbt_build(home: Path, *, select: str | None = None, full_refresh: bool = False,
                  unit_tests: bool = False, full_tests: bool = False) -> None:
    """`dbt build` against the warehouse in `home`, without Dagster (tests, the CLI), with the
    pipeline's flags (dbt_build_flags: no unit tests unless asked).

    Artifacts and logs go under `home`, not the project's target/, so this never overwrites
    the manifest the Dagster code location was loaded from. Raises DbtBuildError, carrying
    dbt's output, when a model, unit test or data test fails.
    """
    home = Path(home).resolve()
    args = [
        _dbt_executable(), "build",
        "--project-dir", str(mira_dbt_project.project_dir),
        "--profiles-dir", str(mira_dbt_project.profiles_dir),
        "--target-path", str(home / "dbt" / "target"),
        "--log-path", str(home / "logs" / "dbt"),
        *dbt_build_flags(full_refresh=full_refresh, unit_tests=unit_tests, full_tests=full_tests),
    ]
    if select:
        args += ["--select", select]
    completed = subprocess.run(
        args,
        cwd=mira_dbt_project.project_dir,
        env={**os.environ, **_dbt_env(home)},
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise DbtBuildError(completed.returncode, completed.stdout + completed.stderr)
