"""The `mira` command line: exit codes, one-line errors, JSON status, read-only SQL."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipelines.ingest.load import ingest
from tests.conftest import write_csv
from tests.factories import MOVEMENT_FIELDS, movement


def mira(*args: str, env_home=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def ingested(mira_home, landing):
    write_csv(landing / "acme/movements/m.csv", MOVEMENT_FIELDS, [movement("M1"), movement("M2", quantity="x")])
    write_csv(landing / "beta/movements/m.csv", MOVEMENT_FIELDS, [movement("M1", tenant="beta")])
    ingest()
    return mira_home


def test_status_json_has_exactly_the_documented_keys(ingested):
    res = mira("status", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert rows == [
        {"tenant_id": "acme", "entity": "movements", "files": 1, "rows_read": 2, "rows_loaded": 1, "rows_quarantined": 1},
        {"tenant_id": "beta", "entity": "movements", "files": 1, "rows_read": 1, "rows_loaded": 1, "rows_quarantined": 0},
    ]
    human = mira("status")
    assert human.returncode == 0 and "acme" in human.stdout and "last run" in human.stdout


def test_sql_returns_csv_and_refuses_writes(ingested):
    res = mira("sql", "SELECT tenant_id, count(*) AS n FROM raw.movements GROUP BY 1 ORDER BY 1")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["tenant_id,n", "acme,1", "beta,1"]
    for bad in ("DELETE FROM raw.movements", "CREATE TABLE x AS SELECT 1", "SELECT 1; DROP TABLE raw.movements",
                "COPY raw.movements TO 'out.csv'", "ATTACH 'other.duckdb' AS o"):
        res = mira("sql", bad)
        assert res.returncode == 1, bad
        assert res.stderr.strip().startswith("error:") and len(res.stderr.strip().splitlines()) == 1
        assert "Traceback" not in res.stderr
    res = mira("sql", "SELECT * FROM read_csv('/etc/hostname')")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert mira("sql", "SELECT count(*) FROM raw.movements").stdout.splitlines()[1] == "2"


@pytest.mark.parametrize("args", [
    ("status",), ("sql", "SELECT 1"), ("run", "--landing", "/nonexistent/landing"),
    ("generate", "--tenants", "0"), ("generate", "--format", "xml"), ("generate", "--end-date", "yesterday"),
])
def test_errors_are_one_line_without_traceback(mira_home, args):
    res = mira(*args)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stderr.strip()


def test_debug_shows_the_traceback(mira_home):
    res = mira("--debug", "status")
    assert res.returncode != 0 and "Traceback" in res.stderr


def test_contracts_command_prints_the_landing_format():
    res = mira("contracts")
    assert res.returncode == 0 and "#### `movements`" in res.stdout and "direct identifier" in res.stdout
