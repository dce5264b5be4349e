"""Running Dagster jobs in this process, and reading why they failed: one way, used by every caller.

`mira run`, `mira privacy ...`, `mira privacy retention` and the tests execute jobs in process
(the in-process executor keeps one writer on the warehouse), recorded in the Dagster instance
under MIRA_HOME so the UI, the daemon and the CLI share one run history. Each caller used to do
this itself, and the copies had drifted (one unwrapped Dagster's error wrappers, one did not).

The job definition is passed in: this module never imports the code location, so nothing that
runs a job needs the dbt manifest unless the job itself does.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from pipelines.settings import Settings, get_settings

DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""
# Dagster wraps what a step raised ("Error occurred while executing op ..."); what ops need is
# the step's own exception, the wrapper's cause.
_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def prepare_dagster_home(settings: Settings | None = None) -> str:
    """Create DAGSTER_HOME (with a one-writer pool limit) and export it with absolute MIRA_HOME."""
    settings = settings or get_settings()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["MIRA_HOME"] = str(settings.home)
    return str(home)


@contextmanager
def instance_for(settings: Settings) -> Iterator[Any | None]:
    """The Dagster instance under MIRA_HOME, or None when there has been no run there."""
    if not (settings.dagster_home / "dagster.yaml").exists():
        yield None
        return
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        yield instance


def user_error(error):
    """The step's own error inside Dagster's wrappers (a SerializableErrorInfo, or None)."""
    while error is not None and error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    return error


def error_class(error) -> str:
    """The class name of the step's own error."""
    error = user_error(error)
    return (error.cls_name if error is not None and error.cls_name else None) or "UnknownError"


def error_message(error) -> str:
    """The first line of the step's own error, without the `ClassName: ` Dagster puts before it."""
    error = user_error(error)
    if error is None:
        return ""
    first = (error.message or "").strip().splitlines()[0] if (error.message or "").strip() else ""
    head, sep, rest = first.partition(": ")
    return rest if sep and error.cls_name and head.endswith(error.cls_name) else first


@dataclass
class JobOutcome:
    run_id: str
    success: bool
    failed_step: str | None
    error: str | None          # first line of the failing step's own error; None on success
    result: Any                # Dagster's ExecuteInProcessResult, for outputs and check evaluations
    step_seconds: dict[str, float] = field(default_factory=dict)   # step key -> start to end
    warnings: list[str] = field(default_factory=list)   # what steps logged as warnings, for the CLI's summary

    @property
    def failure(self) -> str:
        """One line for the user: the failing step and its error."""
        if self.success:
            return ""
        if self.failed_step:
            return f"step {self.failed_step}: {self.error}"
        return self.error or "see the Dagster UI"


def first_failure(result) -> tuple[str | None, str | None]:
    """(step, first line of its own error) of the first failed step of a run result."""
    for ev in result.all_events:
        if ev.is_step_failure and ev.step_failure_data and ev.step_failure_data.error:
            return ev.step_key, error_message(ev.step_failure_data.error)
    return None, None


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def execute(job, run_config: dict | None = None, *, stdout_to: Path | None = None,
            settings: Settings | None = None, say: Callable[[str], None] = _to_stderr,
            holding_lock: bool = False) -> JobOutcome:
    """Execute `job` in this process, recorded in the instance under MIRA_HOME; never raises
    for a failed step (the outcome says what failed). `stdout_to`: a log file that takes what
    steps print (dbt's console output), so it does not garble the CLI's progress bars.

    First, what dead runs still hold (a pool slot above all, which would make this run wait for
    ever) is recovered, each in one line to `say` (pipelines.recovery); the run holds a lock of
    its own while this process executes it, so that the next one can tell whether it died. `holding_lock`: the caller
    holds the home's build lock (`mira run`), so leftover temporary files may go too."""
    settings = settings or get_settings()
    prepare_dagster_home(settings)
    from dagster import DagsterInstance

    from pipelines import recovery

    instance = DagsterInstance.get()
    try:
        for line in recovery.recover(instance, settings, holding_lock=holding_lock):
            say(line)
        with contextlib.ExitStack() as stack:
            if stdout_to is not None:
                stdout_to.parent.mkdir(parents=True, exist_ok=True)
                log = stack.enter_context(open(stdout_to, "a", encoding="utf-8"))
                stack.enter_context(contextlib.redirect_stdout(log))
            run_id = str(uuid.uuid4())
            stack.enter_context(recovery.holding_run(settings, run_id))
            result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config or {},
                                            run_id=run_id, tags=recovery.owner_tags())
        seconds = step_seconds(instance, result.run_id)
        warned = [e.user_message for e in instance.all_logs(result.run_id)
                  if e.dagster_event is None and e.level == logging.WARNING]
    finally:
        instance.dispose()
    step, error = (None, None) if result.success else first_failure(result)
    return JobOutcome(result.run_id, result.success, step, error if not result.success else None, result, seconds,
                      warned)


def step_seconds(instance, run_id: str) -> dict[str, float]:
    """Each step's time from its start to its end (success, failure or skip), from the event log."""
    from dagster import DagsterEventType

    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE,
             DagsterEventType.STEP_SKIPPED}
    start: dict[str, float] = {}
    out: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=kinds):
        key = entry.step_key
        if entry.dagster_event.event_type == DagsterEventType.STEP_START:
            start[key] = entry.timestamp
        elif key in start:
            out[key] = round(entry.timestamp - start[key], 2)
    return out
