"""Shared fixtures: every test gets its own MIRA_HOME and landing folder."""
from __future__ import annotations

import csv
import importlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import DBT_PROJECT_DIR

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


TEST_MASTER_KEY = "test-only-master-key-" + "0" * 43


def point_at(mp: pytest.MonkeyPatch, home: Path) -> Path:
    """Point the whole platform at `home` (and its landing folder), with a test-sized memory limit.

    Module-scoped fixtures pass their own MonkeyPatch and undo it when the module is done."""
    mp.setenv("MIRA_HOME", str(home))
    mp.setenv("MIRA_LANDING", str(home / "landing"))
    mp.setenv("MIRA_MEMORY_LIMIT", "1GB")
    # One fixed test key for every home, so a test can open copies made from another home.
    # Tests of the demo key (created when this is unset) delete it themselves.
    mp.setenv("MIRA_MASTER_KEY", TEST_MASTER_KEY)
    (home / "landing").mkdir(parents=True, exist_ok=True)
    return home


def key_for(path: Path) -> str | None:
    """The key to open a file of a test home with: the vault's comes from pipelines.vault (no
    other module derives it); every other file's from its place (None)."""
    from pipelines.vault import store

    return store.encrypted_file()[1] if Path(path).name == store.VAULT_FILE else None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def published_copy(source: Path, home: Path, mp: pytest.MonkeyPatch) -> list[str]:
    """A copy of the built home `source` at `home` (without its Dagster runs, logs, landing files
    and GX results), pointed at, with every serving file published; its tenants, sorted."""
    from pipelines.serving import files as serving
    from pipelines.serving.ops_file import publish_ops
    from pipelines.serving.publish import publish_tenants

    shutil.copytree(source, home, ignore=shutil.ignore_patterns("dagster", "logs", "landing", "gx"))
    point_at(mp, home)
    tenants_dir = home / "serving" / serving.TENANTS_DIR
    if not any(tenants_dir.glob("*.duckdb")):
        publish_tenants()
    if not serving.ops_path().exists():
        publish_ops()
    tenants = sorted(p.stem for p in tenants_dir.glob("*.duckdb"))
    assert len(tenants) >= 2, f"the e2e home should publish several tenants, found {tenants}"
    return tenants


@pytest.fixture
def mira_home(tmp_path, monkeypatch) -> Path:
    home = point_at(monkeypatch, tmp_path / "mira")
    return home


@pytest.fixture
def landing(mira_home) -> Path:
    return mira_home / "landing"


@pytest.fixture(scope="session")
def azurite_server():
    """One Azurite (Azure Blob Storage emulator) for the whole session: tests.azurite."""
    from tests.azurite import azurite

    with azurite() as server:
        yield server


def blob_landing(server, mp: pytest.MonkeyPatch, name: str | None = None) -> tuple[object, str]:
    """Point MIRA_LANDING at a new container of `server` (prefix `landing/`), reached with its
    connection string: (its ContainerClient, the prefix)."""
    import uuid

    name = name or f"landing-{uuid.uuid4().hex[:16]}"
    client = server.container(name)
    mp.setenv("MIRA_LANDING", f"az://{name}/landing")
    mp.setenv("MIRA_AZURE_CONNECTION_STRING", server.connection_string)
    return client, "landing/"


@pytest.fixture(params=["folder", "azurite"])
def landing_on_both(request, mira_home, monkeypatch) -> Path:
    """The landing folder of `landing`, and the same tests once more on Blob Storage: then the
    folder the test writes is mirrored (tests.azurite.mirror: new, changed, renamed, deleted files)
    to a container of the session's Azurite right before ingestion lists it, and MIRA_LANDING
    names that container. The test reads the same either way."""
    folder = mira_home / "landing"
    if request.param == "folder":
        return folder
    from pipelines.ingest.blobs import BlobLanding
    from tests.azurite import mirror

    client, prefix = blob_landing(request.getfixturevalue("azurite_server"), monkeypatch)
    uploaded: dict[str, tuple[int, int]] = {}
    listed = BlobLanding.discover

    def discover(self):
        mirror(folder, client, prefix, uploaded)
        return listed(self)

    monkeypatch.setattr(BlobLanding, "discover", discover)
    return folder


def q(home: Path, sql: str, params=None) -> list[tuple]:
    """Rows of a read-only query on the warehouse of `home`."""
    from pipelines.warehouse import open_file

    con = open_file(home / "warehouse.duckdb", read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def transform(tmp_path_factory):
    """pipelines.transform, once the dbt manifest it loads at import exists (what `make manifest`
    does; cheap when dbt's partial parse is warm), so a test file also runs on its own."""
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "parse", "--quiet",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "MIRA_HOME": str(tmp_path_factory.mktemp("parse_home")),
             "DBT_ENV_SECRET_MIRA_WAREHOUSE_KEY": "parse-only",
             "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        check=True,
    )
    return importlib.import_module("pipelines.transform.project")


@pytest.fixture(scope="session")
def e2e(tmp_path_factory, transform):
    """One generated landing zone with defects, run twice through `mira run`'s job, shared by the
    tests that only read the result (dbt is the slow part). Tests that change it work on a copy."""
    from datetime import date

    from pipelines.generate import generate
    from pipelines.cli.pipeline import run_full_build

    mp = pytest.MonkeyPatch()
    home = point_at(mp, tmp_path_factory.mktemp("e2e") / "mira")
    gen = generate(home / "landing", tenants=3, days=60, seed=11, movements_per_day=25, defect_rate=0.02,
                   end_date=date(2026, 10, 31))
    first = run_full_build()
    second = run_full_build()
    yield home, gen, first, second
    mp.undo()


@pytest.fixture(scope="session")
def crash_reference(transform, tmp_path_factory):
    """Generated files ingested by two clean `mira run`s (tests.homes.build_reference), shared by
    the crash tests (kill -9, full and read-only disks), which must end equal to it."""
    from tests.homes import build_reference

    return build_reference(tmp_path_factory.mktemp("crash-reference"))
