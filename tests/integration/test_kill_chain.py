"""kill -9 of `mira run` at seeded moments of ingestion, the dbt build and publishing loses and
doubles nothing, and the next run gets going by itself.

A reference home (tests.homes.build_reference) ingests generated landing files in two complete
runs: the first days, then the rest. Two copies of it as it was after the first run each go through a chain of real `mira run`
processes (the two chains side by side, one per core): each run is killed (SIGKILL) at a seeded
moment of one phase, chosen from that phase's steps' times as measured on the reference's first run, with
new files landing before most of them; then a run that completes. Each kill leaves claims behind
(the run STARTED, the warehouse pool's slot held, temporary files). After each one the warehouse
is checked (every file loaded whole or not at all, rows read = loaded + quarantined) and the
dashboards' data layer must answer; the next run must recover the claims, one line saying so,
which is checked as soon as its first step starts. Once, the daemon's `dead_run_recovery` sensor
recovers instead of a run. At the end each copy must equal the reference: every raw table, the
quarantine, the file manifest, every mart and every serving file, by counts and checksums (run
ids and load and build times aside).

MIRA_KILL_SEED chooses other moments; the kill points survived are printed.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.homes import (
    FIRST_DAYS, PHASES, RUN_TIMEOUT_S, Reference, complete, dashboards_answer, files_whole, fingerprint, instance,
    phase_of, pointed, release, run_of, start_run, steps, wait_until,
)

SEED = int(os.environ.get("MIRA_KILL_SEED", "1206"))
KILLS = {"ingest": 9, "dbt": 7, "publish": 4}      # kill points per phase: 20 in all, over two chains
DAYS_PER_INGEST_KILL = 2                            # a run killed in ingestion has this many new days


# Publishing is four short steps (Great Expectations runs between the tenants' files and the
# analyst's, and is not publishing): its kill points go to the two that write serving files.
PUBLISH_STEPS = ("serving__tenants", "serving__analyst")


def kill_plans(rng: random.Random, measured: dict[str, float], chains: int = 2) -> list[list[tuple[str, str, float]]]:
    """Per chain, its (phase, step, seconds after the step starts), in a seeded order. A phase's
    moments are spread over its steps' measured time, one per equal slice, at a random place in the
    slice (publishing: in the first three quarters, the steps are short and a kill takes a moment
    to land), and dealt to the chains in turn, so that each chain gets its share of every phase
    (and of the dear ones: a kill in publishing waits for a whole dbt build)."""
    plans: list[list[tuple[str, str, float]]] = [[] for _ in range(chains)]
    dealt = 0
    for phase, n in KILLS.items():
        targets = PUBLISH_STEPS if phase == "publish" else PHASES[phase]
        for i in range(n):
            step = targets[(i // chains) % len(targets)]       # each chain gets every step in turn
            k, of = sum(1 for j in range(i) if targets[(j // chains) % len(targets)] == step), -(-n // len(targets))
            width = 0.75 if phase == "publish" else 1.0
            plans[dealt % chains].append((phase, step, round(measured[step] * width * (k + rng.uniform(0.05, 0.95)) / of, 3)))
            dealt += 1
    for plan in plans:
        rng.shuffle(plan)
    return plans


def _claims(inst, run_id: str | None = None) -> list:
    storage = inst.event_log_storage
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    return [s for info in infos.values() for s in [*info.claimed_slots, *info.pending_steps]
            if run_id is None or s.run_id == run_id]


def _sensor_recovers(home: Path) -> str:
    """The daemon's check, evaluated as the daemon evaluates it: it recovers with no new run."""
    from dagster import build_sensor_context

    from pipelines.definitions import defs

    sensor = defs.get_sensor_def("dead_run_recovery")
    with pointed(home), instance(home) as inst:
        return sensor(build_sensor_context(instance=inst)).skip_message


@dataclass
class Chain:
    name: str
    home: Path
    plan: list[tuple[str, str, float]]
    pending: list[str]
    sensor_at: int | None = None                    # the kill after which the sensor recovers
    survived: list[tuple[str, str, float]] = field(default_factory=list)   # (step aimed at, step died in, delay)


def _run_chain(chain: Chain, ref: Reference, tenant: str) -> None:
    from dagster import DagsterRunStatus
    from pipelines import recovery
    from pipelines.settings import get_settings

    home, dead, began = chain.home, None, time.monotonic()    # dead: (run id, temporary files it left, unfinished)
    for no, (phase, target, delay) in enumerate(chain.plan, 1):
        finished = dead is not None and not dead[2]     # the last run got to its end: it may have recorded it
        if phase == "ingest" or no % 3 == 1 or finished:   # the first run of a chain has new files too
            days = [d for d in ref.drops[1:] if set(d) <= set(chain.pending)][:DAYS_PER_INGEST_KILL]
            for drop in days:
                release(ref.source, drop, home / "landing")
                chain.pending = [rel for rel in chain.pending if rel not in drop]
            if not days:                   # nothing left to land: a file touched is news enough to build
                os.utime(next((home / "landing").rglob("*.csv")))
        log = home.parent / f"{chain.name}-run-{no}.log"
        proc = start_run(home, log)
        try:
            with instance(home) as inst:
                run = wait_until(lambda: run_of(inst, proc.pid) or proc.poll() is not None, 120,
                                 f"{chain.name} run {no} to start")
                assert run is not True, f"{chain.name} run {no} ended before its run began:\n{log.read_text()[-2000:]}"
                wait_until(lambda: target in steps(inst, run.run_id)[0] or proc.poll() is not None,
                           RUN_TIMEOUT_S, f"{chain.name} run {no} to reach {target}", poll=0.01)
                if dead and dead[2]:           # recovered before the first step could start
                    assert inst.get_run_by_id(dead[0]).status == DagsterRunStatus.FAILURE, \
                        f"{chain.name} run {no} did not mark the dead run failed:\n{log.read_text()[-2000:]}"
                    assert not _claims(inst, dead[0]), "the dead run still holds a pool slot"
                if dead:
                    assert not [p for p in dead[1] if p.exists()], "the dead run's temporary files are still there"
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                output = log.read_text(errors="replace")
                assert proc.returncode == -signal.SIGKILL, \
                    f"{chain.name} run {no} ended before its kill point ({target} +{delay} s):\n{output[-2000:]}"
                started, ended = steps(inst, run.run_id)
                status = inst.get_run_by_id(run.run_id).status
                # STARTED, unless the kill came after the run's last step (it then recorded its end)
                assert status == DagsterRunStatus.STARTED or (status == DagsterRunStatus.SUCCESS and
                                                              set(started) <= ended), status
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if dead and dead[2]:
            assert f"recovered dead run {dead[0][:8]}" in output or no - 1 == chain.sensor_at, output[-2000:]
        running = [s for s in started if s not in ended]
        # the step it died in; between two steps, the one it had just finished (its phase counts)
        where = running[-1] if running else (started[-1] if started else "-")
        chain.survived.append((target, where if running or status != DagsterRunStatus.STARTED else
                               f"{where} (just ended)", delay))
        print(f"{chain.name} kill {no}/{len(chain.plan)} at {time.monotonic() - began:.0f} s: {target} +{delay:.2f} s, "
              f"died in {chain.survived[-1][1]}", flush=True)
        with pointed(home):
            dead = (run.run_id, recovery.temp_files(get_settings()), status == DagsterRunStatus.STARTED)
            assert files_whole(home) == [], f"{chain.name}, after kill {no}: a file is not loaded whole or not at all"
        dashboards_answer(home, tenant)
        if no == chain.sensor_at and dead[2]:   # this time the daemon's check recovers, not the next run
            said = _sensor_recovers(home)
            assert f"recovered dead run {dead[0][:8]}" in said, said
            with instance(home) as inst:
                assert inst.get_run_by_id(dead[0]).status == DagsterRunStatus.FAILURE
                assert not _claims(inst, dead[0])

    release(ref.source, chain.pending, home / "landing")
    said = complete(home)
    assert not dead[2] or f"recovered dead run {dead[0][:8]}" in said, said


def test_kill_9_at_seeded_moments_loses_and_doubles_nothing(crash_reference, tmp_path):
    reference = crash_reference
    from pipelines import recovery
    from pipelines.settings import get_settings

    plans = kill_plans(random.Random(SEED), reference.measured)
    pending = [rel for drop in reference.drops[1 + FIRST_DAYS:] for rel in drop]
    chains = []
    for i in range(2):
        home = tmp_path / f"chain-{i + 1}" / "mira"
        shutil.copytree(reference.start, home)
        chains.append(Chain(f"chain-{i + 1}", home, plans[i], list(pending), sensor_at=3 if i == 0 else None))
    tenant = sorted(p.stem for p in (reference.start / "serving" / "tenants").glob("*.duckdb"))[0]
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(chains)) as pool:           # one chain per core
        for future in [pool.submit(_run_chain, c, reference, tenant) for c in chains]:
            future.result()
    elapsed = time.monotonic() - t0

    for chain in chains:
        with pointed(chain.home), instance(chain.home) as inst:
            assert not inst.get_runs(filters=_active()), f"{chain.name}: a run is still marked as running"
            assert not _claims(inst), f"{chain.name}: a pool slot is still claimed"
            assert recovery.temp_files(get_settings()) == [], f"{chain.name}: temporary files are left"
            assert files_whole(chain.home) == []
            ours = fingerprint(chain.home)
        dashboards_answer(chain.home, tenant)
        differ = sorted(k for k in set(ours) | set(reference.fingerprint) if ours.get(k) != reference.fingerprint.get(k))
        assert not differ, f"{chain.name} differs from the reference after its kills: {differ[:10]}"
    assert len(reference.fingerprint) > 40, "the fingerprint covers raw, quarantine, audit, marts and serving files"

    survived = [s for c in chains for s in c.survived]
    by_phase = {p: sum(1 for _, step, _ in survived if phase_of(step.split(" ")[0]) == p) for p in PHASES}
    print(f"\nseed {SEED}: {len(survived)} kill points survived in {elapsed:.0f} s by two chains side by side "
          f"(steps measured: {reference.measured}); died in: {by_phase}")
    for chain in chains:
        print(f"  {chain.name}: " + "; ".join(f"{p} +{d:.2f} s -> {s}" for p, s, d in chain.survived))
    assert len(survived) >= 20
    assert all(n >= 3 for n in by_phase.values()), f"the kill points should spread over every phase: {by_phase}"


def _active():
    from dagster import RunsFilter
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    return RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES))
