"""Dagster side of the data-subject rights: one job per right, and the `privacy/restrictions` asset.

Each job runs one recorded request; its run config carries the request id and nothing else (the
user id, names and values stay in the vault, so neither run configs nor event logs hold them).
Ops can resume a failed request from the UI by launching its job with the same id.

`privacy/restrictions` runs after the marts and before the analyst snapshot in every build: it
refreshes the warehouse's list of restricted pseudonyms from the vault (the snapshot masks them)
and re-keys any tombstoned pseudonym that a build brought back.
"""

from dataclasses import dataclass, field

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Field,
    MaterializeResult,
    Nothing,
    OpExecutionContext,
    Out,
    Output,
    asset,
    in_process_executor,
    job,
    op,
)

from pipelines.ingest.assets import WAREHOUSE_POOL
from pipelines.privacy import rights
from pipelines.publish import mart_keys

RESTRICTIONS_KEY = AssetKey(["privacy", "restrictions"])
REQUEST_OP = "execute_request"
# The CLI runs these in its own process and prints its own one-line outcome; the event log (UI) has all.
# Dagster builds loggers only from run config, so the level is a default of the job's config; the
# request id defaults to empty only so that this default is complete (an empty id is refused).
_DEFAULT_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

_DESCRIPTIONS = {
    "export": "Access and portability: everything held on one person, as JSON and CSV for the controller.",
    "rectify": "Rectification: an identity field (first name, last name, email) corrected in the vault.",
    "erase": "Erasure: identity deleted, warehouse rows re-keyed to a random token, landing files purged, "
             "tombstone recorded, analyst snapshot republished.",
    "restrict": "Restriction (and objection): the person leaves every published mart that shows individuals.",
    "unrestrict": "Lifts a restriction: the person is shown again from the next publish (done now).",
}


def job_name(kind: str) -> str:
    return f"privacy_{kind}"


def run_config(request_id: str) -> dict:
    """The whole run config of a request's job: its id, nothing else."""
    return {"ops": {REQUEST_OP: {"config": {"request_id": request_id}}}}


# One op definition shared by every request job: Dagster refuses two different op definitions
# with the same name in one code location. The job's tag tells the op which kind it runs.
@op(name=REQUEST_OP, config_schema={"request_id": Field(str, default_value="")}, pool=WAREHOUSE_POOL,
    out=Out(Nothing), description="Runs (or resumes) one recorded data-subject request, by id.")
def execute_request(context: OpExecutionContext):
    kind = context.run.tags.get("mira/privacy")
    request_id = context.op_config["request_id"]
    if not request_id:
        raise rights.RequestError("no request id in the run config (ops.execute_request.config.request_id)")
    request = rights.load_request(request_id)
    if request.kind != kind:
        raise rights.RequestError(f"request {request_id} is a {request.kind} request, not {kind}: "
                                  f"run job {job_name(request.kind)}")
    counts = rights.execute(request_id, log=context.log.info)
    yield Output(None, metadata={"request_id": request_id, "rows": sum(counts.values()),
                                   **{f"rows.{k}": v for k, v in counts.items()}})


def _make_job(kind: str):
    @job(name=job_name(kind), description=_DESCRIPTIONS[kind], executor_def=in_process_executor,
         config={**_DEFAULT_CONFIG, **run_config("")}, tags={"mira/privacy": kind})
    def request_job():
        execute_request()

    return request_job


privacy_jobs = [_make_job(kind) for kind in rights.KINDS]
JOBS = {kind: j for kind, j in zip(rights.KINDS, privacy_jobs)}


@asset(
    key=RESTRICTIONS_KEY,
    deps=mart_keys(),
    pool=WAREHOUSE_POOL,
    group_name="privacy",
    kinds={"duckdb"},
    description="Restricted subjects (pseudonyms only) copied from the vault into privacy.restricted_subjects, "
    "which the analyst snapshot masks; tombstoned pseudonyms a build brought back are re-keyed.",
)
def restrictions(context: AssetExecutionContext) -> MaterializeResult:
    result = rights.sync_restrictions()
    context.log.info(f"{result['restricted_subjects']} restricted subjects; "
                     f"{result['rows_rekeyed']} rows of erased subjects re-keyed")
    return MaterializeResult(metadata=result)


privacy_assets = [restrictions]


@dataclass
class RequestRun:
    request_id: str
    run_id: str
    success: bool
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def run_request(request_id: str) -> RequestRun:
    """Run a recorded request's job in this process, recorded in the Dagster instance under MIRA_HOME."""
    from dagster import DagsterInstance

    from pipelines.instance import prepare_dagster_home

    request = rights.load_request(request_id)
    prepare_dagster_home()
    instance = DagsterInstance.get()
    try:
        result = JOBS[request.kind].execute_in_process(run_config=run_config(request_id), instance=instance,
                                                         raise_on_error=False)
    finally:
        instance.dispose()
    error = None
    if not result.success:
        for ev in result.all_events:
            if ev.is_step_failure and ev.step_failure_data and ev.step_failure_data.error:
                err = ev.step_failure_data.error
                while err.cause is not None and err.cls_name in ("DagsterExecutionStepExecutionError",
                                                                  "DagsterUserCodeExecutionError"):
                    err = err.cause
                error = err.message.strip().splitlines()[0]
                error = error.split(": ", 1)[1] if error.split(": ", 1)[0].endswith(err.cls_name) else error
                break
        error = error or "see the Dagster UI"
    after = rights.load_request(request_id)
    return RequestRun(request_id, result.run_id, result.success, after.counts, error)
