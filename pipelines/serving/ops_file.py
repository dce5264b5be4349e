"""The ops serving file: counts for the Operations page, and runs read from Dagster's run storage.

serving/ops.duckdb is what the Operations page reads: per tenant freshness, quarantine per rule
with the rules' own reasons, every run with its Dagster status, and the failures.

The dashboards never open the Dagster instance (nor the warehouse): the ops serving file carries
what the page shows. Per run: id, job, status (DagsterRunStatus), start and end. Per failed
run: the failing step (op) and the class of the error it raised, and nothing of the message.

Why the class and not a cleaned first line: the ops file is copied out of the pipeline for a
role that sees every tenant, and an error message can hold anything the failing code had in
hand: a row's values (DuckDB quotes them, but `KeyError('jane@...')`, a file path with a
person's or a tenant's name, a URL with a token do not follow one pattern). Stripping what
looks like an email, path or key is a deny-list: it fails open on the case nobody thought of.
The class and the step say what failed and where; the full message is one click away in the
Dagster UI (each failure links to its run), which holds it already, under the instance's own
access. The failure alerts (pipelines/ops/alerts.py) keep their masked first line for the same
reason they exist: a pager needs words.
"""
from __future__ import annotations

import uuid
from dataclasses import astuple, dataclass
from datetime import datetime, timezone

from pipelines import keys
from pipelines.runs import error_class, instance_for
from pipelines.serving.files import OPS_FILE, TMP_PREFIX, remove_leftovers
from pipelines.settings import Settings, get_settings
from pipelines.warehouse import attach, connect, detach, swap_in

MAX_RUNS = 200
RUNS_DDL = """(run_id VARCHAR, job VARCHAR, status VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ)"""
FAILURES_DDL = """(run_id VARCHAR, job VARCHAR, failed_at TIMESTAMPTZ, failed_step VARCHAR, error_class VARCHAR)"""

@dataclass(frozen=True)
class Run:
    run_id: str
    job: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Failure:
    run_id: str
    job: str
    failed_at: datetime | None
    failed_step: str | None
    error_class: str


def _utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, timezone.utc) if ts else None


def read(instance, limit: int = MAX_RUNS, running: str | None = None) -> tuple[list[Run], list[Failure]]:
    """The last `limit` runs (newest first) and a Failure for each failed one. `running`: the
    run this publish happens in, left out: its status can only be STARTED here, and the file is
    republished once it has ended (by `mira run` itself, or the ops_refresh_after_run sensor),
    so the page never keeps a STARTED that Dagster has long called a success."""
    from dagster import DagsterEventType, DagsterRunStatus

    runs: list[Run] = []
    failures: list[Failure] = []
    if instance is None:
        return runs, failures
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        if run.run_id == running:
            continue
        runs.append(Run(run.run_id, run.job_name, run.status.value, _utc(record.start_time), _utc(record.end_time)))
        if run.status != DagsterRunStatus.FAILURE:
            continue
        step, cls = None, None
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
            data = entry.dagster_event.step_failure_data
            step, cls = entry.dagster_event.step_key, error_class(data.error if data else None)
            break
        if cls is None:   # the run failed outside any step (e.g. its process died)
            for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE):
                error = getattr(entry.dagster_event.event_specific_data, "error", None)
                cls = error_class(error) if error is not None else "RunFailure"
                break
        failures.append(Failure(run.run_id, run.job_name, _utc(record.end_time), step, cls or "RunFailure"))
    return runs, failures


_OPS_SQL = {
    "tenant_freshness": """
        SELECT f.tenant_id, max(f.ingested_at) AS last_ingest_at,
               (SELECT max(occurred_at) FROM raw.movements m WHERE m.tenant_id = f.tenant_id) AS last_movement_at,
               count(*) FILTER (f.status = 'loaded') AS files_loaded,
               count(*) FILTER (f.status = 'rejected') AS files_rejected,
               coalesce(sum(f.rows_loaded), 0) AS rows_loaded, coalesce(sum(f.rows_quarantined), 0) AS rows_quarantined
        FROM audit.files f GROUP BY f.tenant_id""",
    "quarantine_by_rule": """
        SELECT tenant_id, entity, rule_id, any_value(reason) AS reason, count(*) AS rows
        FROM quarantine.rows GROUP BY ALL""",
    "published": "SELECT now() AS published_at",
}


# Every Dagster run (status from the run storage) with the ingest figures of the runs that
# ingested; ingests recorded without a Dagster run (`mira ingest` in tests) keep a NULL status.
_RUNS_SQL = """
    SELECT coalesce(d.run_id, a.run_id) AS run_id, d.job, d.status,
           coalesce(d.started_at, a.started_at) AS started_at, coalesce(d.finished_at, a.finished_at) AS finished_at,
           a.files_ingested, a.rows_loaded, a.rows_quarantined
    FROM ops_copy.ops.dagster_runs d FULL OUTER JOIN audit.runs a ON a.run_id = d.run_id"""


def publish_ops(settings: Settings | None = None, instance=None, running: str | None = None) -> dict[str, int]:
    """Counts for the Operations page: no business data, no personal data (quarantine reasons are
    rule texts from the contracts, never a row's values; a failure is its step and error class,
    see above). `instance`: the Dagster instance whose runs to list (default:
    the one under MIRA_HOME); `running`: the run publishing, if any (see `read`)."""
    settings = settings or get_settings()
    if instance is None:
        with instance_for(settings) as found:
            runs, failures = read(found, running=running)
    else:
        runs, failures = read(instance, running=running)
    settings.serving_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.serving_dir / f"{TMP_PREFIX}{uuid.uuid4().hex}.duckdb"
    rows = {}
    try:
        with connect(settings=settings, read_only=True) as con:
            attach(con, tmp, "ops_copy", keys.file_key("ops", settings=settings))
            con.execute("CREATE SCHEMA ops_copy.ops")
            for table, sql in _OPS_SQL.items():
                con.execute(f"CREATE TABLE ops_copy.ops.{table} AS {sql}")
                rows[table] = con.execute(f"SELECT count(*) FROM ops_copy.ops.{table}").fetchone()[0]
            con.execute(f"CREATE TABLE ops_copy.ops.dagster_runs {RUNS_DDL}")
            con.execute(f"CREATE TABLE ops_copy.ops.failures {FAILURES_DDL}")
            if runs:
                con.executemany("INSERT INTO ops_copy.ops.dagster_runs VALUES (?, ?, ?, ?, ?)",
                                [astuple(r) for r in runs])
            if failures:
                con.executemany("INSERT INTO ops_copy.ops.failures VALUES (?, ?, ?, ?, ?)",
                                [astuple(f) for f in failures])
            con.execute(f"CREATE TABLE ops_copy.ops.runs AS {_RUNS_SQL}")
            con.execute("DROP TABLE ops_copy.ops.dagster_runs")
            for table in ("runs", "failures"):
                rows[table] = con.execute(f"SELECT count(*) FROM ops_copy.ops.{table}").fetchone()[0]
            detach(con, "ops_copy", tmp)
        swap_in(tmp, settings.serving_dir / OPS_FILE)
    finally:
        remove_leftovers(settings.serving_dir)
    return rows
