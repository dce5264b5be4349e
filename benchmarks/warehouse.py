"""Warehouse benchmark: full dbt build, incremental build after one more day, and the load floor.

Generates N movements (default 1M; the issue's size is 10M) ending on day D+1, moves day D+1's
movements into a file of their own, then in one run:
  floor        : DuckDB's CREATE TABLE AS SELECT * FROM read_csv of the movement files (load floor);
  ingest       : ingestion of days up to D (not part of the dbt figures, printed for context);
  full         : `dbt build` (models and tests) on a fresh warehouse: every incremental model built from scratch;
  incremental  : ingest day D+1's file, then `dbt build` again: incremental models touch only that day;
  full refresh : `dbt build --full-refresh` on the same data, for the ratio.
Prints medians over --repeat rounds of (full refresh, incremental) and their ratio, and writes
benchmarks/results/warehouse_<n>.json.

    .venv/bin/python benchmarks/warehouse.py --movements 1000000 --repeat 3
"""
from __future__ import annotations

import argparse
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

REPO = Path(__file__).resolve().parent.parent
DBT = Path(sys.executable).with_name("dbt")


def dbt_build(home: Path, *extra: str) -> float:
    args = [str(DBT), "build", "--quiet", "--project-dir", str(REPO / "dbt_project"),
            "--profiles-dir", str(REPO / "dbt_project"), "--target-path", str(home / "dbt" / "target"),
            "--log-path", str(home / "logs" / "dbt"), *extra]
    t0 = time.perf_counter()
    res = subprocess.run(args, env=dict(os.environ, MIRA_HOME=str(home)), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{(res.stdout + res.stderr)[-3000:]}")
    return seconds


def ingest(home: Path, landing: Path) -> float:
    code = "from pipelines.ingest.load import ingest; ingest()"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True,
                   env=dict(os.environ, MIRA_HOME=str(home), MIRA_LANDING=str(landing), PYTHONPATH=str(REPO)))
    return time.perf_counter() - t0


def split_last_day(landing: Path, day: date, day_dir: Path) -> int:
    """Move day's movements out of the monthly files into day_dir/<tenant>/movements/day.csv."""
    import duckdb

    con = duckdb.connect()
    moved = 0
    for f in sorted(landing.glob("*/movements/*.csv")):
        tenant = f.parts[-3]
        con.execute("CREATE OR REPLACE TABLE m AS SELECT * FROM read_csv(?, all_varchar=true, header=true)", [str(f)])
        n = con.execute("SELECT count(*) FROM m WHERE substr(occurred_at, 1, 10) = ?", [day.isoformat()]).fetchone()[0]
        if not n:
            continue
        out = day_dir / tenant / "movements"
        out.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT * FROM m WHERE substr(occurred_at, 1, 10) = '{day.isoformat()}') "
                    f"TO '{out / 'day.csv'}' (HEADER, DELIMITER ',')")
        con.execute(f"COPY (SELECT * FROM m WHERE substr(occurred_at, 1, 10) <> '{day.isoformat()}') "
                    f"TO '{f}' (HEADER, DELIMITER ',')")
        moved += n
    return moved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--movements", type=int, default=1_000_000)
    ap.add_argument("--tenants", type=int, default=5)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import duckdb

    from pipelines.generate import generate

    work = Path(tempfile.mkdtemp(prefix="mira-wh-bench-"))
    landing, day_landing = work / "landing", work / "day"
    last = date(2026, 10, 30)  # a Friday: a working day
    per_day = max(1, round(args.movements / (args.tenants * args.days * 0.70)))
    gen = generate(landing, tenants=args.tenants, days=args.days, seed=7, movements_per_day=per_day,
                   end_date=last)
    moved = split_last_day(landing, last, day_landing)
    n = gen.rows["movements"]
    print(f"generated {n:,} movements; {moved:,} of them on {last} (the incremental day)", flush=True)

    con = duckdb.connect(str(work / "floor.duckdb"), config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    t0 = time.perf_counter()
    con.execute("CREATE TABLE movements AS SELECT * FROM read_csv(?, header=true)",
                [sorted(str(p) for p in landing.glob("*/movements/*.csv"))])
    floor = time.perf_counter() - t0
    con.close()

    fulls, incrementals, refreshes = [], [], []
    for i in range(args.repeat):
        home = work / "home"
        shutil.rmtree(home, ignore_errors=True)
        ing = ingest(home, landing)
        fulls.append(dbt_build(home))
        ingest(home, day_landing)
        incrementals.append(dbt_build(home))
        refreshes.append(dbt_build(home, "--full-refresh"))
        print(f"  round {i + 1}: ingest {ing:.1f} s, full {fulls[-1]:.1f} s, incremental {incrementals[-1]:.1f} s,"
              f" full refresh {refreshes[-1]:.1f} s", flush=True)
    med = statistics.median
    result = {
        "movements": n, "incremental_day_movements": moved, "repeat": args.repeat,
        "load_floor_s": round(floor, 2),
        "full_build_median_s": round(med(fulls), 2),
        "incremental_build_median_s": round(med(incrementals), 2),
        "full_refresh_median_s": round(med(refreshes), 2),
        "incremental_over_full_refresh": round(med(incrementals) / med(refreshes), 3),
        "full_build_over_floor": round(med(fulls) / floor, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"warehouse_{n}.json").write_text(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
