"""The Operations page lists the last failed runs from Dagster's run storage (step and error
class, a link to the run) and every run's status, and never an error's message: messages can
quote personal data, keys or paths."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import point_at
from tests.dashboards.conftest import dataframes, login, page_text

SECRET_EMAIL = "jane.doe@example.com"
SECRET_PATH = "/home/jdoe/exports/payroll.csv"
SECRET_KEY = "sk_live_4f2a9c0e7b1d"


@pytest.fixture
def ops_home(dash, tmp_path, monkeypatch):
    """A copy of the dashboards' home (its ops file gets replaced here)."""
    home = tmp_path / "mira"
    shutil.copytree(dash.home, home)
    return point_at(monkeypatch, home)


def failing_run(instance) -> str:
    from dagster import job, op

    @op
    def read_people_export():
        raise ValueError(f"cannot parse {SECRET_EMAIL} in {SECRET_PATH} (api key {SECRET_KEY})")

    @op
    def fine():
        return 1

    @job
    def nightly_import():
        fine()
        read_people_export()

    result = nightly_import.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return result.run_id


def test_a_failed_run_shows_with_its_step_class_and_link_and_no_message(dash, ops_home):
    from dagster import DagsterInstance

    from dashboards.data import operations
    from pipelines.serving import files as serving
    from pipelines.serving.ops_file import publish_ops
    from pipelines.settings import get_settings

    with DagsterInstance.ephemeral() as instance:
        run_id = failing_run(instance)
        rows = publish_ops(instance=instance)
    assert rows["failures"] == 1

    failures = operations.ops_failures()
    assert failures[["run_id", "job", "failed_step", "error_class"]].values.tolist() == \
        [[run_id, "nightly_import", "read_people_export", "ValueError"]]
    runs = operations.ops_runs()
    assert runs.loc[runs["run_id"] == run_id, "status"].tolist() == ["FAILURE"]
    assert str(failures["failed_at"].dt.tz) == "UTC"

    at = login(dash.ops)
    assert not at.exception, [e.value for e in at.exception]
    [shown] = [df for df in dataframes(at) if "error_class" in df.columns]
    assert shown["failed_step"].tolist() == ["read_people_export"]
    assert shown["link"].tolist() == [f"{get_settings().dagster_url}/runs/{run_id}"]
    assert any("1 failed run" in e.value for e in at.error)
    text = page_text(at)
    blob = serving.ops_path().read_bytes()
    for secret in (SECRET_EMAIL, "jane.doe", SECRET_PATH, "payroll", SECRET_KEY, "cannot parse"):
        assert secret not in text
        assert secret.encode() not in blob
    with serving.open_ops() as con:    # decrypted, every text cell
        cells = con.execute("""SELECT string_agg(CAST(COLUMNS(*) AS VARCHAR), ' ') FROM ops.failures""").fetchall()
    assert not any(SECRET_EMAIL in str(c) or SECRET_KEY in str(c) for c in cells)


def test_no_failure_says_so(dash, ops_home):
    from dagster import DagsterInstance

    from pipelines.serving import files as serving
    from pipelines.serving.ops_file import publish_ops

    with DagsterInstance.ephemeral() as instance:
        publish_ops(instance=instance)
    at = login(dash.ops)
    assert not at.exception
    assert any("No failed run" in s.value for s in at.success)
    assert not [df for df in dataframes(at) if "error_class" in df.columns]
