"""`dbt build` in the build step's own process, turned into Dagster events.

dagster-dbt's DbtCliResource starts dbt as a second Python process and reads its JSON log lines.
Per load that cost a new interpreter, dbt's imports, loading the parse and attaching the
encrypted warehouse before the first node: about 5 s of a one-tenant load's 14 s dbt step at 1M
movements, while dbt's own nodes took 8 s (benchmarks/README.md, freshness). dbtRunner runs the
same command here and hands each event to a callback; dagster-dbt's own event class turns the
result events into the same materializations and asset check results the subprocess gave.

One writer per file: dbt-duckdb keeps its DuckDB instance (with the warehouse attached
read-write) in a class attribute for the life of the process. It is closed after every
invocation, before the next step opens the warehouse: two instances in one process do not
exclude each other the way two processes do.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pipelines.settings import environment
from pipelines.transform.project import project

RESULT_EVENTS = frozenset({"LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"})


class DbtStepFailed(RuntimeError):
    """dbt could not build everything: which nodes failed, in words (never row data)."""


def selection_args(context, manifest: dict, translator) -> tuple[list[str], str | None, Path]:
    """The --select/--exclude (or --selector) arguments of the assets and checks this step was
    asked for (all of them in a full build), dbt's indirect selection when only some checks are
    selected, and the project folder to run (dagster-dbt writes a large selection into a
    selectors.yml of a temporary copy of the project)."""
    from dagster_dbt.core.resource import get_updated_cli_invocation_params_for_context

    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest=manifest, dagster_dbt_translator=translator,
        runtime_selects=[], runtime_excludes=[])
    folder = Path(params.dbt_project.project_dir) if params.dbt_project else project().project_dir
    return list(params.selection_args), params.indirect_selection, folder


def close_duckdb() -> None:
    """Close dbt-duckdb's process-wide DuckDB instance (and with it the warehouse)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if env is not None:
        env.close()


def invoke(args: Sequence[str], target: Path, log_path: Path, env: dict[str, str],
           on_event: Callable[[dict[str, Any]], None] | None = None,
           project_dir: Path | None = None) -> tuple[bool, list[dict[str, Any]], Any]:
    """Run `dbt <args>` here; returns (success, result events as dicts, dbt's result object)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    results: list[dict[str, Any]] = []

    def callback(msg) -> None:
        name = msg.info.name
        if name in RESULT_EVENTS or (on_event is not None and name == "NodeFinished"):
            event = msg_to_dict(msg)
            if name in RESULT_EVENTS:
                results.append(event)
            if on_event is not None:
                on_event(event)

    full = [*args, "--project-dir", str(project_dir or project().project_dir),
            "--profiles-dir", str(project().profiles_dir),
            "--target-path", str(target), "--log-path", str(log_path)]
    with environment({**env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}):
        try:
            outcome = dbtRunner(callbacks=[callback]).invoke(full)
        finally:
            close_duckdb()
    return outcome.success, results, outcome


def failure_summary(outcome) -> str:
    """One line: how many nodes failed and which (dbt's own messages can quote rows, so not those)."""
    if outcome.exception is not None:
        return f"dbt stopped: {type(outcome.exception).__name__}"
    failed = [r.node.unique_id for r in getattr(outcome.result, "results", []) or []
              if str(r.status) in ("error", "fail", "runtime error")]
    shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
    return f"dbt build failed: {len(failed)} node(s) failed: {shown}; details in the dbt log" if failed \
        else "dbt build failed; details in the dbt log"


def dagster_events(results: list[dict[str, Any]], manifest: dict, translator, context, target: Path) -> Iterator:
    """The Dagster events of dbt's result events (what dagster-dbt yields for a subprocess)."""
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

    for raw in results:
        yield from DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={}).to_default_asset_events(
            manifest=manifest, dagster_dbt_translator=translator, context=context, target_path=target)
