"""The Dagster code location loads, with the assets, checks, job, sensor and schedule it promises."""
from dagster import AssetKey

from pipelines.contracts import ENTITIES


def test_definitions_load():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    keys = set(repo.asset_graph.get_all_asset_keys())
    for e in ENTITIES:
        assert AssetKey(["raw", e]) in keys
    assert any(k.path[-1] == "fct_material_usage_daily" for k in keys)
    check_names = {(c.asset_key, c.name) for c in repo.asset_graph.asset_check_keys}
    for e in ENTITIES:
        for name in ("contract_rows", "reconciliation", "great_expectations"):
            assert (AssetKey(["raw", e]), name) in check_names
    assert defs.resolve_job_def("full_build") is not None
    assert defs.get_sensor_def("landing_sensor") is not None
    assert defs.get_schedule_def("nightly_full_build") is not None


def test_sensor_fires_on_new_files_only(mira_home, landing_on_both):
    """On a landing folder and on a Blob Storage container (Azurite) alike."""
    from dagster import build_sensor_context

    from pipelines.definitions import defs

    sensor = defs.get_sensor_def("landing_sensor")
    landing = landing_on_both
    (landing / "acme/movements").mkdir(parents=True)
    (landing / "acme/movements/a.csv").write_text("x\n")
    ctx = build_sensor_context(cursor=None)
    first = sensor.evaluate_tick(ctx)
    assert len(first.run_requests) == 1
    again = sensor.evaluate_tick(build_sensor_context(cursor=first.cursor))
    assert again.run_requests == []
    (landing / "acme/movements/b.csv").write_text("y\n")
    third = sensor.evaluate_tick(build_sensor_context(cursor=first.cursor))
    assert len(third.run_requests) == 1
    (landing / "acme/movements/.upload.csv").write_text("z\n")      # an upload in progress: nothing new
    assert sensor.evaluate_tick(build_sensor_context(cursor=third.cursor)).run_requests == []


def test_sensor_and_schedule_run_without_anyone_switching_them_on():
    from dagster import DefaultScheduleStatus, DefaultSensorStatus

    from pipelines.definitions import defs

    assert defs.get_sensor_def("landing_sensor").default_status == DefaultSensorStatus.RUNNING
    assert defs.get_schedule_def("nightly_full_build").default_status == DefaultScheduleStatus.RUNNING


def test_the_code_location_loads_every_job_as_dagster_dev_does():
    """`dagster dev` loads every job of the repository at once; in-process runs of one job do not,
    so a clash between jobs (two op definitions of the same name) only shows here."""
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    repo.load_all_definitions()
    names = {j.name for j in repo.get_all_jobs()}
    assert {"full_build", "retention", "privacy_erase", "privacy_export"} <= names
