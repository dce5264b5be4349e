"""`mira export` (marts to Parquet, from the analyst snapshot unless --warehouse) and `mira docs`."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

import duckdb
import pytest

from pipelines.warehouse import open_file


def mira(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=120)


def make_db(path, sql: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_file(path) as con:
        con.execute(sql)


@pytest.fixture
def published(mira_home):
    """A warehouse and an analyst snapshot that differ, so the tests can tell which one was read."""
    make_db(mira_home / "warehouse.duckdb", """
        CREATE SCHEMA raw; CREATE TABLE raw.movements AS SELECT 'secret' AS note;
        CREATE SCHEMA marts;
        CREATE TABLE marts.dim_things AS SELECT range AS id FROM range(5);
        CREATE TABLE marts.fct_only_in_warehouse AS SELECT 1 AS n;
    """)
    make_db(mira_home / "serving" / "analyst.duckdb", """
        CREATE SCHEMA marts;
        CREATE TABLE marts.dim_things AS SELECT range AS id, 'pseudo-' || range AS user_pseudonym FROM range(3);
        CREATE TABLE marts."fct daily" AS SELECT DATE '2026-10-01' AS usage_date, 2.5::DECIMAL(18, 4) AS qty;
    """)
    return mira_home


def parquet(path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()


def test_export_writes_every_mart_of_the_snapshot(published, tmp_path):
    dest = tmp_path / "out" / "marts"
    res = mira("export", "--to", str(dest))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["dim_things.parquet", "fct daily.parquet"]
    assert parquet(dest / "dim_things.parquet") == [(i, f"pseudo-{i}") for i in range(3)]
    (row,) = parquet(dest / "fct daily.parquet")
    assert str(row[0]) == "2026-10-01" and float(row[1]) == 2.5
    assert "dim_things.parquet: 3 rows" in res.stdout and "wrote 2 files" in res.stdout
    assert "exporting marts from analyst.duckdb" in res.stderr and "2/2" in res.stderr  # the progress bar


def test_export_from_the_warehouse_takes_marts_only(published, tmp_path):
    dest = tmp_path / "from-warehouse"
    res = mira("export", "--warehouse", "--to", str(dest))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["dim_things.parquet", "fct_only_in_warehouse.parquet"]
    assert len(parquet(dest / "dim_things.parquet")) == 5


def test_export_overwrites_a_previous_export(published, tmp_path):
    dest = tmp_path / "again"
    dest.mkdir()
    (dest / "dim_things.parquet").write_text("stale")
    assert mira("export", "--to", str(dest)).returncode == 0
    assert len(parquet(dest / "dim_things.parquet")) == 3
    assert not list(dest.glob(".*"))  # no temporary files left


@pytest.mark.parametrize("case", ["nothing_built", "target_is_a_file", "no_marts"])
def test_export_errors_are_one_line(mira_home, tmp_path, case):
    target = tmp_path / "dest"
    if case == "target_is_a_file":
        make_db(mira_home / "serving" / "analyst.duckdb", "CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT 1 x")
        target.write_text("a file")
    if case == "no_marts":
        make_db(mira_home / "serving" / "analyst.duckdb", "CREATE TABLE t AS SELECT 1 x")
    res = mira("export", "--to", str(target))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr and res.stderr.strip().splitlines()[-1].startswith("error:")
    assert len([ln for ln in res.stderr.splitlines() if ln.startswith("error:")]) == 1
    assert not list(tmp_path.glob("dest/*.parquet"))
    if case != "target_is_a_file":
        assert not target.exists()  # nothing exported, no folder made


def test_docs_refuses_without_a_warehouse_and_creates_none(mira_home):
    res = mira("docs")
    assert res.returncode == 1 and "mira run" in res.stderr and "Traceback" not in res.stderr
    assert not (mira_home / "warehouse.duckdb").exists()


def test_docs_are_generated_under_mira_home_and_served(published):
    home = published
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "docs", "--serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.time() + 90
        url = None
        while time.time() < deadline and url is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := re.search(r"serving (http://127\.0\.0\.1:\d+)/index\.html", line):
                url = m.group(1)
        assert url, "".join(lines)
        index = home / "dbt" / "docs" / "index.html"
        assert f"docs: {index}" in "".join(lines)
        assert (home / "dbt" / "docs" / "static_index.html").exists()
        with urllib.request.urlopen(f"{url}/index.html", timeout=10) as r:
            assert r.status == 200 and b"dbt" in r.read()
        with urllib.request.urlopen(f"{url}/manifest.json", timeout=10) as r:
            manifest = json.load(r)
        marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"]
        assert marts and all(n["description"] for n in marts)  # marts are documented
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
