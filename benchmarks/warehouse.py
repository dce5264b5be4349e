"""Warehouse benchmark: full dbt build, incremental build after one more day, and the load floor.

Generates N movements (default 1M; the issue's size is 10M) ending on day D+1, moves day D+1's
movements into a file of their own, then in one run:
  floor        : DuckDB's CREATE TABLE AS SELECT * FROM read_csv of the movement files (load floor);
  ingest       : ingestion of days up to D (not part of the dbt figures, printed for context);
  full         : `dbt build` on a fresh warehouse: every incremental model built from scratch;
  incremental  : ingest day D+1's file, then `dbt build` again: incremental models touch only that day;
  full refresh : `dbt build --full-refresh` on the same data;
  nightly      : `dbt build` again, nothing new, data tests over every row (the nightly schedule's);
  models only  : the incremental day again on a copy of the warehouse taken before it, building the
                 models and no data test: the least a dbt build of this project can cost per load.
Every build is the pipeline's: pipelines.transform.project (warehouse key, dbt_build_flags)
(models and data tests; dbt unit tests run in CI, not on data). Prints medians over --repeat rounds,
the ratios and where the time went (summed node time per kind, slowest nodes, from run_results.json),
and writes benchmarks/results/warehouse_<n>.json. Needs the dbt manifest (`make manifest`).

    .venv/bin/python benchmarks/warehouse.py --movements 1000000 --repeat 3
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
DBT = Path(sys.executable).with_name("dbt")


def dbt_env(home: Path) -> dict[str, str]:
    """The pipeline's own dbt environment (MIRA_HOME, the warehouse key, ...: pipelines.transform.project,
    which pipelines.transform uses), so the benchmark opens the warehouse as the pipeline does."""
    from pipelines.transform.project import dbt_env as pipeline_dbt_env

    return {**os.environ, **pipeline_dbt_env(home), "PYTHONPATH": str(REPO)}


def pipeline_dbt_flags(**options: bool) -> list[str]:
    """The flags a pipeline build passes (pipelines.transform.project.dbt_build_flags: no unit tests)."""
    from pipelines.transform.project import dbt_build_flags

    return dbt_build_flags(**options)


def dbt_build(home: Path, *extra: str, **options: bool) -> tuple[float, dict]:
    """One `dbt build` with the pipeline's flags (and `extra` ones); seconds and a profile."""
    target = home / "dbt" / "target"
    args = [str(DBT), "build", "--quiet", "--project-dir", str(REPO / "dbt_project"),
            "--profiles-dir", str(REPO / "dbt_project"), "--target-path", str(target),
            "--log-path", str(home / "logs" / "dbt"), *pipeline_dbt_flags(**options), *extra]
    env = dbt_env(home)
    t0 = time.perf_counter()
    res = subprocess.run(args, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{(res.stdout + res.stderr)[-3000:]}")
    return seconds, profile(target / "run_results.json", seconds)


def profile(run_results: Path, wall: float) -> dict:
    """Where a build's time went: node time summed per kind (2 dbt threads run nodes side by
    side, so the sums exceed dbt's elapsed time), the slowest nodes, and the wall time outside
    dbt's run of the nodes (start-up: imports, manifest, adapter and attach; artifacts)."""
    results = json.loads(run_results.read_text())
    kinds: dict[str, float] = {}
    nodes = []
    for r in results["results"]:
        uid = r["unique_id"]
        name = uid.split(".")[2] if uid.startswith("unit_test.") else uid.split(".")[-1]
        if uid.startswith("unit_test."):
            kind = "unit tests"
        elif uid.startswith("test."):
            kind = "data tests"
        elif ".rpt_" in uid:
            kind = "report marts"
        elif ".fct_" in uid:
            kind = "fact marts"
        elif ".dim_" in uid:
            kind = "dimensions"
        elif ".int_" in uid:
            kind = "intermediate"
        else:
            kind = "staging"
        kinds[kind] = kinds.get(kind, 0.0) + r["execution_time"]
        nodes.append((r["execution_time"], name))
    nodes.sort(reverse=True)
    elapsed = results.get("elapsed_time", 0.0)
    return {
        "wall_s": round(wall, 2),
        "dbt_nodes_elapsed_s": round(elapsed, 2),
        "outside_nodes_s": round(wall - elapsed, 2),
        "nodes": len(nodes),
        "node_seconds_by_kind": {k: round(v, 2) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
        "slowest_nodes": [[n, round(t, 2)] for t, n in nodes[:8]],
    }


def ingest(home: Path, landing: Path) -> float:
    code = "from pipelines.ingest.load import ingest; ingest()"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True,
                   env=dict(os.environ, MIRA_HOME=str(home), MIRA_LANDING=str(landing), PYTHONPATH=str(REPO)))
    return time.perf_counter() - t0


def main() -> None:
    ap = parser(__doc__, tenants=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", type=Path,
                    help="folder for the generated data, kept afterwards and reused when it already holds "
                         "landing/ and day/ from a run with the same arguments (default: a temporary folder)")
    args = ap.parse_args()

    import duckdb

    from pipelines.generate import generate

    work = args.work or Path(tempfile.mkdtemp(prefix="mira-wh-bench-"))
    landing, day_landing = work / "landing", work / "day"
    last = date(2026, 10, 30)  # a Friday: a working day
    if (landing / ".complete").exists() and day_landing.is_dir():
        with duckdb.connect() as con:
            count = "SELECT count(*) FROM read_csv(?, all_varchar=true, header=true)"
            n = con.execute(count, [sorted(str(p) for p in landing.glob("*/movements/*.csv"))]).fetchone()[0]
            moved = con.execute(count, [sorted(str(p) for p in day_landing.glob("*/movements/*.csv"))]).fetchone()[0]
        n += moved
        print(f"reusing {n:,} movements in {work}; {moved:,} of them on {last} (the incremental day)", flush=True)
    else:
        per_day = max(1, round(args.movements / (args.tenants * args.days * 0.70)))
        gen = generate(landing, tenants=args.tenants, days=args.days, seed=7, movements_per_day=per_day,
                       end_date=last)
        moved = split_last_day(landing, last, day_landing)
        n = gen.rows["movements"]
        (landing / ".complete").touch()   # a dot file: discovery skips it as an upload in progress
        print(f"generated {n:,} movements; {moved:,} of them on {last} (the incremental day)", flush=True)

    (work / "floor.duckdb").unlink(missing_ok=True)
    con = duckdb.connect(str(work / "floor.duckdb"), config={"threads": 2})
    con.execute("SET enable_progress_bar = false")
    t0 = time.perf_counter()
    con.execute("CREATE TABLE movements AS SELECT * FROM read_csv(?, header=true)",
                [sorted(str(p) for p in landing.glob("*/movements/*.csv"))])
    floor = time.perf_counter() - t0
    con.close()

    # the nightly build last: its --vars make dbt parse the project again, which would be billed
    # to the build after it
    phases = [("full", {}), ("incremental", {}), ("full_refresh", {"full_refresh": True}),
              ("nightly", {"full_tests": True})]
    times: dict[str, list[float]] = {phase: [] for phase, _ in [*phases, ("models_only", {})]}
    profiles: dict[str, list[dict]] = {phase: [] for phase in times}
    for i in range(args.repeat):
        home, before_day = work / "home", work / "home-before-day"
        shutil.rmtree(home, ignore_errors=True)
        ing = ingest(home, landing)
        for phase, options in phases:
            if phase == "incremental":
                shutil.rmtree(before_day, ignore_errors=True)
                shutil.copytree(home, before_day)
                ingest(home, day_landing)
            seconds, prof = dbt_build(home, **options)
            times[phase].append(seconds)
            profiles[phase].append(prof)
        # The same day's load with no data test: what dbt start-up and the models alone cost.
        shutil.rmtree(home)
        before_day.rename(home)
        ingest(home, day_landing)
        seconds, prof = dbt_build(home, "--exclude-resource-type", "test")
        times["models_only"].append(seconds)
        profiles["models_only"].append(prof)
        print(f"  round {i + 1}: ingest {ing:.1f} s, " + ", ".join(
            f"{phase} {runs[-1]:.1f} s" for phase, runs in times.items()), flush=True)
    med = {phase: statistics.median(runs) for phase, runs in times.items()}
    result = {
        "movements": n, "incremental_day_movements": moved, "repeat": args.repeat,
        "load_floor_s": round(floor, 2),
        "full_build_median_s": round(med["full"], 2),
        "incremental_build_median_s": round(med["incremental"], 2),
        "nightly_build_median_s": round(med["nightly"], 2),
        "full_refresh_median_s": round(med["full_refresh"], 2),
        "incremental_models_only_median_s": round(med["models_only"], 2),
        "incremental_over_full_build": round(med["incremental"] / med["full"], 3),
        "incremental_over_full_refresh": round(med["incremental"] / med["full_refresh"], 3),
        "models_only_over_full_build": round(med["models_only"] / med["full"], 3),
        "full_build_over_floor": round(med["full"] / floor, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "dbt_flags": pipeline_dbt_flags(),
        "profile_last_round": {phase: runs[-1] for phase, runs in profiles.items()},
    }
    print(json.dumps(result, indent=2))
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"warehouse_{n}.json").write_text(json.dumps(result, indent=2))
    if args.work:
        shutil.rmtree(work / "home", ignore_errors=True)   # the data stays for the next run
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
