"""Engine benchmark: the same dbt build on DuckDB and on Spark (local, this machine), full and incremental.

Generates N movements (default 1M) over a year ending on day D, moves day D's movements into one
file per tenant, ingests the rest once (contracts, quarantine, pseudonyms: the same raw tables
for both engines), then in one run, for each engine (MIRA_ENGINE=duckdb, then spark):
  full        : `dbt build --full-refresh` of every model and data test, on the raw tables of the
                year before D (Spark: the raw layer exported to the lake first and the marts copied
                back into the warehouse after, both counted: what a Spark build costs the pipeline);
  incremental : day D of every tenant ingested (not counted), then `dbt build` (incremental).
Each build runs in its own process (pipelines.transform.project.run_dbt_build), as `mira run`
pays it: Spark's start-up (a JVM, a local[2] session) is included. Every figure is the median of
--repeat builds, each incremental one from the same state (the home after a full build, copied
back). The load average (`uptime`) before and after each engine is recorded, and the results go
to benchmarks/results/engines_<n>.json.

    .venv/bin/python benchmarks/engines.py --movements 1000000
    .venv/bin/python benchmarks/engines.py --movements 200000 --repeat 3 --work /var/tmp/engines
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from common import parser, split_last_day  # benchmarks/common.py, beside this script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's pipelines, whatever the venv's editable install points at
RESULTS = REPO / "benchmarks" / "results"
LAST_DAY = date(2026, 10, 30)
MASTER_KEY = "engines-benchmark-master-key-" + "0" * 40
ENGINES = ("duckdb", "spark")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def point_at(home: Path, engine: str) -> None:
    os.environ.update(MIRA_HOME=str(home), MIRA_LANDING=str(home / "landing"), MIRA_MASTER_KEY=MASTER_KEY,
                      MIRA_ENGINE=engine, GX_ANALYTICS_ENABLED="false", DAGSTER_DISABLE_TELEMETRY="1")


def timed_build(home: Path, full_refresh: bool) -> float:
    from pipelines.transform.project import run_dbt_build

    t0 = time.perf_counter()
    run_dbt_build(home, full_refresh=full_refresh)
    return time.perf_counter() - t0


def restore(snapshot: Path, home: Path) -> None:
    shutil.rmtree(home)
    shutil.copytree(snapshot, home)


def main() -> None:
    ap = parser(__doc__, tenants=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated; empty: only generate and ingest")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mira-engines-"))
    work.mkdir(parents=True, exist_ok=True)
    from pipelines.generate import generate
    from pipelines.ingest.load import ingest
    from pipelines.warehouse import connect

    start = work / "ingested"
    day_dir = work / "day"
    if not (start / "warehouse.duckdb").exists():
        shutil.rmtree(work / "landing", ignore_errors=True)
        per_day = max(1, round(args.movements / (args.tenants * args.days * 0.70)))  # as freshness.py
        generate(work / "landing", tenants=args.tenants, days=args.days, seed=7, movements_per_day=per_day,
                 end_date=LAST_DAY)
        shutil.rmtree(day_dir, ignore_errors=True)
        split_last_day(work / "landing", LAST_DAY, day_dir)
        shutil.rmtree(start, ignore_errors=True)
        start.mkdir()
        shutil.copytree(work / "landing", start / "landing")
        point_at(start, "duckdb")
        ingest()
    point_at(start, "duckdb")
    with connect(read_only=True) as con:
        movements = con.execute("SELECT count(*) FROM raw.movements").fetchone()[0]
        tenants = con.execute("SELECT count(DISTINCT tenant_id) FROM raw.movements").fetchone()[0]
    day_rows = sum(1 for f in day_dir.rglob("*.csv") for _ in open(f)) - sum(1 for _ in day_dir.rglob("*.csv"))
    print(f"{movements} movements of {tenants} tenants ingested; day {LAST_DAY}: {day_rows} movements", flush=True)

    results: dict = {"movements": movements, "tenants": tenants, "day_movements": day_rows,
                     "repeat": args.repeat, "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                     "engines": {}}
    for engine in [e for e in args.engines.split(",") if e]:
        home, built = work / engine, work / f"{engine}-built"
        for folder in (home, built):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(start, home)
        point_at(home, engine)
        load_before = uptime()
        full = []
        for i in range(args.repeat):
            full.append(timed_build(home, full_refresh=True))
            print(f"{engine} full build {i + 1}/{args.repeat}: {full[-1]:.1f} s", flush=True)
        shutil.copytree(home, built)
        incremental = []
        for i in range(args.repeat):
            if i:
                restore(built, home)
            shutil.copytree(day_dir, home / "landing", dirs_exist_ok=True)
            ingest()
            incremental.append(timed_build(home, full_refresh=False))
            print(f"{engine} incremental build {i + 1}/{args.repeat}: {incremental[-1]:.1f} s", flush=True)
        results["engines"][engine] = {
            "full_s": full, "incremental_s": incremental,
            "full_median_s": round(statistics.median(full), 1),
            "incremental_median_s": round(statistics.median(incremental), 1),
            "uptime_before": load_before, "uptime_after": uptime(),
        }
        shutil.rmtree(built, ignore_errors=True)
    if set(ENGINES) <= set(results["engines"]):
        d, s = results["engines"]["duckdb"], results["engines"]["spark"]
        results["spark_over_duckdb"] = {"full": round(s["full_median_s"] / d["full_median_s"], 1),
                                        "incremental": round(s["incremental_median_s"] / d["incremental_median_s"], 1)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"engines_{movements}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
