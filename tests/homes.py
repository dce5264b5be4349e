"""What the crash tests share: generated landing files in daily drops, `mira run` as a real
process, the Dagster steps it is in, and a fingerprint of everything a home holds.

A home's fingerprint is, per table of the warehouse (raw, quarantine, audit.files, marts) and of
every serving file (each tenant's, the analyst snapshot), its row count and an order-free
checksum of its rows, leaving out what differs between two correct runs of the same files: the
run ids and the load, build and publish times. Two homes that ingested the same files, however
many runs and kills it took, must have equal fingerprints.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipelines.settings import environment

REPO = Path(__file__).resolve().parents[1]
# Columns that record when or by which run a row was written, not what it says.
VOLATILE = ("run_id", "_run_id", "_source_run", "quarantined_at", "ingested_at", "started_at", "finished_at")
VOLATILE_SUFFIXES = ("loaded_at", "built_at", "published_at")
RUN_TIMEOUT_S = 300
FIRST_DAYS = 3              # days of movements in the reference's first run
# The steps of each phase of `mira run` (pipelines.cli.pipeline.phase_seconds).
PHASES = {
    "ingest": ("raw_tables",),
    "dbt": ("mira_dbt_assets",),
    "publish": ("privacy__restrictions", "serving__tenants", "serving__analyst", "serving__ops"),
}


def generate_drops(out: Path, tenants: int = 3, days: int = 20, seed: int = 5) -> list[list[str]]:
    """Generated landing files under `out`, the movements cut into one file per day; returns the
    drops in landing order: the reference files, then one drop per day (paths relative to `out`)."""
    from pipelines.generate import generate

    raw = out.parent / f"{out.name}-generated"
    generate(raw, tenants=tenants, days=days, seed=seed, movements_per_day=20, defect_rate=0.02,
             end_date=date(2026, 10, 31))
    reference: list[str] = []
    by_day: dict[str, list[str]] = {}
    for path in sorted(raw.rglob("*.csv")):
        rel = path.relative_to(raw)
        if rel.parts[1] != "movements":
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out / rel)
            reference.append(str(rel))
            continue
        for day, rows in _split_by_day(path).items():
            target = out / rel.parent / f"movements_{day}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerows(rows)
            by_day.setdefault(day, []).append(str(target.relative_to(out)))
    shutil.rmtree(raw)
    return [reference] + [sorted(by_day[d]) for d in sorted(by_day)]


def _split_by_day(path: Path) -> dict[str, list[list[str]]]:
    """Rows by the day they happened (a row whose time is broken goes with the row before it)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        at = header.index("occurred_at")
        days: dict[str, list[list[str]]] = {}
        day = None
        for row in reader:
            value = row[at][:10] if len(row) > at else ""
            if len(value) == 10 and value[:4].isdigit() and value[4] == "-":
                day = value
            days.setdefault(day or "0000-00-00", [header]).append(row)
    return days


@dataclass
class Reference:
    source: Path                 # every generated file, in drops
    drops: list[list[str]]       # reference files, then a drop per day
    start: Path                  # the reference home as it was after its first run
    measured: dict[str, float]   # seconds per step of that first run
    fingerprint: dict            # the reference home once every drop is ingested

    @property
    def rest(self) -> list[str]:
        """The files landed after the first run."""
        return [rel for drop in self.drops[1 + FIRST_DAYS:] for rel in drop]


def build_reference(base: Path) -> Reference:
    """A home that ingests generated files in two complete `mira run`s, the first days then the
    rest, with no kill and no fault: what the crash tests' homes must end equal to. `start` is a
    copy of it after its first run, for them to start from (the same vault: the same random
    pseudonym keys, so pseudonyms compare equal)."""
    source = base / "drops"
    drops = generate_drops(source)
    home = base / "reference"
    (home / "landing").mkdir(parents=True)
    release(source, [rel for drop in drops[:1 + FIRST_DAYS] for rel in drop], home / "landing")
    complete(home)
    with instance(home) as inst:
        measured = step_seconds(inst, inst.get_runs(limit=1)[0].run_id)
    start = base / "start"
    shutil.copytree(home, start)
    release(source, [rel for drop in drops[1 + FIRST_DAYS:] for rel in drop], home / "landing")
    complete(home)
    with pointed(home):
        return Reference(source, drops, start, measured, fingerprint(home))


def complete(home: Path) -> str:
    """A `mira run` on `home` that must succeed; its stderr."""
    done = mira(home, "run", timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stderr


def release(source: Path, rels: list[str], landing: Path) -> None:
    """Land files as the platform's export would: written under a hidden name, then renamed."""
    for rel in rels:
        target = landing / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        hidden = target.with_name("." + target.name)
        shutil.copy2(source / rel, hidden)
        os.replace(hidden, target)


def mira(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`mira <args>` as its own process, on `home`."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, env=env_for(home),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, **_pointing_at(home)}


def _pointing_at(home: Path) -> dict[str, str]:
    from tests.conftest import TEST_MASTER_KEY

    return {"MIRA_HOME": str(home), "MIRA_LANDING": str(home / "landing"), "MIRA_MASTER_KEY": TEST_MASTER_KEY,
            "MIRA_MEMORY_LIMIT": "1GB"}


def start_run(home: Path, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], cwd=REPO, env=env_for(home),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


_pointing = threading.RLock()


@contextmanager
def pointed(home: Path):
    """The platform pointed at `home` in this process for a moment (one thread at a time: the
    environment is the process's), then back."""
    with _pointing:
        with environment(_pointing_at(home)):
            yield


# -- the Dagster instance, read from outside the run -----------------------------------------

def instance(home: Path):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(home / "dagster"))


def run_of(inst, pid: int):
    """The run the `mira run` process `pid` executes (it tags its runs with its pid), or None."""
    for run in inst.get_runs(limit=5):
        if run.tags.get("mira/pid") == str(pid):
            return run
    return None


def steps(inst, run_id: str) -> tuple[list[str], set[str]]:
    """(steps started in order, steps ended) of a run."""
    from dagster import DagsterEventType as E

    started, ended = [], set()
    for entry in inst.all_logs(run_id, of_type={E.STEP_START, E.STEP_SUCCESS, E.STEP_FAILURE, E.STEP_SKIPPED}):
        (started.append if entry.dagster_event.event_type == E.STEP_START else ended.add)(entry.step_key)
    return started, ended


def phase_of(step: str | None) -> str:
    return next((p for p, names in PHASES.items() if step in names), "checks" if step else "start-up")


def step_seconds(inst, run_id: str) -> dict[str, float]:
    """Each step's time, start to success."""
    from dagster import DagsterEventType as E

    start: dict[str, float] = {}
    out: dict[str, float] = {}
    for entry in inst.all_logs(run_id, of_type={E.STEP_START, E.STEP_SUCCESS}):
        if entry.dagster_event.event_type == E.STEP_START:
            start[entry.step_key] = entry.timestamp
        elif entry.step_key in start:
            out[entry.step_key] = round(entry.timestamp - start[entry.step_key], 3)
    return out


def wait_until(predicate, timeout: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# -- what a home holds --------------------------------------------------------------------------

def _table_checksums(con, catalog: str, schemas: tuple[str, ...] | None) -> dict[str, tuple[int, int]]:
    out = {}
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
                         "ORDER BY 1, 2", [catalog]).fetchall()
    for schema, table in tables:
        if schemas is not None and schema not in schemas:
            continue
        cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
                           "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                           [catalog, schema, table]).fetchall()
        kept = [_stable(name, dtype) for name, dtype in cols
                if name not in VOLATILE and not name.endswith(VOLATILE_SUFFIXES)]
        name = f'"{catalog}"."{schema}"."{table}"'
        n, digest = con.execute(f"SELECT count(*), coalesce(sum(hash({', '.join(kept)}))::VARCHAR, '0') "
                                f"FROM {name}").fetchone()
        out[f"{schema}.{table}"] = (n, digest)
    return out


def _stable(name: str, dtype: str) -> str:
    """A column as compared: floating point rounded (aggregation order may change the last bits)."""
    quoted = '"' + name.replace('"', '""') + '"'
    return f"round({quoted}, 6)" if dtype in ("DOUBLE", "FLOAT", "REAL") else quoted


def fingerprint(home: Path) -> dict[str, tuple[int, str]]:
    """Row count and checksum of every table a clean run's home must equal (see the module's
    docstring), keyed `<file>:<schema>.<table>`. Opens every file read-only."""
    from pipelines.serving import files as serving
    from pipelines.settings import get_settings
    from pipelines.warehouse import connect

    settings = get_settings()
    assert settings.home == home.resolve(), "point the platform at the home first"
    out: dict[str, tuple[int, str]] = {}
    with connect(settings=settings, read_only=True) as con:
        for key, value in _table_checksums(con, "warehouse", ("raw", "quarantine", "audit", "marts")).items():
            if key != "audit.runs":       # one row per run: a chain has more runs than a clean home
                out[f"warehouse:{key}"] = value
    ring = serving.read_keyring(settings)
    for path in sorted((settings.serving_dir / serving.TENANTS_DIR).glob("*.duckdb")):
        con = serving.open_tenant(path.stem, settings)
        try:
            out.update({f"tenant {path.stem}:{k}": v for k, v in _table_checksums(con, "serving", None).items()})
        finally:
            con.close()
    assert set(ring) >= {p.stem for p in (settings.serving_dir / serving.TENANTS_DIR).glob("*.duckdb")}
    con = serving.open_analyst(settings)
    try:
        out.update({f"analyst:{k}": v for k, v in _table_checksums(con, "serving", None).items()})
    finally:
        con.close()
    return out


def dashboards_answer(home: Path, tenant: str) -> None:
    """The dashboards' data layer answers for a tenant (Consumption and Stock, as the pages ask)."""
    from dashboards.data import consumption, stock

    with pointed(home):
        start, end = consumption.default_period(tenant)
        assert not consumption.consumption_totals(tenant, start, end).empty
        assert not stock.stock_by_location(tenant).empty


def files_whole(home: Path) -> list[str]:
    """Problems with "every file loaded whole or not at all": for every file of the manifest,
    rows read = loaded + quarantined, and the warehouse holds exactly that many of its rows (raw
    rows from it plus its quarantined rows); a file not in the manifest has no row anywhere."""
    from pipelines.settings import get_settings
    from pipelines.warehouse import connect

    from pipelines.contracts import ENTITIES

    problems = []
    with connect(settings=get_settings(), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'audit' "
                           "AND table_name = 'files'").fetchone()[0]:
            return []
        raw = " UNION ALL ".join(f"SELECT _source_file AS f, count(*) AS n FROM raw.{e} GROUP BY 1" for e in ENTITIES)
        rows = con.execute(f"""
            WITH manifest AS (SELECT file_path, max(rows_read) AS rows_read, max(rows_loaded) AS rows_loaded,
                                     max(rows_quarantined) AS rows_quarantined, count(*) AS records
                              FROM audit.files WHERE status = 'loaded' GROUP BY 1),
                 raw AS ({raw}),
                 q AS (SELECT file_path AS f, count(*) AS n FROM quarantine.rows WHERE row_number IS NOT NULL GROUP BY 1)
            SELECT coalesce(m.file_path, raw.f, q.f), m.rows_read, m.rows_loaded, m.rows_quarantined, m.records,
                   coalesce(raw.n, 0), coalesce(q.n, 0)
            FROM manifest m FULL JOIN raw ON raw.f = m.file_path FULL JOIN q ON q.f = coalesce(m.file_path, raw.f)
        """).fetchall()
    for path, read, loaded, quarantined, records, in_raw, in_q in rows:
        if read is None:
            problems.append(f"{path}: {in_raw} raw and {in_q} quarantined rows, but the manifest never loaded it")
        elif records != 1 or read != loaded + quarantined or in_q != quarantined or in_raw > loaded:
            problems.append(f"{path}: read {read}, loaded {loaded}, quarantined {quarantined} ({records} records); "
                            f"holds {in_raw} raw rows, {in_q} quarantined")
    return problems
