"""Load: many customer managers at once against one dashboards server, each seeing only its own tenant.

Generates --tenants tenants (a month of movements), runs the pipeline once (`mira run`), adds a
manager account per tenant, starts the dashboards as `mira serve` does (Streamlit on a free port
of 127.0.0.1), then lets --sessions managers of different tenants (round robin over the tenants)
in, one websocket session each (benchmarks/streamlit_client.py: the app's own protocol, no
browser sharing the cores with the server), arriving evenly over --ramp seconds and all kept open
until the last one is done, so that at the peak every session is connected at once. Each logs in
(the app then renders Consumption, in the language it picks for the manager: its tenant's) and
opens Stock. Reported: sessions completed, errors, the median and p95 of the time to a rendered
page (request sent to the page's last element received; both pages of every session), the load
average, the machine. Checked for every session: the
pages rendered without an error, its own tenant's figures (Consumption's value and movements over
the default period, Stock's value, recomputed from the tenant's serving file and formatted as the
app formats them in the session's language), and not one name of another tenant (its id, its
name, the names of its projects and locations that no other tenant shares) anywhere in what the
session received, table and chart cells included.

    .venv/bin/python benchmarks/load.py --sessions 50 --tenants 50 --ramp 60     # within a minute (default)
    .venv/bin/python benchmarks/load.py --sessions 50 --tenants 50 --ramp 30
    .venv/bin/python benchmarks/load.py --sessions 50 --tenants 50 --ramp 0      # all at once

Target (issue 12): 50 sessions, zero errors, zero cross-tenant rows, p95 under 3 s. Writes
benchmarks/results/load_<sessions>.json. tests/e2e/test_load.py runs a bounded version.
"""
from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))      # this checkout's pipelines, dashboards and benchmarks

from benchmarks.streamlit_client import Session, VisitFailed  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
PASSWORD = "load-test-password-1"
TARGET_P95_S = 3.0


@dataclass
class Expected:
    """What a tenant's manager must see, from the tenant's own serving file."""
    tenant: str
    consumption_value: float
    movements: int
    stock_value: float
    names: set[str]                 # the tenant's id, name, project and location names
    currency: str = "EUR"

    def shown(self, code: str) -> dict[str, str]:
        """The pages' titles and headline figures as a reader of language `code` sees them
        (the app's own formats: dashboards.i18n)."""
        from dashboards.i18n import Lang

        lang = Lang(code, self.currency)
        return {"Consumption": lang._("Consumption"), "Stock": lang._("Stock"),
                lang._("Consumption value"): lang.money(self.consumption_value),
                lang._("Movements"): lang.integer(self.movements),
                lang._("Stock value"): lang.money(self.stock_value)}


@dataclass
class Visit:
    tenant: str
    email: str
    ok: bool = False
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)       # page -> time to rendered
    foreign: list[str] = field(default_factory=list)              # other tenants' names received
    own_names: int = 0                                            # its own tenant's names received
    language: str | None = None                                   # the language the app spoke to it


def expectations(tenants: list[str]) -> dict[str, Expected]:
    """Per tenant, its figures on the pages' defaults and its names, read from its serving file
    directly (not through the dashboards' data layer, which is what is being checked)."""
    from pipelines.serving import files as serving

    out = {}
    for tenant in tenants:
        con = serving.open_tenant(tenant)
        try:
            def one(sql: str, params: list | None = None):
                return con.execute(sql, params or []).fetchone()

            first, last = one("SELECT min(usage_date), max(usage_date) FROM marts.fct_material_usage_daily")
            start = max(first, last - timedelta(days=29))
            value, moves = one("SELECT coalesce(sum(consumed_value), 0), coalesce(sum(movement_count), 0) "
                               "FROM marts.fct_material_usage_daily WHERE usage_date BETWEEN ? AND ?", [start, last])
            stock, = one("SELECT coalesce(sum(value_on_hand), 0) FROM marts.rpt_stock_on_hand")
            country, = one("SELECT any_value(country_code) FROM marts.dim_tenants")
            names = {tenant, *(n for (n,) in con.execute(
                "SELECT tenant_name FROM marts.dim_tenants UNION SELECT project_name FROM marts.dim_projects "
                "UNION SELECT location_name FROM marts.dim_locations").fetchall() if n)}
        finally:
            con.close()
        from dashboards.i18n import currency_for

        out[tenant] = Expected(tenant, float(value), int(moves), float(stock), names, currency_for(country))
    return out


def foreign_names(expected: dict[str, Expected]) -> dict[str, set[str]]:
    """Per tenant, the names of other tenants that it does not share (a shared name proves nothing)."""
    return {t: {n for o, e in expected.items() if o != t for n in e.names if n not in expected[t].names}
            for t in expected}


def _check(page, title: str) -> None:
    if page.errors:
        raise VisitFailed(f"{title}: error shown: {page.errors[0][:120]}")
    if page.title != title:
        raise VisitFailed(f"expected the {title} page, got {page.title!r}")


def _language(title: str, expected: Expected) -> str:
    """The language the app chose for this manager (its tenant's, by default), from the first
    page's title."""
    from dashboards.i18n import LANGUAGES

    for code in LANGUAGES:
        if expected.shown(code)["Consumption"] == title:
            return code
    raise VisitFailed(f"the first page after the login is {title!r}, not Consumption in any language")


async def visit(url: str, visit: Visit, expected: Expected, foreign: set[str], hold: asyncio.Event,
                timeout: float) -> Visit:
    """One manager: open the app, log in (Consumption renders), open Stock; then stay connected
    until `hold` is set (every session is open at the peak)."""
    try:
        async with Session(url, timeout=timeout) as s:
            await s.open()
            consumption = await s.login(visit.email, PASSWORD)
            visit.language = _language(consumption.title, expected)
            shown = expected.shown(visit.language)
            _check(consumption, shown["Consumption"])
            stock = await s.goto(shown["Stock"])
            _check(stock, shown["Stock"])
            visit.seconds = {"Consumption": consumption.seconds, "Stock": stock.seconds}
            seen = consumption.strings | stock.strings
            visit.foreign = sorted(n for n in foreign if n in seen)
            visit.own_names = len(expected.names & seen)
            got = {**consumption.metrics, **stock.metrics}
            wrong = {label: (got.get(label), want) for label, want in shown.items()
                     if label not in ("Consumption", "Stock") and got.get(label) != want}
            if wrong:
                raise VisitFailed(f"figures not the tenant's own (shown, expected): {wrong}")
            visit.ok = not visit.foreign
            await hold.wait()
    except (VisitFailed, KeyError, OSError, asyncio.TimeoutError, Exception) as exc:   # noqa: BLE001 - counted
        visit.error = f"{type(exc).__name__}: {exc}"[:300]
    return visit


async def crowd(url: str, visits: list[Visit], expected: dict[str, Expected], ramp: float,
                timeout: float = 120.0) -> list[Visit]:
    """Every visit, arriving evenly over `ramp` seconds, all held open until the last is done."""
    foreign = foreign_names(expected)
    hold = asyncio.Event()

    async def later(i: int, v: Visit) -> Visit:
        await asyncio.sleep(ramp * i / max(1, len(visits) - 1) if len(visits) > 1 else 0)
        return await visit(url, v, expected[v.tenant], foreign[v.tenant], hold, timeout)

    tasks = [asyncio.create_task(later(i, v)) for i, v in enumerate(visits)]
    while not all(v.seconds or v.error for v in visits):
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    hold.set()
    return list(await asyncio.gather(*tasks))


def summary(visits: list[Visit]) -> dict:
    times = sorted(s for v in visits for s in v.seconds.values())
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))] if times else None
    return {
        "sessions": len(visits),
        "completed": sum(1 for v in visits if v.ok),
        "errors": sum(1 for v in visits if v.error),
        "cross_tenant": sum(1 for v in visits if v.foreign),
        "pages_timed": len(times),
        "median_s": round(statistics.median(times), 3) if times else None,
        "p95_s": round(p95, 3) if p95 is not None else None,
        "max_s": round(times[-1], 3) if times else None,
        "languages": dict(sorted(Counter(v.language for v in visits if v.language).items())),
        "error_samples": sorted({v.error for v in visits if v.error})[:5],
    }


# -- the server -----------------------------------------------------------------------------------

def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def dashboards_server(home: Path, log_path: Path, port: int, start_timeout: float = 90.0):
    """The dashboards as `mira serve` starts them, on 127.0.0.1:port, reading `home`; stopped
    (SIGTERM, then SIGKILL) with their process group."""
    from pipelines.cli.serve import streamlit_command

    cmd = [*streamlit_command(port), "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    env = {**os.environ, "MIRA_HOME": str(home), "MIRA_LANDING": str(home / "landing"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + start_timeout
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboards did not start on {url}:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def managers(tenants: list[str], per_tenant: int) -> list[tuple[str, str]]:
    """(tenant, email) of `per_tenant` manager accounts per tenant (created unless they exist)."""
    from pipelines.accounts import users as accounts

    out = []
    for tenant in tenants:
        for i in range(per_tenant):
            email = f"manager{i}.{tenant}@example.com"
            try:
                accounts.add_user(email, "manager", tenant, password=PASSWORD)
            except accounts.AccountError as exc:      # a kept home (--home) has them from last time
                if "already exists" not in str(exc):
                    raise
            out.append((tenant, email))
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def interleaved(accounts: list[tuple[str, str]], sessions: int) -> list[Visit]:
    """`sessions` visits, tenant after tenant (round robin), so sessions of different tenants
    arrive side by side; accounts as `managers` made them (grouped by tenant)."""
    tenants = sorted({t for t, _ in accounts}, key=[t for t, _ in accounts].index)
    by_tenant = {t: [e for o, e in accounts if o == t] for t in tenants}
    return [Visit(tenants[i % len(tenants)], by_tenant[tenants[i % len(tenants)]][i // len(tenants)])
            for i in range(sessions)]


def machine() -> dict:
    import psutil

    return {"machine": platform.machine(), "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30),
            "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--ramp", type=float, default=60.0, help="Seconds over which the sessions arrive (0: at once).")
    ap.add_argument("--home", type=Path, help="A built home to reuse (kept); default: generate one in a temp folder.")
    ap.add_argument("--keep", type=Path, help="Build the home here and keep it (for --home next time).")
    args = ap.parse_args()
    os.environ.setdefault("MIRA_MASTER_KEY", "load-benchmark-master-key-" + "0" * 40)
    work = Path(tempfile.mkdtemp(prefix="mira-load-"))
    home = args.home or args.keep or work / "home"
    os.environ.update({"MIRA_HOME": str(home), "MIRA_LANDING": str(home / "landing")})
    try:
        if not args.home:
            from pipelines.generate import generate

            generate(home / "landing", tenants=args.tenants, days=args.days, seed=12, movements_per_day=15,
                     end_date=date.today() - timedelta(days=1))
            t0 = time.monotonic()
            subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL)
            print(f"built {args.tenants} tenants in {time.monotonic() - t0:.0f} s")
        from pipelines.serving import files as serving

        tenants = sorted(p.stem for p in (home / "serving" / serving.TENANTS_DIR).glob("*.duckdb"))
        expected = expectations(tenants)
        per_tenant = -(-args.sessions // len(tenants))
        accounts = managers(tenants, per_tenant)
        visits = interleaved(accounts, args.sessions)
        with dashboards_server(home, work / "streamlit.log", free_port()) as url:
            load_before = os.getloadavg()
            t0 = time.monotonic()
            asyncio.run(crowd(url, visits, expected, args.ramp))
            elapsed = time.monotonic() - t0
            load_after = os.getloadavg()
        result = {**summary(visits), "ramp_s": args.ramp, "tenants": len(tenants), "elapsed_s": round(elapsed, 1),
                  "load_average_before": [round(x, 2) for x in load_before],
                  "load_average_after": [round(x, 2) for x in load_after], **machine()}
        print(json.dumps(result, indent=1))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"load_{args.sessions}.json").write_text(json.dumps({**result, "visits": [asdict(v) for v in visits]},
                                                                         indent=1, default=str))
        ok = result["errors"] == 0 and result["cross_tenant"] == 0 and result["completed"] == args.sessions
        print(f"{'MET' if ok and result['p95_s'] < TARGET_P95_S else 'NOT MET'}: {result['completed']}/{args.sessions} "
              f"sessions, {result['errors']} errors, {result['cross_tenant']} cross-tenant, "
              f"p95 {result['p95_s']} s (target {TARGET_P95_S} s)")
    finally:
        if not args.home:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
