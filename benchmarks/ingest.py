"""Ingestion benchmark: `mira run`'s ingestion against DuckDB's own load of the same files.

Generates N movements (default 1M) once, then, alternating within one run, times:
  floor   : a fresh DuckDB file, CREATE TABLE <entity> AS SELECT * FROM read_csv(<its files>)
            for every entity (what DuckDB needs just to load the bytes);
  ingest  : pipelines.ingest.load.ingest() on a fresh MIRA_HOME (contract rules, quarantine,
            pseudonyms, vault, MERGE, manifest).
Each in a fresh child process, so peak memory (max RSS) is that step's alone. Prints the medians,
their ratio and the peak memory, and writes them as JSON to benchmarks/results/.

    .venv/bin/python benchmarks/ingest.py --movements 1000000 --repeat 3
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

from common import parser  # benchmarks/common.py, beside this script
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FLOOR = """
import duckdb, sys, glob
con = duckdb.connect(sys.argv[1], config={"memory_limit": sys.argv[3], "threads": 2})
con.execute("SET enable_progress_bar = false")
for entity in ("tenants", "users", "materials", "locations", "projects", "movements"):
    files = sorted(glob.glob(f"{sys.argv[2]}/*/{entity}/*.csv"))
    con.execute(f"CREATE TABLE {entity} AS SELECT * FROM read_csv(?, header=true)", [files])
print(con.execute("SELECT count(*) FROM movements").fetchone()[0])
"""
INGEST = """
from pipelines.ingest.load import ingest
r = ingest()
print(r.rows_loaded + r.rows_quarantined)
"""


def peak_of(code: str, args: list[str], env: dict) -> tuple[float, float, str]:
    """Run code in a fresh interpreter under a wrapper that reads that child's own peak RSS.

    Returns (seconds, peak RSS in MB, stdout)."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t0 = time.perf_counter()\n"
        "r = subprocess.run([sys.executable, '-c', sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t0\n"
        "print(json.dumps({'rc': r.returncode, 's': dt, 'mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,"
        " 'out': r.stdout.strip(), 'err': r.stderr[-2000:]}))\n"
    )
    res = subprocess.run([sys.executable, "-c", wrapper, code, *args], env=env, capture_output=True, text=True)
    data = json.loads(res.stdout)
    if data["rc"] != 0:
        raise SystemExit(f"benchmark step failed:\n{data['err']}")
    return data["s"], data["mb"], data["out"]


def main() -> None:
    ap = parser(__doc__, tenants=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--workdir", type=Path, default=None, help="where to put the data (default: a temp dir)")
    args = ap.parse_args()

    from pipelines.generate import generate

    work = Path(args.workdir or tempfile.mkdtemp(prefix="mira-bench-"))
    landing = work / "landing"
    per_day = max(1, round(args.movements / (args.tenants * args.days * 0.70)))  # weekends, terminated tenant
    t0 = time.perf_counter()
    if landing.exists():
        shutil.rmtree(landing)
    gen = generate(landing, tenants=args.tenants, days=args.days, seed=7, movements_per_day=per_day,
                   end_date=date(2026, 10, 31))
    gen_s = time.perf_counter() - t0
    n = gen.rows["movements"]
    size_mb = sum(f.stat().st_size for f in landing.rglob("*") if f.is_file()) / 1e6
    print(f"generated {n:,} movements ({size_mb:,.0f} MB of CSV) in {gen_s:.1f} s", flush=True)

    env = dict(os.environ, MIRA_LANDING=str(landing), MIRA_MEMORY_LIMIT=args.memory_limit, MIRA_THREADS="2",
               PYTHONPATH=str(REPO))
    floors, ingests, floor_mb, ingest_mb = [], [], [], []
    for i in range(args.repeat):
        db = work / "floor.duckdb"
        db.unlink(missing_ok=True)
        s, mb, out = peak_of(FLOOR, [str(db), str(landing), args.memory_limit], env)
        assert int(out) == n, (out, n)
        floors.append(s)
        floor_mb.append(mb)
        home = work / "home"
        shutil.rmtree(home, ignore_errors=True)
        s, mb, out = peak_of(INGEST, [], dict(env, MIRA_HOME=str(home)))
        assert int(out) >= n, (out, n)
        ingests.append(s)
        ingest_mb.append(mb)
        print(f"  round {i + 1}: floor {floors[-1]:.2f} s ({floor_mb[-1]:,.0f} MB), "
              f"ingest {ingests[-1]:.2f} s ({ingest_mb[-1]:,.0f} MB)", flush=True)
    result = {
        "movements": n, "csv_mb": round(size_mb), "repeat": args.repeat,
        "floor_median_s": round(statistics.median(floors), 2),
        "ingest_median_s": round(statistics.median(ingests), 2),
        "ratio_of_medians": round(statistics.median(ingests) / statistics.median(floors), 2),
        "floor_peak_mb": round(max(floor_mb)), "ingest_peak_mb": round(max(ingest_mb)),
        "memory_limit": args.memory_limit, "generate_s": round(gen_s, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=2))
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"ingest_{n}.json").write_text(json.dumps(result, indent=2))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
