"""The dbt project: where it is, the environment it runs in, and `dbt build` without Dagster.

The manifest is prepared by the build (`make manifest`, which runs `dbt parse`), never at
import: parsing takes seconds and needs a writable project folder, and a code location
should load the same definitions every time. Nothing here imports Dagster's asset machinery,
so scripts, the CLI and tests can start dbt without loading the code location.

dbt reads the warehouse path from MIRA_HOME (profiles.yml), so MIRA_HOME is pinned to the
absolute home from settings before dbt starts: a relative `.mira` would otherwise be taken
from dbt's working directory, the dbt project folder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines import keys
from pipelines.settings import DBT_PROJECT_DIR, DBT_WAREHOUSE_KEY_VAR, get_settings

# The dbt step's op name (the @dbt_assets function), which run configs address.
DBT_OP = "mira_dbt_assets"
# What `make manifest` runs (profiles.yml needs MIRA_HOME set, though parse opens no database).
MANIFEST_COMMAND = ("cd dbt_project && MIRA_HOME=$PWD/../.mira DBT_ENV_SECRET_MIRA_WAREHOUSE_KEY=parse-only "
                    "../.venv/bin/dbt parse --quiet --profiles-dir .")


@lru_cache(maxsize=1)
def project() -> DbtProject:
    """The one DbtProject, built once."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


WAREHOUSE_KEY_VAR = DBT_WAREHOUSE_KEY_VAR
PARSE_FILE = "partial_parse.msgpack"


def dbt_env(home: Path) -> dict[str, str]:
    """MIRA_HOME made absolute (dbt runs in the project folder), the memory limit, and the
    warehouse key derived for that home; on Spark also the engine (profiles.yml picks its output
    by it), Spark's folders under the home, the lake and the project's version (the DuckDB
    plugin computes that one itself)."""
    home = Path(home).resolve()
    settings = replace(get_settings(), home=home)
    env = {
        "MIRA_HOME": str(home),
        "MIRA_MEMORY_LIMIT": settings.memory_limit,
        WAREHOUSE_KEY_VAR: keys.file_key("warehouse", settings=settings),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MIRA_ENGINE": settings.engine,
    }
    if settings.engine == "spark":
        from pipelines.transform.plugin import project_version

        env.update({
            "MIRA_LAKE": settings.lake,
            "MIRA_SPARK_MASTER": settings.spark_master,
            "MIRA_SPARK_DRIVER_MEMORY": settings.spark_driver_memory,
            "MIRA_THREADS": str(settings.threads),
            "MIRA_SPARK_WAREHOUSE": str(settings.spark_warehouse),
            "MIRA_SPARK_METASTORE": str(settings.spark_dir / "metastore"),
            "MIRA_DBT_PROJECT_VERSION": project_version(),
            "SPARK_CONF_DIR": str(DBT_PROJECT_DIR / "spark"),
        })
    return env


def seed_parse(target: Path) -> None:
    """Start a home's dbt target with the parse `make manifest` made (when it has none yet): the
    project and the profile are the same for every home (the profile names none), so dbt's partial
    parsing accepts it instead of parsing the whole project again on a home's first build."""
    own, prepared = Path(target) / PARSE_FILE, project().project_dir / "target" / PARSE_FILE
    if not own.exists() and prepared.exists():
        own.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prepared, own)


def dbt_executable() -> str:
    """dbt from this interpreter's environment: `dagster dev` started as .venv/bin/dagster
    does not put .venv/bin on PATH, and dagster-dbt would otherwise look up `dbt` on PATH."""
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("dbt") or "dbt"


def require_manifest() -> Path:
    if not project().manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest not found at {project().manifest_path}. "
            f"Run `make manifest` (from the repository root: {MANIFEST_COMMAND}) "
            "before loading the Dagster definitions."
        )
    return project().manifest_path


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


def dbt_step_config(*, full_refresh: bool = False, unit_tests: bool = False, full_tests: bool = False) -> dict:
    """The run-config entry for the dbt step of a job (`ops: {mira_dbt_assets: {config: ...}}`)."""
    config = {k: v for k, v in (("full_refresh", full_refresh), ("unit_tests", unit_tests),
                                ("full_tests", full_tests)) if v}
    return {DBT_OP: {"config": config}}


class DbtBuildError(RuntimeError):
    def __init__(self, returncode: int, output: str):
        tail = "\n".join(output.splitlines()[-40:])
        super().__init__(f"dbt build failed (exit code {returncode}):\n{tail}")
        self.returncode = returncode
        self.output = output


def run_dbt_build(home: Path, *, select: str | None = None, full_refresh: bool = False,
                  unit_tests: bool = False, full_tests: bool = False) -> None:
    """`dbt build` against the warehouse in `home`, without Dagster (tests, the CLI), with the
    pipeline's flags (dbt_build_flags: no unit tests unless asked).

    Artifacts and logs go under `home`, not the project's target/, so this never overwrites
    the manifest the Dagster code location was loaded from. Raises DbtBuildError, carrying
    dbt's output, when a model, unit test or data test fails.
    """
    home = Path(home).resolve()
    seed_parse(home / "dbt" / "target")
    args = [
        dbt_executable(), "build",
        "--project-dir", str(project().project_dir),
        "--profiles-dir", str(project().profiles_dir),
        "--target-path", str(home / "dbt" / "target"),
        "--log-path", str(home / "logs" / "dbt"),
        *dbt_build_flags(full_refresh=full_refresh, unit_tests=unit_tests, full_tests=full_tests),
    ]
    if select:
        args += ["--select", select]
    spark = get_settings().engine == "spark"
    if spark:
        from pipelines.transform import lake

        lake.export_raw(replace(get_settings(), home=home))
    completed = subprocess.run(
        args,
        cwd=project().project_dir,
        env={**os.environ, **dbt_env(home)},
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise DbtBuildError(completed.returncode, completed.stdout + completed.stderr)
    if spark:
        lake.import_marts(replace(get_settings(), home=home), home / "dbt" / "target" / "manifest.json")
