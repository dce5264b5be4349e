"""Runs and failures for the Operations page, read from Dagster's run storage at publish time.

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
access. The failure alerts (pipelines/alerts.py) keep their masked first line for the same
reason they exist: a pager needs words.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from pipelines.settings import Settings

MAX_RUNS = 200
RUNS_DDL = """(run_id VARCHAR, job VARCHAR, status VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ)"""
FAILURES_DDL = """(run_id VARCHAR, job VARCHAR, failed_at TIMESTAMPTZ, failed_step VARCHAR, error_class VARCHAR)"""

# Dagster wraps what a step raised; the class worth showing is the step's own exception.
_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


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


def error_class(error) -> str:
    """The class name of the step's own error (unwrapping Dagster's wrappers)."""
    while error is not None and error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    return (error.cls_name if error is not None and error.cls_name else None) or "UnknownError"


@contextmanager
def instance_for(settings: Settings) -> Iterator[object | None]:
    """The Dagster instance under MIRA_HOME, or None when there has been no run there."""
    if not (settings.dagster_home / "dagster.yaml").exists():
        yield None
        return
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        yield instance


def read(instance, limit: int = MAX_RUNS) -> tuple[list[Run], list[Failure]]:
    """The last `limit` runs (newest first) and a Failure for each failed one."""
    from dagster import DagsterEventType, DagsterRunStatus

    runs: list[Run] = []
    failures: list[Failure] = []
    if instance is None:
        return runs, failures
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
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
