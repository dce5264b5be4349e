"""Ops: failure alerts reach a webhook, freshness checks cover every mart, retention deletes old
logs, and everything that writes the warehouse shares the one-writer pool."""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    TimestampMetadataValue,
    build_sensor_context,
    define_asset_job,
    job,
    op,
)


@pytest.fixture
def instance(mira_home):
    """A persistent Dagster instance under the test's MIRA_HOME, like `mira run` and the daemon use."""
    from pipelines.runs import prepare_dagster_home

    prepare_dagster_home()
    with DagsterInstance.get() as inst:
        yield inst


@pytest.fixture
def receiver():
    """A local webhook: records every POSTed JSON body."""
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/mira", got
    server.shutdown()
    server.server_close()


@op
def load_step():
    # A DuckDB-style message that quotes a value: the alert must not carry it.
    raise RuntimeError("Conversion Error: Could not convert string 'Jane Doe' to INT32\nsecond line with details")


@job
def doomed():
    load_step()


# --- failure alerts -------------------------------------------------------------------------

def test_failed_run_alert_reaches_the_webhook_and_the_log(instance, receiver, mira_home, monkeypatch):
    from pipelines.definitions import defs

    url, got = receiver
    monkeypatch.setenv("MIRA_ALERT_WEBHOOK", url)
    monkeypatch.setenv("MIRA_DAGSTER_URL", "http://127.0.0.1:3999/")
    sensor = defs.get_sensor_def("run_failure_alert")

    # As the daemon does: a first tick sets the cursor, later ticks see the runs that failed since.
    # The daemon's context names the code location's repository; a run executed in process (as
    # `mira run` does) names none, and must still be reported.
    daemon_like = {"instance": instance, "repository_name": "__repository__"}
    first = sensor.evaluate_tick(build_sensor_context(**daemon_like))
    result = doomed.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    tick = sensor.evaluate_tick(build_sensor_context(**daemon_like, cursor=first.cursor))
    assert tick.run_requests == []    # no warehouse yet: no ops file to refresh

    assert len(got) == 1, got
    alert = got[0]["json"]
    assert got[0]["path"] == "/hooks/mira" and got[0]["content_type"] == "application/json"
    assert alert["run_id"] == result.run_id and alert["job"] == "doomed" and alert["kind"] == "run_failure"
    assert alert["failed_step"] == "load_step"
    assert alert["error"] == "RuntimeError: Conversion Error: Could not convert string '…' to INT32"
    assert alert["run_url"] == f"http://127.0.0.1:3999/runs/{result.run_id}"
    assert alert["time"].endswith("+00:00")
    assert "Jane" not in json.dumps(alert)
    lines = (mira_home / "logs" / "alerts.jsonl").read_text().splitlines()
    assert [json.loads(ln) for ln in lines] == [alert]


def test_a_failed_run_reaches_the_ops_file_without_waiting_for_a_build(e2e, tmp_path, monkeypatch):
    """A failure starts `ops_refresh` (the sensor itself never opens the warehouse, which a build may
    be writing), and that run puts the failure in the ops file (step and error class, never the
    message) before the next build. A failed ops_refresh asks for nothing: no loop."""
    import shutil

    from pipelines.definitions import defs
    from pipelines.runs import prepare_dagster_home
    from pipelines.ops.assets import OPS_REFRESH_JOB, ops_refresh_request
    from pipelines.serving.files import open_ops
    from tests.conftest import point_at

    home = tmp_path / "mira"
    shutil.copytree(e2e[0], home, ignore=shutil.ignore_patterns("landing", "dagster", "logs"))
    point_at(monkeypatch, home)
    prepare_dagster_home()
    with DagsterInstance.get() as inst:
        sensor = defs.get_sensor_def("run_failure_alert")
        daemon_like = {"instance": inst, "repository_name": "__repository__"}
        first = sensor.evaluate_tick(build_sensor_context(**daemon_like))
        result = doomed.execute_in_process(instance=inst, raise_on_error=False)
        tick = sensor.evaluate_tick(build_sensor_context(**daemon_like, cursor=first.cursor))
        assert [(r.job_name, r.run_key) for r in tick.run_requests] == [
            (OPS_REFRESH_JOB, f"ops-refresh-after-{result.run_id}")]
        assert defs.resolve_job_def(OPS_REFRESH_JOB).execute_in_process(instance=inst).success
        refresh_run = inst.get_run_by_id(inst.get_run_records(limit=1)[0].dagster_run.run_id)
        assert refresh_run.job_name == OPS_REFRESH_JOB and ops_refresh_request(refresh_run) is None
    with open_ops() as con:
        failures = con.execute("SELECT run_id, job, failed_step, error_class FROM ops.failures").fetchall()
        status = con.execute("SELECT status FROM ops.runs WHERE run_id = ?", [result.run_id]).fetchall()
    assert failures == [(result.run_id, "doomed", "load_step", "RuntimeError")]
    assert status == [("FAILURE",)]
    assert b"Jane" not in (home / "serving" / "ops.duckdb").read_bytes()


def test_a_finished_run_reaches_the_ops_file_with_its_final_status(e2e, tmp_path, monkeypatch):
    """A run publishes the ops file while Dagster still calls it STARTED; the Operations page
    showed that STARTED long after the Dagster UI said succeeded. The publish leaves its own run
    out, and a success starts `ops_refresh`, which lists it as SUCCESS (and asks for nothing
    after itself: no loop)."""
    import shutil

    from pipelines.definitions import defs
    from pipelines.ops.assets import OPS_REFRESH_JOB
    from pipelines.runs import prepare_dagster_home
    from pipelines.serving.files import open_ops
    from tests.conftest import point_at

    @op
    def fine():
        return 1

    @job
    def weekly_report():
        fine()

    home = tmp_path / "mira"
    shutil.copytree(e2e[0], home, ignore=shutil.ignore_patterns("landing", "dagster", "logs"))
    point_at(monkeypatch, home)
    prepare_dagster_home()
    with DagsterInstance.get() as inst:
        sensor = defs.get_sensor_def("ops_refresh_after_run")
        assert sensor.default_status == DefaultSensorStatus.RUNNING
        daemon_like = {"instance": inst, "repository_name": "__repository__"}
        first = sensor.evaluate_tick(build_sensor_context(**daemon_like))
        done = weekly_report.execute_in_process(instance=inst)
        tick = sensor.evaluate_tick(build_sensor_context(**daemon_like, cursor=first.cursor))
        assert [(r.job_name, r.run_key) for r in tick.run_requests] == [
            (OPS_REFRESH_JOB, f"ops-refresh-after-{done.run_id}")]
        refresh = defs.resolve_job_def(OPS_REFRESH_JOB).execute_in_process(instance=inst)
        assert refresh.success
        again = sensor.evaluate_tick(build_sensor_context(**daemon_like, cursor=tick.cursor))
        assert not again.run_requests                 # ops_refresh's own success asks for nothing
    with open_ops() as con:
        runs = dict(con.execute("SELECT run_id, status FROM ops.runs WHERE job IS NOT NULL").fetchall())
    assert runs[done.run_id] == "SUCCESS"
    assert refresh.run_id not in runs                 # it was running while it published
    assert "STARTED" not in runs.values()


def test_successful_runs_raise_no_alert(instance, mira_home):
    from pipelines.definitions import defs

    @op
    def fine():
        return 1

    @job
    def happy():
        fine()

    sensor = defs.get_sensor_def("run_failure_alert")
    daemon_like = {"instance": instance, "repository_name": "__repository__"}
    first = sensor.evaluate_tick(build_sensor_context(**daemon_like))
    assert happy.execute_in_process(instance=instance).success
    sensor.evaluate_tick(build_sensor_context(**daemon_like, cursor=first.cursor))
    assert not (mira_home / "logs" / "alerts.jsonl").exists()


def test_unreachable_webhook_is_logged_not_raised(mira_home, monkeypatch):
    import socket

    from pipelines.ops import alerts

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MIRA_ALERT_WEBHOOK", f"http://127.0.0.1:{port}/")
    alert = alerts.make_alert("r1", "full_build", "raw_tables", "boom")
    assert alerts.send(alert) is False
    assert json.loads((mira_home / "logs" / "alerts.jsonl").read_text())["run_id"] == "r1"


def test_error_line_is_first_line_masked_and_capped():
    from pipelines.ops.alerts import MAX_ERROR_CHARS, error_line

    assert error_line("\n  first 'secret' and 'it''s'  \nsecond") == "first '…' and '…'"
    assert error_line(None) == "(no error message)"
    assert len(error_line("x" * 1000)) == MAX_ERROR_CHARS


def test_failure_sensor_runs_by_default():
    from pipelines.definitions import defs

    sensor = defs.get_sensor_def("run_failure_alert")
    assert sensor.default_status == DefaultSensorStatus.RUNNING


# --- freshness --------------------------------------------------------------------------------

def test_every_mart_and_the_snapshot_have_a_freshness_check():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    keys = repo.asset_graph.get_all_asset_keys()
    # every executable mart and serving asset; a tenant's file (serving/tenant_file, a partition per
    # tenant, only reported) is rewritten only when its data changes, so its age says nothing
    watched = {k for k in keys if k.path[0] in ("marts", "serving") and repo.asset_graph.get(k).is_executable}
    assert AssetKey(["serving", "analyst"]) in watched and len(watched) >= 3
    checked = {c.asset_key for c in repo.asset_graph.asset_check_keys if c.name == "freshness_check"}
    assert watched <= checked
    assert defs.get_sensor_def("freshness_checks_sensor").default_status == DefaultSensorStatus.RUNNING
    # the build runs them too: their sensor never re-runs a failed check, a refreshing run must clear it
    build_checks = defs.resolve_job_def("full_build").asset_layer.asset_graph.asset_check_keys
    assert {c.asset_key for c in build_checks if c.name == "freshness_check"} == checked


def test_freshness_sensor_evaluates_checks_against_the_26_hour_limit(instance):
    from pipelines.definitions import defs

    now = time.time()
    marts = [k for k in defs.get_repository_def().asset_graph.get_all_asset_keys() if k.path[0] == "marts"]
    for key in marts:
        instance.report_runless_asset_event(AssetMaterialization(
            key, metadata={"dagster/last_updated_timestamp": TimestampMetadataValue(now - 25 * 3600)}))
    instance.report_runless_asset_event(AssetMaterialization(
        AssetKey(["serving", "analyst"]),
        metadata={"dagster/last_updated_timestamp": TimestampMetadataValue(now - 27 * 3600)}))
    serving = [AssetKey(["serving", "tenants"]), AssetKey(["serving", "ops"])]   # never materialised here

    # What the daemon does: the sensor asks for a run of the checks; run it here.
    tick = defs.get_sensor_def("freshness_checks_sensor").evaluate_tick(
        build_sensor_context(instance=instance, definitions=defs))
    (request,) = tick.run_requests
    check_job = define_asset_job("freshness_now", selection=AssetSelection.checks(*request.asset_check_keys))
    result = Definitions.merge(defs, Definitions(jobs=[check_job])).resolve_job_def("freshness_now") \
        .execute_in_process(instance=instance)
    verdicts = {e.asset_key: e.passed for e in result.get_asset_check_evaluations()}
    assert verdicts == {**{k: True for k in marts}, AssetKey(["serving", "analyst"]): False,
                        **{k: False for k in serving}}


# --- retention --------------------------------------------------------------------------------

def _aged(path, days: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    past = time.time() - days * 86400
    os.utime(path, (past, past))
    return path


def test_retention_job_deletes_only_files_past_the_period(instance, mira_home, monkeypatch):
    from pipelines.definitions import defs

    old = [_aged(mira_home / "logs" / "dbt" / "dbt.log.1", 91), _aged(mira_home / "gx" / "movements" / "r1.json", 200)]
    young = [_aged(mira_home / "logs" / "mira-run.log", 89), _aged(mira_home / "gx" / "users" / "r2.json", 1)]
    outside = _aged(mira_home / "landing" / "acme" / "movements" / "m.csv", 400)  # not a log: never touched
    now = time.time()
    (mira_home / "logs" / "alerts.jsonl").write_text(
        json.dumps({"run_id": "a", "time": "2020-01-01T00:00:00+00:00"}) + "\n"
        + json.dumps({"run_id": "b", "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))}) + "\n")

    result = defs.resolve_job_def("retention").execute_in_process(instance=instance)
    assert result.success
    report = result.output_for_node("purge_expired")
    assert report == {"files_deleted.logs": 1, "files_deleted.gx": 1, "alert_lines_pruned": 1}
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in young) and outside.exists()
    kept = [json.loads(ln)["run_id"] for ln in (mira_home / "logs" / "alerts.jsonl").read_text().splitlines()]
    assert kept == ["b"]


def test_retention_period_comes_from_settings(mira_home, monkeypatch):
    from pipelines.privacy.retention import purge_expired_files

    monkeypatch.setenv("MIRA_LOG_RETENTION_DAYS", "7")
    f = _aged(mira_home / "logs" / "week-old.log", 8)
    assert purge_expired_files()["files_deleted.logs"] == 1 and not f.exists()
    assert purge_expired_files() == {"files_deleted.logs": 0, "files_deleted.gx": 0, "alert_lines_pruned": 0}


def test_retention_is_scheduled_daily_in_brussels_and_on_by_default():
    from pipelines.definitions import defs

    schedule = defs.get_schedule_def("daily_retention")
    assert schedule.job_name == "retention"
    assert schedule.execution_timezone == "Europe/Brussels"
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule.split()[2:] == ["*", "*", "*"]


# --- one writer -------------------------------------------------------------------------------

def test_every_asset_that_writes_the_warehouse_is_in_the_warehouse_pool():
    from pipelines.definitions import defs
    from pipelines.ingest.assets import WAREHOUSE_POOL

    writers = [a for a in defs.get_repository_def().asset_graph.assets_defs
               if a.is_executable and any(k.path[0] in ("raw", "staging", "marts", "serving") for k in a.keys)]
    covered = {k.path[0] for a in writers for k in a.keys}
    assert covered >= {"raw", "staging", "marts", "serving"}
    assert {a.op.name: a.op.pool for a in writers} == {a.op.name: WAREHOUSE_POOL for a in writers}


def test_the_instance_allows_one_slot_per_pool(instance):
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
