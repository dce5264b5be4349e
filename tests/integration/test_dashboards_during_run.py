"""The dashboards keep answering while `mira run` rebuilds the warehouse.

DuckDB lets one process write a file or many read it, never both, so the dashboards read only
the published serving files, which the pipeline replaces atomically. Here a real `mira run`
(another process: ingestion of a new day, dbt, publish) runs while this process keeps calling the
dashboards' data functions for every page, as a manager of two tenants, as an analyst and as
ops, and logs a manager in. Every call must answer with data (no lock error, no "being
replaced"), each answer must be the old snapshot's or the new one's (never a mix), and once the
run is done the same process sees the new day without a restart. Meanwhile an analyst's `mira sql`
answers, and a second `mira run` on the same home stops at once with one line naming the first
(pipelines.recovery.build_lock), touching nothing.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import published_copy

REPO = Path(__file__).resolve().parents[2]
MIN_CALLS_DURING_RUN = 40
RUN_TIMEOUT_S = 480
PAUSE_S = 0.25               # between rounds: the run shares the machine's two cores with us
PASSWORD = "during-run-password"


def add_new_day(source_landing: Path, landing: Path, tenant: str) -> date:
    """A movements file for the day after the tenant's last one: the last three days' valid rows
    again, with new ids, moved to that day. Returns the new day."""
    rows, header = [], None
    for f in sorted((source_landing / tenant / "movements").glob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            rows.extend(reader)
    days = sorted({r["occurred_at"][:10] for r in rows if len(r["occurred_at"]) >= 10 and r["occurred_at"][:4].isdigit()})
    last = date.fromisoformat(days[-1])
    new_day = last + timedelta(days=1)
    recent = {d for d in days[-3:]}
    out = landing / tenant / "movements" / f"movements_{new_day}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for r in rows:
            if r["occurred_at"][:10] in recent and r["movement_id"] and r["tenant_id"] == tenant:
                w.writerow({**r, "movement_id": f"{r['movement_id']}-n",
                            "occurred_at": new_day.isoformat() + r["occurred_at"][10:]})
    return new_day


@pytest.fixture
def run_home(transform, e2e, tmp_path, monkeypatch):
    """A copy of the built e2e home, published, with a new day of movements waiting in landing.
    (`transform`: the dbt manifest that `mira run` loads is prepared first, as `make test` does.)"""
    home = tmp_path / "mira"
    tenants = published_copy(e2e[0], home, monkeypatch)
    new_day = add_new_day(e2e[0] / "landing", home / "landing", tenants[0])
    return home, tenants[0], tenants[1], new_day


def page_calls(tenant: str, start: date, end: date) -> dict[str, callable]:
    """What each page asks dashboards/data/ for on its first render (dashboards/views/*)."""
    from dashboards.data import consumption, insights, operations, stock, tools

    calls = {}
    for src in ("tenant", "analyst"):
        t = tenant
        calls.update({
            f"{src}:consumption.usage_bounds": lambda t=t, s=src: consumption.usage_bounds(t, s),
            f"{src}:consumption.totals": lambda t=t, s=src: consumption.consumption_totals(t, start, end, s),
            f"{src}:consumption.series": lambda t=t, s=src: consumption.consumption_series(t, start, end, "day", s),
            f"{src}:consumption.by_category": lambda t=t, s=src: consumption.consumption_breakdown(t, start, end, "category", source=s),
            f"{src}:consumption.top_consumers": lambda t=t, s=src: consumption.top_consumers(t, start, end, 10, s),
            f"{src}:stock.by_location": lambda t=t, s=src: stock.stock_by_location(t, s),
            f"{src}:stock.reorder": lambda t=t, s=src: stock.reorder_suggestions(t, s),
            f"{src}:stock.days_of_cover": lambda t=t, s=src: stock.days_of_cover(t, None, s),
            f"{src}:stock.ageing": lambda t=t, s=src: stock.stock_ageing(t, s),
            f"{src}:tools.custody": lambda t=t, s=src: tools.tool_custody(t, s),
            f"{src}:tools.utilisation": lambda t=t, s=src: tools.tool_utilisation(t, s),
            f"{src}:insights.abc_xyz": lambda t=t, s=src: insights.abc_xyz_matrix(t, s),
        })
    calls["ops:freshness"] = operations.ops_freshness
    calls["ops:quarantine"] = operations.ops_quarantine
    return calls


def fingerprint(df: pd.DataFrame) -> tuple:
    """Rows and the rounded sum of each numeric column: equal for two answers from one snapshot,
    whatever the row order or the float summation order."""
    sums = tuple(round(float(df[c].sum()), 4) for c in df.columns
                 if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]))
    return len(df), tuple(df.columns), sums


def test_dashboards_answer_while_mira_run_rebuilds(run_home):
    from dashboards.data import consumption
    from pipelines.accounts import users as accounts

    home, tenant_a, tenant_b, new_day = run_home
    accounts.add_user("during.run@example.com", "manager", tenant_a, password=PASSWORD)
    period: dict[str, tuple[date, date]] = {}
    calls: dict[str, callable] = {}
    for tenant in (tenant_a, tenant_b):
        start, end = consumption.default_period(tenant)
        period[tenant] = (start, end)
        calls.update({f"{tenant}/{name}": fn for name, fn in page_calls(tenant, start, end).items()})
    before = {name: fn() for name, fn in calls.items()}
    expect_rows = {name for name, df in before.items() if len(df)}
    assert len(expect_rows) >= len(calls) - 4, f"the e2e home should give most calls rows: {sorted(set(calls) - expect_rows)}"
    assert before[f"{tenant_a}/tenant:consumption.usage_bounds"].iloc[0]["last_date"] < pd.Timestamp(new_day)

    log = home / "mira-run-output.txt"
    answers: list[tuple[str, float, tuple]] = []
    failures: list[str] = []
    logins = 0
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run"], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    t0 = time.monotonic()
    beside: dict[str, subprocess.Popen] = {}
    try:
        while proc.poll() is None:
            if time.monotonic() - t0 > RUN_TIMEOUT_S:
                pytest.fail(f"mira run took more than {RUN_TIMEOUT_S} s")
            if not beside and answers:        # the run is under way: a second run, and an analyst's query
                beside = {name: subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO,
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                 stdin=subprocess.DEVNULL)
                          for name, args in (("second run", ["run"]),
                                             ("sql", ["sql", "SELECT count(*) AS n FROM marts.dim_tenants"]))}
            for name, fn in calls.items():
                if proc.poll() is not None:
                    break
                try:
                    df = fn()
                except Exception as exc:          # a lock error, "being replaced", anything
                    failures.append(f"{name}: {type(exc).__name__}: {exc}")
                    continue
                if name in expect_rows and df.empty:
                    failures.append(f"{name}: no rows")
                answers.append((name, time.monotonic(), fingerprint(df)))
            if proc.poll() is None:
                account = accounts.authenticate("during.run@example.com", PASSWORD, client="during-run-test")
                assert account.tenant_id == tenant_a
                logins += 1
            time.sleep(PAUSE_S)
    finally:
        for p in (proc, *beside.values()):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
    elapsed = time.monotonic() - t0
    output = log.read_text(errors="replace")
    assert proc.returncode == 0, f"mira run failed:\n{output[-3000:]}"
    # Two runs at once on one home: the second stops at once, in one line, naming the first.
    second_out, second_err = beside["second run"].communicate(timeout=60)
    assert beside["second run"].returncode == 1, second_out + second_err
    assert second_err.strip().splitlines() == [second_err.strip()], second_err
    assert second_err.startswith(f"error: another mira run (pid {proc.pid}, started "), second_err
    assert "recovered" not in output, "the first run took something for a dead run's claims"
    # `mira sql` answered from the analyst snapshot while the run was writing the warehouse.
    sql_out, sql_err = beside["sql"].communicate(timeout=60)
    assert beside["sql"].returncode == 0 and sql_out.splitlines()[0] == "n" and int(sql_out.splitlines()[1]) >= 2, \
        sql_out + sql_err
    assert not failures, f"{len(failures)} of {len(answers) + len(failures)} calls failed during the run: {failures[:10]}"
    assert len(answers) >= MIN_CALLS_DURING_RUN, \
        f"only {len(answers)} calls in {elapsed:.0f} s of run: the run was too quick to show anything"
    per_call = Counter(name for name, _, _ in answers)
    assert set(per_call) == set(calls), f"never called during the run: {sorted(set(calls) - set(per_call))}"

    # Once the run is done, the same process (same pooled connections) sees the new snapshot.
    after = {name: fn() for name, fn in calls.items()}
    last = after[f"{tenant_a}/tenant:consumption.usage_bounds"].iloc[0]["last_date"]
    assert pd.Timestamp(last).date() == new_day, "the dashboards still answer from the old snapshot"
    # Every answer during the run was the old snapshot's or the new one's, never something between.
    # (Operations counts change with each run record, so they only have to answer.)
    old = {name: fingerprint(df) for name, df in before.items()}
    new = {name: fingerprint(df) for name, df in after.items()}
    mixed = [name for name, _, fp in answers if "/ops:" not in name and fp not in (old[name], new[name])]
    assert not mixed, f"answers from neither snapshot: {sorted(set(mixed))}"
    saw_new = sum(1 for name, _, fp in answers if fp == new[name] != old[name])
    print(f"\n{len(answers)} calls and {logins} logins answered during a {elapsed:.0f} s run "
          f"({len(answers) / elapsed:.1f} calls/s); {saw_new} answers already from the new snapshot")
