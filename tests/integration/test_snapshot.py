"""Safety net for restructuring: the code location and the command line, snapshotted.

Every asset key with its deps and group, every asset check, job (with its selection), schedule
and sensor; and the `--help` of every `mira` command. A change to any of them is a change users
see (the Dagster UI, run history keyed by asset, scripts calling `mira`), so it must be made on
purpose: regenerate with `MIRA_UPDATE_SNAPSHOTS=1 make test` and review the diff.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"


def _compare(name: str, actual) -> None:
    path = SNAPSHOTS / name
    text = json.dumps(actual, indent=1, sort_keys=True) + "\n"
    if os.environ.get("MIRA_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path.name}: run with MIRA_UPDATE_SNAPSHOTS=1 and review it"
    expected = json.loads(path.read_text())
    assert actual == expected, f"{path.name} changed: review, then regenerate with MIRA_UPDATE_SNAPSHOTS=1"


def code_location() -> dict:
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.path):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "pools": sorted(node.pools or []),
        }
    checks = sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys)
    jobs = {}
    for job in sorted(repo.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys) \
            if job.asset_layer else []
    schedules = {s.name: {"job": s.job_name, "cron": s.cron_schedule, "timezone": s.execution_timezone,
                          "status": s.default_status.value} for s in repo.schedule_defs}
    sensors = {s.name: {"jobs": sorted(t.job_name for t in s.targets), "status": s.default_status.value,
                        "interval": s.minimum_interval_seconds} for s in repo.sensor_defs}
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def test_code_location_is_unchanged():
    _compare("code_location.json", code_location())


def _commands(app) -> list[list[str]]:
    """Every command path of the typer app: [], ["run"], ["privacy", "erase"], ..."""
    import typer.main

    group = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd, path):
        paths.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, path + [name])

    walk(group, [])
    return paths


def test_cli_help_is_unchanged():
    from typer.testing import CliRunner

    from pipelines.cli.app import app

    runner = CliRunner()
    helps = {}
    for path in _commands(app):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120", "TERM": "dumb"})
        assert result.exit_code == 0, (path, result.output)
        helps[" ".join(["mira", *path])] = [re.sub(r"\s+$", "", ln) for ln in result.output.splitlines()]
    _compare("cli_help.json", helps)


def test_the_snapshot_fails_on_a_change(tmp_path, monkeypatch):
    """The comparison is not a tautology: a changed snapshot is reported."""
    monkeypatch.setitem(globals(), "SNAPSHOTS", tmp_path)
    monkeypatch.delenv("MIRA_UPDATE_SNAPSHOTS", raising=False)
    (tmp_path / "x.json").write_text(json.dumps({"a": 1}))
    _compare("x.json", {"a": 1})
    with pytest.raises(AssertionError, match="x.json changed"):
        _compare("x.json", {"a": 2})
