"""Dashboards benchmark: each page's queries for the largest tenant, at 1M and 10M movements.

Generates N movements over 200 tenants (a year), runs the whole pipeline once (`mira run`:
ingestion, dbt, publish of one serving file per tenant, the analyst and ops files), then times,
for the tenant with the most movements, what each page asks dashboards/data/ for on its first
render (the plain functions, without Streamlit's cache: a page's worst case once its serving
file is open), and each of those functions on its own. Per page: one cold load (the file is
opened and decrypted first), then --rounds timed loads; median, p90 and max. The target
(issue 5): every page under 300 ms at the median with 10M movements, and within 1.5x of the same
page at 1M. Writes benchmarks/results/dashboards_<movements>.json.

Homes are kept with --keep and timed again with --home; given several homes, it times them
interleaved (round by round, alternating), so that the machine's other work weighs on both alike
and the ratio between sizes is fair:

    .venv/bin/python benchmarks/dashboards.py --movements 1000000 --movements-per-day 22 --keep
    MIRA_MEMORY_LIMIT=10GB .venv/bin/python benchmarks/dashboards.py --movements 10000000 --movements-per-day 226 --keep
    .venv/bin/python benchmarks/dashboards.py --home /tmp/mira-dash-bench-A/home --home /tmp/mira-dash-bench-B/home
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from common import parser  # benchmarks/common.py, beside this script

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's pipelines and dashboards
RESULTS = REPO / "benchmarks" / "results"
TARGET_MS = 300.0
TARGET_RATIO = 1.5


def page_loads(tenant: str, source: str = "tenant") -> dict[str, Callable[[], int]]:
    """Per page, what it loads when it opens: dashboards.data.pages.page_data, the app's own list of a
    page's queries with the defaults selected (uncached; Consumption: the last 30 days, by day, by
    category, the first category's materials). Each returns the rows it received. Extra row:
    Consumption after the period is widened to a year, by month and by material (the widest
    usual filter)."""
    from dashboards.data import consumption, pages

    def load(page: str, **kw) -> Callable[[], int]:
        return lambda: sum(len(df) for df in pages.page_data(page, tenant, source=source, **kw).values())

    def consumption_year() -> int:
        start, end = consumption.default_period(tenant, 365, source)
        return sum(len(df) for df in pages.page_data("consumption", tenant, source=source, start=start, end=end,
                                                     grain="month", dimension="material").values())

    return {"consumption": load("consumption"),
            "consumption (a year, by month, by material)": consumption_year,
            "stock": load("stock"), "tools": load("tools"), "insights": load("insights")}


def operations_load() -> int:
    from dashboards.data import pages

    return sum(len(df) for df in pages.page_data("operations").values())


# The data functions the pages call, timed one by one too (a function that calls another, such as
# top_consumers -> consumption_breakdown, counts in both).
QUERY_FUNCTIONS = ("usage_bounds", "consumption_totals", "consumption_series", "consumption_breakdown",
                   "top_consumers", "tenant_info", "stock_by_location", "reorder_suggestions", "days_of_cover",
                   "stock_on_hand", "stock_ageing", "count_accuracy", "tool_custody", "tool_utilisation",
                   "abc_xyz_matrix", "abc_xyz_materials", "unusual_consumption", "ops_published", "ops_freshness",
                   "ops_quarantine", "ops_runs", "ops_failures")


@contextlib.contextmanager
def per_query(spent: dict[str, float]):
    """While active, every call of a page's data function adds its milliseconds to spent[name]
    (replaced in the module that owns it, where dashboards.data.pages and the other functions
    look it up)."""
    from dashboards.data import common, consumption, insights, operations, stock, tools

    modules = (common, consumption, stock, tools, insights, operations)
    originals = {(module, name): getattr(module, name)
                 for module in modules for name in QUERY_FUNCTIONS if name in vars(module)}

    def timed(name, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[name] = spent.get(name, 0.0) + (time.perf_counter() - t0) * 1000
        return wrapper

    for (module, name), fn in originals.items():
        setattr(module, name, timed(name, fn))
    try:
        yield
    finally:
        for (module, name), fn in originals.items():
            setattr(module, name, fn)


@dataclass
class Subject:
    """One built MIRA_HOME to time: its key, sizing, largest tenant and what each page loads there."""
    home: Path
    key: str
    built: dict
    tenant: str = ""
    tenant_movements: int = 0
    loads: dict[str, Callable[[], int]] = field(default_factory=dict)

    def use(self) -> None:
        os.environ["MIRA_HOME"] = str(self.home)
        os.environ["MIRA_MASTER_KEY"] = self.key


def time_pages(subjects: list[Subject], rounds: int) -> list[dict[str, dict]]:
    """Per page: a cold load per home (files opened and decrypted), one warm-up, then `rounds`
    rounds in which every home loads the page once, in alternating order, so that whatever else
    the machine does weighs on every home alike and their ratio is fair."""
    from dashboards.data import pool

    results: list[dict[str, dict]] = [{} for _ in subjects]
    for page in subjects[0].loads:
        colds, rows = [], []
        for s in subjects:
            s.use()
            pool.clear()
            t0 = time.perf_counter()
            rows.append(s.loads[page]())
            colds.append((time.perf_counter() - t0) * 1000)
        for s in subjects:            # the other homes' cold loads closed this one's files
            s.use()
            s.loads[page]()
        times: list[list[float]] = [[] for _ in subjects]
        queries: list[list[dict]] = [[] for _ in subjects]
        for r in range(rounds):
            order = list(range(len(subjects)))
            for i in (order if r % 2 == 0 else order[::-1]):
                subjects[i].use()
                spent: dict[str, float] = {}
                with per_query(spent):
                    t0 = time.perf_counter()
                    subjects[i].loads[page]()
                    times[i].append((time.perf_counter() - t0) * 1000)
                queries[i].append(spent)
        for i in range(len(subjects)):
            t = sorted(times[i])
            q = queries[i]
            med = {n: statistics.median(x.get(n, 0.0) for x in q) for n in {n for x in q for n in x}}
            results[i][page] = {
                "median_ms": round(statistics.median(t), 1),
                "p90_ms": round(t[min(len(t) - 1, int(round(0.9 * (len(t) - 1))))], 1),
                "max_ms": round(t[-1], 1), "cold_ms": round(colds[i], 1), "rows": rows[i], "rounds": rounds,
                "query_median_ms": {n: round(v, 1) for n, v in sorted(med.items(), key=lambda kv: -kv[1])}}
        print(f"  {page}: median " + " | ".join(f"{results[i][page]['median_ms']} ms" for i in range(len(subjects))),
              flush=True)
    return results


def build(work: Path, movements: int, per_day: int | None, tenants: int, days: int, seed: int, env: dict) -> dict:
    from pipelines.generate import generate

    landing = Path(env["MIRA_LANDING"])
    per_day = per_day or max(1, round(movements / (tenants * days * 0.70)))   # as benchmarks/warehouse.py sizes it
    t0 = time.perf_counter()
    gen = generate(landing, tenants=tenants, days=days, seed=seed, movements_per_day=per_day,
                   end_date=date(2026, 10, 30))
    generate_s = time.perf_counter() - t0
    print(f"generated {gen.rows['movements']:,} movements over {len(gen.tenants)} tenants in {generate_s:.0f} s "
          f"(movements_per_day={per_day})", flush=True)
    log = work / "mira-run.txt"
    prepare_manifest(env)
    t0 = time.perf_counter()
    with open(log, "w") as out:
        res = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], cwd=REPO, env=env, stdout=out,
                             stderr=subprocess.STDOUT)
    build_s = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"mira run failed (log: {log}; the data and its key are kept in {work}):\n"
                         f"{log.read_text(errors='replace')[-3000:]}")
    steps = step_seconds(Path(env["MIRA_HOME"]) / "dagster")
    print(f"mira run (ingest, dbt, publish) took {build_s:.0f} s: {steps}", flush=True)
    return {"mira_run_steps_s": steps, "movements": gen.rows["movements"], "movements_per_day": per_day,
            "movements_by_tenant": gen.movements_by_tenant, "generate_s": round(generate_s, 1),
            "mira_run_s": round(build_s, 1), "memory_limit": env.get("MIRA_MEMORY_LIMIT", "3GB (default)")}


def prepare_manifest(env: dict) -> None:
    """The dbt manifest Dagster loads at import (what `make manifest` does), fresh for this checkout."""
    project = REPO / "dbt_project"
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--quiet", "--project-dir", str(project),
                    "--profiles-dir", str(project)], cwd=project, check=True,
                   env={**env, "DBT_ENV_SECRET_MIRA_WAREHOUSE_KEY": "parse-only", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})


def step_seconds(dagster_home: Path) -> dict[str, float]:
    """The build's slowest steps, from the Dagster instance the run recorded itself in."""
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        from dagster import DagsterInstance

        instance = DagsterInstance.get()
        try:
            [run] = instance.get_runs(limit=1)
            stats = instance.get_run_step_stats(run.run_id)
        finally:
            instance.dispose()
    except Exception as exc:                      # only context for the figures: never fail the benchmark
        return {"unavailable": str(exc)[:200]}
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
    steps = {s.step_key: round(s.end_time - s.start_time, 1) for s in stats if s.start_time and s.end_time}
    return dict(sorted(steps.items(), key=lambda kv: -kv[1])[:6])


def largest_tenant() -> tuple[str, int]:
    """The tenant with the most movements, read from the published analyst file."""
    from pipelines.serving import files as serving

    con = serving.open_analyst()
    try:
        return con.execute("SELECT tenant_id, count(DISTINCT movement_id) FROM marts.fct_stock_movements "
                           "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
    finally:
        con.close()


def previous_result(n: int) -> dict | None:
    """The results file of the nearest smaller size (for the ratio), if any."""
    best = None
    for f in RESULTS.glob("dashboards_*.json"):
        try:
            r = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if r.get("movements", 0) < n / 2 and (best is None or r["movements"] > best["movements"]):
            best = r
    return best


def all_loads(tenant: str) -> dict[str, Callable[[], int]]:
    loads = dict(page_loads(tenant, "tenant"))
    loads.update({f"{page} [analyst file]": load for page, load in page_loads(tenant, "analyst").items()})
    loads["operations [ops file, all tenants]"] = operations_load
    return loads


def key_for(home: Path) -> str:
    """The key a home was built with: MIRA_MASTER_KEY, else the master.key the benchmark left beside it."""
    beside = home.parent / "master.key"
    if beside.exists():
        return beside.read_text().strip()
    if os.environ.get("MIRA_MASTER_KEY"):
        return os.environ["MIRA_MASTER_KEY"]
    raise SystemExit(f"no key for {home}: set MIRA_MASTER_KEY or put it in {beside}")


def report(s: Subject, pages: dict[str, dict], args, smaller: dict | None, interleaved: bool) -> None:
    from pipelines.serving import files as serving

    s.use()
    tenant_file = serving.tenant_path(s.tenant)
    movements = s.built.get("movements", 0)
    result = {
        "movements": movements, "tenants": args.tenants, "days": args.days,
        "largest_tenant": s.tenant, "largest_tenant_movements": s.tenant_movements,
        "tenant_file_mb": round(tenant_file.stat().st_size / 1e6, 1),
        "analyst_file_mb": round((s.home / "serving" / "analyst.duckdb").stat().st_size / 1e6, 1),
        "reader_memory_limit": os.environ.get("MIRA_MEMORY_LIMIT", "3GB (default)"),
        "target_median_ms": TARGET_MS, "pages": pages,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": date.today().isoformat(), "build": s.built,
    }
    if smaller:
        result["compared_with"] = smaller["movements"]
        result["compared_interleaved"] = interleaved
        result["ratio_vs_smaller"] = {
            p: round(r["median_ms"] / smaller["pages"][p]["median_ms"], 2)
            for p, r in pages.items() if p in smaller["pages"] and smaller["pages"][p]["median_ms"] > 0}

    print(f"\n{movements:,} movements, {args.tenants} tenants; largest tenant {s.tenant} "
          f"({s.tenant_movements:,} movements, serving file {result['tenant_file_mb']} MB); {args.rounds} rounds per page")
    head = f"{'page':60} {'median':>8} {'p90':>8} {'max':>8} {'cold':>8} {'rows':>6}"
    if smaller:
        head += f" {'vs ' + format(smaller['movements'], ','):>12}"
    print(head)
    for p, r in pages.items():
        line = f"{p:60} {r['median_ms']:>6.1f}ms {r['p90_ms']:>6.1f}ms {r['max_ms']:>6.1f}ms {r['cold_ms']:>6.0f}ms {r['rows']:>6}"
        if smaller and p in result["ratio_vs_smaller"]:
            line += f" {result['ratio_vs_smaller'][p]:>11.2f}x"
        print(line)
    print("slowest queries per page (median ms):")
    for p, r in pages.items():
        if "[analyst" not in p:
            print(f"  {p}: " + ", ".join(f"{q} {ms}" for q, ms in list(r["query_median_ms"].items())[:3]))
    slow = [p for p, r in pages.items() if r["median_ms"] >= TARGET_MS and "[analyst" not in p]
    print(f"target: every page under {TARGET_MS:.0f} ms at the median: {'met' if not slow else 'NOT met: ' + ', '.join(slow)}")
    if smaller:
        over = [p for p, x in result["ratio_vs_smaller"].items() if x > TARGET_RATIO and "[analyst" not in p]
        print(f"target: within {TARGET_RATIO}x of {smaller['movements']:,} movements "
              f"({'timed interleaved' if interleaved else 'an earlier run'}): "
              f"{'met' if not over else 'NOT met: ' + ', '.join(over)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"dashboards_{movements}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


def main() -> None:
    ap = parser(__doc__, tenants=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--movements-per-day", type=int,
                    help="the generator's size knob (default: from --movements; 22 gives 1.0M, 226 gives 10.0M)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--home", type=Path, action="append", default=[],
                    help="time an already built home instead of building one (repeat it to time several "
                         "interleaved and compare them); its key: MIRA_MASTER_KEY or the master.key beside it")
    ap.add_argument("--keep", action="store_true", help="keep the generated landing and the built home")
    args = ap.parse_args()

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    subjects: list[Subject] = []
    work = None
    if not args.home:
        work = Path(tempfile.mkdtemp(prefix="mira-dash-bench-"))
        home = work / "home"
        os.environ.update(MIRA_HOME=str(home), MIRA_LANDING=str(work / "landing"),
                          MIRA_MASTER_KEY=os.environ.get("MIRA_MASTER_KEY") or secrets.token_hex(32))
        key = work / "master.key"          # a throwaway key, beside the throwaway data, for --home later
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.environ["MIRA_MASTER_KEY"])
        built = build(work, args.movements, args.movements_per_day, args.tenants, args.days, args.seed,
                      dict(os.environ))
        built.pop("movements_by_tenant", None)
        (home / "benchmark-build.json").write_text(json.dumps(built))   # so that --home knows what it times
        subjects.append(Subject(home, os.environ["MIRA_MASTER_KEY"], built))
    for h in args.home:
        h = h.resolve()
        sizing = h / "benchmark-build.json"
        subjects.append(Subject(h, key_for(h), json.loads(sizing.read_text()) if sizing.exists() else {}))
    subjects.sort(key=lambda s: s.built.get("movements", 0))

    for s in subjects:
        s.use()
        s.tenant, s.tenant_movements = largest_tenant()
        s.loads = all_loads(s.tenant)
        print(f"{s.home}: {s.built.get('movements', 0):,} movements; largest tenant {s.tenant} with "
              f"{s.tenant_movements:,}", flush=True)
    results = time_pages(subjects, args.rounds)
    smallest = None
    for s, pages in zip(subjects, results):
        if smallest is None and len(subjects) == 1:
            earlier = previous_result(s.built.get("movements", 0))
            report(s, pages, args, earlier, interleaved=False)
        else:
            report(s, pages, args, smallest, interleaved=True)
        if smallest is None:
            smallest = {"movements": s.built.get("movements", 0), "pages": pages}
    if work is not None:
        if args.keep:
            print(f"kept {work}: {sys.argv[0]} --home {home}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
