"""Freshness benchmark: what a customer waits for, landing file to dashboard, at SaaS scale.

Generates N movements (default 1M) over 200 tenants and a year ending on day D, moves day D's
movements into one file per tenant (day/<tenant>/movements/day.csv), then in one run, each phase an
end-to-end `mira run` in its own process (what ops and the landing sensor pay, start-up included):
  floor     : DuckDB's CREATE TABLE AS SELECT * FROM read_csv over every landing CSV (the load floor);
  first     : the first run on an empty home (every file but day D);
  one       : day D of ONE tenant lands, then `mira run` (the run, and landing to that tenant's serving
              file swapped in: what its managers wait for; the analyst and ops files and the
              Great Expectations check come after it);
  nothing   : `mira run` again with nothing new;
  all       : on a copy of the home taken after `first`, day D of EVERY tenant lands, then `mira run`.
Each phase's wall time and peak memory (the RSS of the run's process tree, sampled every 0.1 s),
the load average, and the ratios the targets name are printed and written to
benchmarks/results/freshness_<n>.json.

    .venv/bin/python benchmarks/freshness.py --movements 1000000
    .venv/bin/python benchmarks/freshness.py --movements 10000000 --work /var/tmp/fresh10m
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from common import parser, split_last_day  # benchmarks/common.py, beside this script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's pipelines, whatever the venv's editable install points at
RESULTS = REPO / "benchmarks" / "results"
LAST_DAY = date(2026, 10, 30)  # a Friday: a working day
MASTER_KEY = "freshness-benchmark-master-key-" + "0" * 40


def peak_rss_mb(proc: subprocess.Popen, stop: threading.Event, out: list[float]) -> None:
    import psutil

    peak = 0
    try:
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            except psutil.Error:
                rss = 0
            peak = max(peak, rss)
            time.sleep(0.1)
    except psutil.Error:
        pass
    out.append(peak / 2**20)


def mira_run(home: Path, log: Path) -> tuple[float, float, str]:
    """(seconds, peak MB, last lines of output) of one `mira run` on `home`."""
    env = dict(os.environ, MIRA_HOME=str(home), MIRA_LANDING=str(home / "landing"), MIRA_MASTER_KEY=MASTER_KEY,
               PYTHONPATH=str(REPO), GX_ANALYTICS_ENABLED="false", DAGSTER_DISABLE_TELEMETRY="1")
    with open(log, "w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], env=env, stdout=fh,
                                stderr=subprocess.STDOUT)
        stop, peak = threading.Event(), []
        sampler = threading.Thread(target=peak_rss_mb, args=(proc, stop, peak))
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
    if code != 0:
        raise SystemExit(f"mira run failed on {home}:\n{tail}")
    return seconds, peak[0] if peak else 0.0, tail


def land(day_dir: Path, home: Path, tenants: list[str]) -> int:
    """Copy the day files of these tenants into the home's landing folder; files copied."""
    n = 0
    for t in tenants:
        src = day_dir / t / "movements" / "day.csv"
        if src.exists():
            dst = home / "landing" / t / "movements" / f"{LAST_DAY.isoformat()}.csv"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            n += 1
    return n


def main() -> None:
    ap = parser(__doc__, tenants=200)
    ap.add_argument("--work", type=Path, help="folder for the data, kept and reused (default: a temporary folder)")
    args = ap.parse_args()
    import duckdb

    from pipelines.generate import generate

    work = args.work or Path(tempfile.mkdtemp(prefix="mira-fresh-bench-"))
    landing, day_dir = work / "landing", work / "day"
    if not (landing / ".complete").exists():
        shutil.rmtree(landing, ignore_errors=True)
        shutil.rmtree(day_dir, ignore_errors=True)
        per_day = max(1, round(args.movements / (args.tenants * args.days * 0.70)))
        gen = generate(landing, tenants=args.tenants, days=args.days, seed=7, movements_per_day=per_day,
                       end_date=LAST_DAY)
        moved = split_last_day(landing, LAST_DAY, day_dir)
        (landing / ".complete").touch()   # a dot file: discovery skips it as an upload in progress
        print(f"generated {gen.rows['movements']:,} movements; {moved:,} on {LAST_DAY} (the new day)", flush=True)
    files = sorted(str(p) for p in landing.glob("*/*/*.csv"))
    movements = sorted(str(p) for p in landing.glob("*/movements/*.csv"))
    with duckdb.connect() as con:
        n = con.execute("SELECT count(*) FROM read_csv(?, all_varchar=true, header=true)", [movements]).fetchone()[0]

    load = {"start": os.getloadavg()}
    floor_db = work / "floor.duckdb"
    floor_db.unlink(missing_ok=True)
    with duckdb.connect(str(floor_db), config={"threads": 2}) as con:
        con.execute("SET enable_progress_bar = false")
        t0 = time.perf_counter()
        for entity in ("tenants", "users", "materials", "locations", "projects", "movements"):
            these = [f for f in files if f"/{entity}/" in f]
            con.execute(f"CREATE TABLE {entity} AS SELECT * FROM read_csv(?, header=true, union_by_name=true)", [these])
        floor = time.perf_counter() - t0
    floor_db.unlink(missing_ok=True)
    print(f"floor: {floor:.1f} s for {len(files)} files", flush=True)

    home, home_all = work / "home", work / "home-all"
    for h in (home, home_all):
        shutil.rmtree(h, ignore_errors=True)
    shutil.copytree(landing, home / "landing")
    tenants = sorted(p.name for p in day_dir.iterdir() if p.is_dir())
    phases: dict[str, dict] = {}

    def timed(name: str, h: Path, landed_at: float | None = None, served: Path | None = None) -> None:
        seconds, peak, tail = mira_run(h, work / f"{name}.log")
        phases[name] = {"seconds": round(seconds, 2), "peak_mb": round(peak)}
        if served is not None:     # landing to the tenant's serving file swapped in (what its managers wait for)
            phases[name]["to_serving_file_s"] = round(served.stat().st_mtime - landed_at, 2)
        extra = f", serving file after {phases[name]['to_serving_file_s']:.1f} s" if served is not None else ""
        print(f"{name}: {seconds:.1f} s{extra}, peak {peak:,.0f} MB\n    " + tail.replace("\n", "\n    "), flush=True)

    timed("first", home)
    shutil.copytree(home, home_all)
    landed_at = time.time()
    land(day_dir, home, tenants[:1])
    timed("one", home, landed_at, home / "serving" / "tenants" / f"{tenants[0]}.duckdb")
    timed("nothing", home)
    land(day_dir, home_all, tenants)
    timed("all", home_all)
    load["end"] = os.getloadavg()

    result = {
        "movements": n, "tenants": len(tenants), "files": len(files), "floor_s": round(floor, 2), "phases": phases,
        "ratios": {"first_over_floor": round(phases["first"]["seconds"] / floor, 2),
                   "all_over_first": round(phases["all"]["seconds"] / phases["first"]["seconds"], 3)},
        "loadavg": load, "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"freshness_{n}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
